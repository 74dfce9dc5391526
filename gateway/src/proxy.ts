import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ProblemError } from '@tasksync/contracts';
import type { Logger } from '@tasksync/platform';
import { ProxyServer } from 'http-proxy-3';
import { type Dispatcher, Agent as UndiciAgent } from 'undici';
import vary from 'vary';
import type { Upstream } from './routes';

/** Codes of a connection that could not be made: the service is down (503). */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** What a client is told when the service behind the door failed it, by how it failed. */
export const upstreamProblem = (
  error: NodeJS.ErrnoException,
  service: Upstream,
  timedOut: boolean,
) => {
  if (timedOut)
    return new ProblemError(
      504,
      'gateway-timeout',
      'Gateway timeout',
      `The ${service} service did not answer in time.`,
    );
  if (error.code && UNREACHABLE.has(error.code))
    return new ProblemError(
      503,
      'service-unavailable',
      'Service unavailable',
      `The ${service} service is not reachable.`,
      { headers: { 'Retry-After': '5' } },
    );
  return new ProblemError(
    502,
    'bad-gateway',
    'Bad gateway',
    `The ${service} service broke off its answer.`,
  );
};

/** Headers of one connection, not of the message (RFC 9110 §7.6.1): never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The codes undici gives a request that timed out waiting for the service. */
const TIMED_OUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * Forwards requests to the services with undici (Node's own HTTP client, a
 * pool of kept-alive connections per service), and WebSocket upgrades with
 * http-proxy-3. Bodies stream both ways unread; end-to-end headers pass both
 * ways (Host kept, so a service sees the origin the browser used) but the
 * service's CORS headers: the door answers CORS by its own FRONTEND_URL,
 * `X-Forwarded-For/-Host/-Proto` added, and the door's request id sent on. A
 * service that is down, breaks off or is slow is answered 503, 502 or 504
 * problem+json.
 */
export const createForwarder = (options: {
  upstreams: Record<Upstream, string>;
  timeoutMs: number;
  logger: Logger;
}) => {
  const dispatcher = new UndiciAgent({
    connections: 256,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    // Below the services' keep-alive (Node's 5 s): a kept connection is never reused as it closes.
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 4_000,
  });
  const origins = Object.fromEntries(
    Object.entries(options.upstreams).map(([service, url]) => [service, new URL(url).origin]),
  ) as Record<Upstream, string>;

  /** Forwards one request; its id (kept or made by the door) goes to the service too. */
  const web = (req: IncomingMessage, res: ServerResponse, service: Upstream, requestId: string) => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    const client = req.socket.remoteAddress ?? '';
    const forwardedFor = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = forwardedFor ? `${forwardedFor},${client}` : client;
    headers['x-forwarded-host'] = req.headers['x-forwarded-host'] ?? req.headers.host ?? '';
    headers['x-forwarded-proto'] = req.headers['x-forwarded-proto'] ?? 'http';
    headers['x-request-id'] = requestId;
    // A body only where the request has one: a bodiless DELETE stays bodiless.
    const hasBody =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    dispatcher
      .stream(
        {
          origin: origins[service],
          path: req.url ?? '/',
          method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers,
          body: hasBody ? req : null,
        },
        ({ statusCode, headers: answer }) => {
          for (const [name, value] of Object.entries(answer)) {
            if (value === undefined || HOP_BY_HOP.has(name) || name.startsWith('access-control-'))
              continue;
            // The door's Vary (Origin) and the service's are both kept.
            if (name === 'vary') vary(res, String(value));
            else res.setHeader(name, value);
          }
          res.statusCode = statusCode;
          return res;
        },
      )
      .catch((error: NodeJS.ErrnoException) => {
        // Begun already, or the client is gone (then it is no failure of the service's).
        if (res.headersSent || res.destroyed) {
          res.destroy();
          return;
        }
        const problem = upstreamProblem(
          (error.cause as NodeJS.ErrnoException | undefined) ?? error,
          service,
          TIMED_OUT.has(error.code ?? ''),
        );
        options.logger.warn(
          { err: error, service, status: problem.status, reqId: requestId },
          'service failed through the door',
        );
        res.writeHead(problem.status, {
          'content-type': 'application/problem+json; charset=utf-8',
          ...problem.extra.headers,
        });
        res.end(JSON.stringify(problem.toJSON()));
      });
  };

  const proxy = new ProxyServer({ xfwd: true });
  /** Upgraded connections: the HTTP server no longer tracks them, so closing ends them here. */
  const upgraded = new Set<Duplex>();
  const ws = (req: IncomingMessage, socket: Duplex, head: Buffer, service: Upstream) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    proxy.ws(req, socket, head, { target: options.upstreams[service] }, (error) => {
      options.logger.warn({ err: error, service }, 'WebSocket upgrade failed through the door');
      socket.destroy();
    });
  };

  return {
    web,
    ws,
    /** Ends every WebSocket going through the door (clients reconnect to another). */
    endUpgraded: () => {
      for (const socket of upgraded) socket.destroy();
    },
    close: () => {
      for (const socket of upgraded) socket.destroy();
      void dispatcher.close();
      proxy.close();
    },
  };
};
