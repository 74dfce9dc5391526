import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ProblemError, problems } from '@tasksync/contracts';
import {
  corsAnswerHeaders,
  createBaseApp,
  finishApp,
  type Logger,
  type RedisClient,
  requestTracker,
  type ServiceMetrics,
  sendProblem,
} from '@tasksync/platform';
import { Router } from 'express';
import { docsRoutes } from './docs';
import { createRateLimits, type RateLimits } from './limits';
import { API_SERVICES, type ApiService, mergeOpenApi, type OpenApiDocument } from './openapi';
import { createForwarder } from './proxy';
import { createRouter, UPSTREAMS, type Upstream } from './routes';

export interface GatewayDeps {
  /** Base URL of each service behind the door. */
  upstreams: Record<Upstream, string>;
  redis: RedisClient;
  /** REDIS_PREFIX: the rate limits' counters live under it. */
  prefix: string;
  logger: Logger;
  metrics: ServiceMetrics;
  /** FRONTEND_URL: origins whose pages may call the door (CORS). */
  frontendOrigins?: readonly string[] | undefined;
  /** The rate limits, or none (RATE_LIMITS=off). */
  rates: RateLimits | undefined;
  /** How long a service may take to answer before the door answers 504. */
  timeoutMs: number;
}

/** How long the merged document is kept before the services' own are read again. */
const DOCUMENT_TTL_MS = 60_000;
const READY_TIMEOUT_MS = 2_000;

/**
 * The front door (design §12): one origin for the whole API, the board and the
 * live feed. Each request goes where the routing table (routes.ts) sends it;
 * the door itself answers the merged OpenAPI document, the reference page and
 * its probes, and applies the rate limits. A path the table does not know is
 * 404, a method it does not route there 405 (with `Allow`).
 */
export const buildGateway = (deps: GatewayDeps) => {
  const forward = createForwarder(deps);
  const route = createRouter();
  const limits = deps.rates
    ? createRateLimits({ redis: deps.redis, prefix: deps.prefix, rates: deps.rates })
    : undefined;
  const app = createBaseApp({ ...deps, bodies: false });
  const corsHeaders = corsAnswerHeaders(deps.frontendOrigins ?? []);
  const track = requestTracker(deps.logger, deps.metrics);

  app.use((req, res, next) => {
    const found = route(req.method, req.path);
    if (!found.route) {
      if (found.allowed.length === 0) return next();
      res.setHeader(
        'Allow',
        [...found.allowed, ...(found.allowed.includes('GET') ? ['HEAD'] : [])].join(', '),
      );
      return sendProblem(
        res,
        new ProblemError(
          405,
          'method-not-allowed',
          'Method not allowed',
          `${req.method} is not served on this path; it serves ${found.allowed.join(', ')}.`,
        ),
      );
    }
    const { to, limit } = found.route;
    if (to === 'door') return next();
    // Measured by the table's route, as the forwarding path below measures it.
    res.locals.route = found.route.path;
    const proceed = () => forward.web(req, res, to, req.id);
    const limiter = limit && limits?.[limit];
    if (limiter) return limiter(req, res, proceed);
    proceed();
  });

  app.use(doorRoutes(deps));
  app.use(docsRoutes());

  /** WebSocket upgrades: only where the table allows one (the live feed). */
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://door').pathname;
    const found = route('GET', path).route;
    if (!found?.websocket || found.to === 'door') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    forward.ws(req, socket, head, found.to);
  };

  /**
   * The door's request handler. A request the door only forwards (no rate
   * limit applies, not a CORS preflight) skips express and goes straight to
   * the proxy, tracked as express would (request id, metrics, access log); the rest
   * (limited routes, preflights, the door's own routes, 404 and 405) goes
   * through the express app above.
   */
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    // An absolute-form target (RFC 9112 §3.2.2) is taken as its path and query:
    // the door routes by path alone, and only ever to the services configured.
    if (req.url && !req.url.startsWith('/')) req.url = pathOf(req.url);
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const found = route(req.method ?? 'GET', query < 0 ? url : url.slice(0, query)).route;
    if (found && found.to !== 'door' && !(found.limit && limits) && req.method !== 'OPTIONS') {
      const requestId = track(req, res, () => found.path);
      // The door's CORS, as the express path's: the service's own is not passed on.
      res.setHeader('Vary', 'Origin');
      const cors = corsHeaders(req.headers.origin);
      if (cors) for (const [name, value] of Object.entries(cors)) res.setHeader(name, value);
      forward.web(req, res, found.to, requestId);
      return;
    }
    finished(req, res);
  };
  const finished = finishApp(app);

  return { app: finished, handle, upgrade, drain: forward.endUpgraded, close: forward.close };
};

/** The path and query of an absolute-form request target (`/` if it is not a URL). */
const pathOf = (target: string) => {
  try {
    const url = new URL(target);
    return `${url.pathname}${url.search}`;
  } catch {
    return '/';
  }
};

/** `/health`, `/ready` (every service ready), `/metrics` and the merged `/openapi.json`. */
const doorRoutes = (deps: GatewayDeps) => {
  const router = Router();
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/ready', async (_req, res) => {
    const checks = Object.fromEntries(
      await Promise.all(
        UPSTREAMS.map(async (service) => {
          const answer = await fetch(`${deps.upstreams[service]}/ready`, {
            signal: AbortSignal.timeout(READY_TIMEOUT_MS),
          }).catch(() => undefined);
          return [service, answer?.ok === true] as const;
        }),
      ),
    );
    const ready = Object.values(checks).every(Boolean);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', checks });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  const document = mergedDocument(deps.upstreams);
  router.get('/openapi.json', async (_req, res) => {
    res.json(await document());
  });
  return router;
};

/**
 * The merged document, built from the services' own `/openapi.json` as they
 * run, kept for a minute. A service that cannot be read is 503.
 */
const mergedDocument = (upstreams: Record<Upstream, string>) => {
  const read = async () => {
    const documents = Object.fromEntries(
      await Promise.all(
        API_SERVICES.map(async (service) => {
          const answer = await fetch(`${upstreams[service]}/openapi.json`, {
            signal: AbortSignal.timeout(READY_TIMEOUT_MS),
          }).catch(() => undefined);
          if (!answer?.ok)
            throw problems.unavailable(
              'service-unavailable',
              `The ${service} service's API document cannot be read.`,
              5,
            );
          return [service, (await answer.json()) as OpenApiDocument] as const;
        }),
      ),
    ) as Record<ApiService, OpenApiDocument>;
    return mergeOpenApi(documents);
  };
  // The reading in flight is shared: requests meanwhile wait for it, not read again.
  let cached: { at: number; document: Promise<OpenApiDocument> } | undefined;
  return () => {
    if (!cached || Date.now() - cached.at >= DOCUMENT_TTL_MS) {
      const document = read();
      cached = { at: Date.now(), document };
      // A failed reading is not kept: the next request tries again.
      document.catch(() => {
        if (cached?.document === document) cached = undefined;
      });
    }
    return cached.document;
  };
};
