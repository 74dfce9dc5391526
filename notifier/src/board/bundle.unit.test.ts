import { isBuiltin } from 'node:module';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { repoRoot } from '@tasksync/platform';
import { build, type Plugin } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { browserBundle, bundleBoard } from './bundle';

const CONTRACTS = fileURLToPath(new URL('../../../contracts/src/index.ts', import.meta.url));

/**
 * Packages known to run in browsers. A new dependency of the contracts or of the
 * typed client fails the test until someone has checked that and added it here.
 */
const BROWSER_PACKAGES = ['openapi-fetch', 'uuid', 'zod'];

/** What a browser offers besides the language itself; no process, Buffer, require or global. */
const browserGlobals = () => ({
  console,
  crypto: globalThis.crypto,
  TextEncoder,
  TextDecoder,
  URL,
  URLSearchParams,
  setTimeout,
  clearTimeout,
});

const packageOf = (input: string) => {
  const [scopeOrName, name] = input.split('node_modules/').at(-1)!.split('/');
  return scopeOrName!.startsWith('@') ? `${scopeOrName}/${name}` : scopeOrName!;
};

/**
 * Bundles `entry` for the browser as the board is bundled, and lists what would
 * not run there: imports of Node built-ins (with their importer; a Node-only
 * package shows up this way too), packages not known to run in browsers, and
 * an error loading the bundle where only browser globals exist.
 */
const browserProblems = async (entry: { file: string } | { source: string }) => {
  const problems: string[] = [];
  const nodeBuiltins: Plugin = {
    name: 'node-builtins',
    setup(builder) {
      builder.onResolve({ filter: /.*/ }, ({ path, importer }) => {
        if (!isBuiltin(path)) return undefined;
        problems.push(`Node built-in ${path}, imported by ${relative(repoRoot, importer)}`);
        return { path, external: true };
      });
    },
  };
  const { outputFiles, metafile } = await build({
    ...browserBundle,
    // A script, not a module, so it can be loaded into a bare context below.
    format: 'iife',
    metafile: true,
    plugins: [nodeBuiltins],
    ...('file' in entry
      ? { entryPoints: [entry.file] }
      : { stdin: { contents: entry.source, resolveDir: repoRoot, loader: 'ts' } }),
  });
  const packages = new Set(
    Object.keys(metafile.inputs)
      .filter((input) => input.includes('node_modules/'))
      .map(packageOf),
  );
  for (const name of packages) {
    if (!BROWSER_PACKAGES.includes(name))
      problems.push(`package ${name}, not known to run in browsers`);
  }
  if (problems.length === 0) {
    try {
      runInNewContext(outputFiles[0]!.text, browserGlobals());
    } catch (error) {
      problems.push(`loading fails without Node's globals: ${error}`);
    }
  }
  return problems;
};

describe('browser bundles', () => {
  it('bundles the contracts for the browser without any Node built-in, Node-only package or Node global', async () => {
    expect(await browserProblems({ file: CONTRACTS })).toEqual([]);
  });

  it('bundles the typed client for the browser, and makes a client, without any Node built-in, Node-only package or Node global', async () => {
    // Made, not only loaded: openapi-fetch looks at Node's `process` when a client is created.
    const makeClient =
      "import { createTaskSyncClient } from '@tasksync/client'; createTaskSyncClient('https://tasksync.test', { token: 't' });";
    expect(await browserProblems({ source: makeClient })).toEqual([]);
  });

  it('reports what would not run in a browser: a built-in, a Node-only package, a Node global', async () => {
    expect(await browserProblems({ source: "export { createHash } from 'node:crypto';" })).toEqual([
      'Node built-in node:crypto, imported by <stdin>',
    ]);
    expect(await browserProblems({ source: "export { Redis } from 'ioredis';" })).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Node built-in (node:)?net, imported by node_modules\/ioredis\//),
        'package ioredis, not known to run in browsers',
      ]),
    );
    expect(await browserProblems({ source: 'export const pid = process.pid;' })).toEqual([
      "loading fails without Node's globals: ReferenceError: process is not defined",
    ]);
  });

  it('bundles the board with a source map that names no path of this machine', async () => {
    const assets = await bundleBoard();
    expect([...assets.keys()].sort()).toEqual(['/board.js', '/board.js.map']);
    expect(assets.get('/board.js')!.body.toString()).toMatch(
      /\/\/# sourceMappingURL=board\.js\.map\n$/,
    );
    const { sources } = JSON.parse(assets.get('/board.js.map')!.body.toString()) as {
      sources: string[];
    };
    expect(sources).toContain('../board/main.ts');
    expect(sources.filter((source) => !source.startsWith('../'))).toEqual([]);
    // One package, the typed client's openapi-fetch. The page takes the contracts'
    // folds, move table and positions, never their schemas: zod would multiply the
    // page's size and probes `new Function`, which the board's CSP forbids.
    // contracts is `sideEffects: false` for this.
    expect(
      new Set(sources.filter((source) => source.includes('node_modules/')).map(packageOf)),
    ).toEqual(new Set(['openapi-fetch']));
  });
});
