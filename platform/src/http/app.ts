import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { newId, ProblemError } from '@tasksync/contracts';
import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { corsFor } from './cors';
import { notFoundHandler, problemHandler } from './problem';
import './request';

/** A request id TaskSync keeps when a client sends one; any other is replaced by a new id. */
export const REQUEST_ID = /^[\w.:@-]{1,128}$/;
export const BODY_LIMIT = '100kb';
const OPERATIONAL_PATHS = new Set(['/health', '/ready', '/metrics']);
/** `application/json`, optionally with parameters such as `; charset=utf-8`. */
const JSON_MEDIA_TYPE = /^application\/json\s*(?:;|$)/i;

export interface ServiceMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  counter(name: string, help: string, labelNames?: string[]): Counter<string>;
}

export const createMetrics = (service: string): ServiceMetrics => {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return {
    registry,
    httpDuration,
    counter: (name, help, labelNames = []) =>
      new Counter({ name, help, labelNames, registers: [registry] }),
  };
};

/**
 * The middleware every TaskSync HTTP service starts with: request id, access
 * log and metrics, CORS for the `frontendOrigins` (FRONTEND_URL), JSON-only
 * bodies up to 100 kB. A service that takes no
 * bodies (`bodies: false`, the query-service: GET only) skips the body parser,
 * which otherwise runs for every request.
 */
export const createBaseApp = (options: {
  logger: Logger;
  metrics: ServiceMetrics;
  bodies?: boolean;
  frontendOrigins?: readonly string[] | undefined;
}): Express => {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  // req.log is made on first use from the app's request prototype: always a child
  // carrying the request id, yet no cost for the requests that never log.
  Object.defineProperty(app.request, 'log', {
    configurable: true,
    get(this: Express['request'] & { childLogger?: Logger }) {
      this.childLogger ??= options.logger.child({ reqId: this.id });
      return this.childLogger;
    },
  });
  app.use(requestContext(options.logger, options.metrics));
  const cors = corsFor(options.frontendOrigins ?? []);
  if (cors) app.use(cors);
  if (options.bodies === false) return app;
  app.use(jsonOnly);
  // jsonOnly has already refused other media types, so the parser need not check again.
  app.use(express.json({ limit: BODY_LIMIT, strict: true, type: () => true }));
  return app;
};

/** Adds the 404 fallback and the problem+json error handler; call after the routes. */
export const finishApp = (app: Express) => {
  app.use(notFoundHandler);
  app.use(problemHandler);
  return app;
};

/**
 * What every request to a TaskSync process gets, through express or not (the
 * front door forwards most requests without it): its id (the client's when it
 * is a valid one, else a new one) in `X-Request-Id`, and once answered the
 * duration metric and the access log line, under the route `routeOf` names
 * then. Answers the id.
 */
export const requestTracker = (logger: Logger, metrics: ServiceMetrics) => {
  const accessLogged = logger.isLevelEnabled('info');
  return (req: IncomingMessage, res: ServerResponse, routeOf: () => string): string => {
    const started = process.hrtime.bigint();
    const url = (req.url ?? '/').split('?', 1)[0]!;
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : newId();
    res.setHeader('X-Request-Id', id);
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const method = req.method ?? 'GET';
      metrics.httpDuration.observe(
        { method, route: routeOf(), status: String(res.statusCode) },
        seconds,
      );
      if (!accessLogged) return;
      // Probes come every few seconds; they would drown the access log.
      const level = OPERATIONAL_PATHS.has(url) ? 'debug' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        { reqId: id, method, url, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10 },
        'request',
      );
    });
    return id;
  };
};

/**
 * The route a request is measured under: the express route it matched, one a
 * middleware named in `res.locals.route` (the door's table), or `unmatched`.
 */
const expressRoute = (req: Express['request'], res: Express['response']) => (): string =>
  (res.locals.route as string | undefined) ??
  (req.route ? `${req.baseUrl}${req.route.path}`.replace(/(.)\/$/, '$1') : 'unmatched');

const requestContext = (logger: Logger, metrics: ServiceMetrics): RequestHandler => {
  const track = requestTracker(logger, metrics);
  return (req, res, next) => {
    req.id = track(req, res, expressRoute(req, res));
    next();
  };
};

/** Bodies must be JSON (design §3); anything else is 415 before it is read. */
const jsonOnly: RequestHandler = (req, _res, next) => {
  const hasBody =
    req.headers['transfer-encoding'] !== undefined ||
    Number(req.headers['content-length'] ?? 0) > 0;
  if (hasBody && !JSON_MEDIA_TYPE.test(req.headers['content-type'] ?? '')) {
    return next(
      new ProblemError(
        415,
        'unsupported-media-type',
        'Unsupported media type',
        'Send the body as application/json.',
      ),
    );
  }
  next();
};

/** `/health`, `/ready`, `/metrics` and `/openapi.json` (design §3). */
export const operationalRoutes = (options: {
  metrics: ServiceMetrics;
  ready: () => Promise<Record<string, boolean>>;
  openapi?: () => unknown;
}) => {
  const router = express.Router();
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/ready', async (_req, res) => {
    const checks = await options.ready().catch(() => ({ ready: false }));
    const ready = Object.values(checks).every(Boolean);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', checks });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics());
  });
  if (options.openapi) {
    const document = options.openapi();
    router.get('/openapi.json', (_req, res) => {
      res.json(document);
    });
  }
  return router;
};

/**
 * Graceful shutdown on SIGTERM/SIGINT: stop accepting, let in-flight requests
 * finish (bounded), then release resources and exit.
 */
export const shutdownOnSignals = (options: {
  server: Server;
  logger: Logger;
  close: () => Promise<void>;
  /** Ends long-lived connections (Socket.IO) that would otherwise hold the close open. */
  drain?: () => Promise<void>;
  timeoutMs?: number;
}) => {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    options.logger.info({ signal }, 'shutting down');
    const force = setTimeout(
      () => options.server.closeAllConnections(),
      options.timeoutMs ?? 10_000,
    );
    force.unref();
    await options.drain?.().catch((error) => options.logger.warn({ err: error }, 'drain failed'));
    await new Promise<void>((resolve) => {
      options.server.close(() => resolve());
      options.server.closeIdleConnections();
    });
    clearTimeout(force);
    try {
      await options.close();
    } catch (error) {
      options.logger.error({ err: error }, 'error while closing');
    }
    options.logger.info('stopped');
    options.logger.flush?.();
    process.exit(0);
  };
  // A repeated signal while stopping must not kill the process mid-drain.
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
};
