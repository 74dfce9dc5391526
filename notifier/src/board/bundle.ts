import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Logger } from '@tasksync/platform';
import { type BuildOptions, build } from 'esbuild';
import type { RequestHandler } from 'express';

/** The board's entry module, and where its bundle is served from (the page asks for `/board.js`). */
export const BOARD_ENTRY = fileURLToPath(new URL('../../board/main.ts', import.meta.url));
const PUBLIC_DIR = fileURLToPath(new URL('../../public', import.meta.url));

/** How TaskSync code is bundled for the browser: one ES module, the browser's package entries. */
export const browserBundle = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  logLevel: 'silent',
} satisfies BuildOptions;

interface Asset {
  type: string;
  body: Buffer;
  gzipped: Buffer;
  etag: string;
}

/**
 * Bundles the board (notifier/board/*.ts, what it imports of the contracts, and
 * the typed client with its one npm package, openapi-fetch) in memory:
 * `/board.js` and its source map. Minified. Source paths in the map are relative
 * to the public folder, so it names no path of this machine.
 */
export const bundleBoard = async (): Promise<Map<string, Asset>> => {
  const { outputFiles } = await build({
    ...browserBundle,
    entryPoints: { board: BOARD_ENTRY },
    outdir: PUBLIC_DIR,
    minify: true,
    sourcemap: 'linked',
  });
  return new Map(
    outputFiles.map((file) => {
      const body = Buffer.from(file.contents);
      const asset: Asset = {
        type: file.path.endsWith('.map') ? 'application/json' : 'text/javascript',
        body,
        gzipped: gzipSync(body),
        etag: createHash('sha256').update(body).digest('base64url').slice(0, 27),
      };
      return [`/${basename(file.path)}`, asset];
    }),
  );
};

/**
 * Serves the board's bundle, built from source when the notifier's app is made:
 * never a file on disk, so nothing built can be stale or committed, every way of
 * starting a notifier (npm start, its workspace, a test process, an in-process
 * test app, the Docker image, whose files the service user cannot write) has it,
 * and notifiers side by side never race on one output file. esbuild builds it in
 * its own process in tens of milliseconds; a request that comes earlier waits for
 * it. A build that fails is logged at start-up, and `/board.js` answers 500.
 */
export const serveBoardBundle = (logger: Logger): RequestHandler => {
  const assets = bundleBoard();
  assets.catch((error: unknown) => logger.error({ err: error }, 'the board cannot be bundled'));
  const paths = new Set(['/board.js', '/board.js.map']);
  return async (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !paths.has(req.path)) return next();
    const asset = (await assets).get(req.path);
    if (!asset) return next();
    const gzip = req.acceptsEncodings('gzip', 'identity') === 'gzip';
    res.setHeader('Content-Type', `${asset.type}; charset=utf-8`);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Vary', 'Accept-Encoding');
    res.setHeader('ETag', `"${asset.etag}${gzip ? '-gz' : ''}"`);
    if (req.fresh) return void res.status(304).end();
    if (gzip) res.setHeader('Content-Encoding', 'gzip');
    res.send(gzip ? asset.gzipped : asset.body);
  };
};
