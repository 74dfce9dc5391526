import { fileURLToPath } from 'node:url';
import type { Logger } from '@tasksync/platform';
import {
  createBaseApp,
  finishApp,
  isRedisReady,
  operationalRoutes,
  type RedisClient,
  type ServiceMetrics,
} from '@tasksync/platform';
import express, { type RequestHandler } from 'express';
import { Server } from 'socket.io';
import { serveBoardBundle } from './board/bundle';
import { coalesceWebSocketWrites } from './live/coalesce';
import { originAllowed } from './live/origins';

export const PUBLIC_DIR = fileURLToPath(new URL('../public', import.meta.url));

export interface NotifierAppDeps {
  redis: RedisClient;
  logger: Logger;
  metrics: ServiceMetrics;
  /** FRONTEND_URL: origins whose pages may call this service (CORS, design §12). */
  frontendOrigins?: readonly string[] | undefined;
}

/**
 * The board page may load only what its origin serves, and talk only to it:
 * the front door, which routes its API calls and Socket.IO (design §12). No
 * inline script or style.
 */
const boardHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  );
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
};

/**
 * The notifier's HTTP face: the live board's files (`GET /`; the page runs behind the front door),
 * `/health`, `/ready` and `/metrics`. Socket.IO attaches to the same server.
 */
export const buildNotifierApp = (deps: NotifierAppDeps) => {
  // No body parser: the proxy streams bodies through to the services.
  const app = createBaseApp({ ...deps, bodies: false });
  app.use(
    operationalRoutes({
      metrics: deps.metrics,
      ready: async () => ({ redis: await isRedisReady(deps.redis) }),
    }),
  );
  app.use(
    boardHeaders,
    serveBoardBundle(deps.logger),
    express.static(PUBLIC_DIR, { index: 'index.html', maxAge: 0 }),
  );
  return finishApp(app);
};

/**
 * The Socket.IO server, not yet attached: handshakes only from allowed origins
 * (`FRONTEND_URL`, and the board's own), and small frames, since clients send
 * nothing but the handshake.
 */
export const createSocketServer = (
  frontendOrigins: readonly string[],
  { connectTimeoutMs = 10_000 } = {},
) => {
  coalesceWebSocketWrites();
  const allowed = originAllowed(frontendOrigins);
  return new Server({
    maxHttpBufferSize: 16_384,
    // Authentication happens when a client joins the namespace; a connection
    // that has not joined (no handshake, or a refused one) is closed after
    // this, not after Socket.IO's default 45 s.
    connectTimeout: connectTimeoutMs,
    cors: { origin: frontendOrigins.length ? [...frontendOrigins] : false },
    allowRequest: (req, callback) => callback(null, allowed(req)),
  });
};
