import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent } from 'node:http';
import type { Duplex } from 'node:stream';
import { ProblemError } from '@tasksync/contracts';
import type { Logger } from '@tasksync/platform';
import { ProxyServer } from 'http-proxy-3';
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

/**
 * Forwards requests and WebSocket upgrades to the services, by http-proxy-3:
 * bodies stream both ways unread, headers pass both ways (Host kept, so a
 * service sees the origin the browser used), `X-Forwarded-For/-Host/-Proto`
 * added, and the door's request id sent on. A service that is down, breaks
 * off or is slow is answered 503, 502 or 504 problem+json.
 */
export const createForwarder = (options: {
  upstreams: Record<Upstream, string>;
  timeoutMs: number;
  logger: Logger;
}) => {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const proxy = new ProxyServer({ xfwd: true, agent, proxyTimeout: options.timeoutMs });
  const timedOut = new WeakSet<IncomingMessage>();
  // http-proxy adds `Content-Length: 0` to a DELETE without a body; the service
  // must get the request as it was sent (an idempotency record hashes the body).
  const bodyless = new WeakSet<IncomingMessage>();
  proxy.on('proxyReq', (proxyReq, req) => {
    if (bodyless.has(req)) proxyReq.removeHeader('content-length');
    proxyReq.on('timeout', () => timedOut.add(req));
  });

  /** Forwards one request; its id (kept or made by the door) goes to the service too. */
  const web = (req: IncomingMessage, res: ServerResponse, service: Upstream, requestId: string) => {
    req.headers['x-request-id'] = requestId;
    if (
      req.headers['content-length'] === undefined &&
      req.headers['transfer-encoding'] === undefined
    )
      bodyless.add(req);
    proxy.web(req, res, { target: options.upstreams[service] }, (error, _req, out) => {
      const response = out as ServerResponse;
      if (response.headersSent) {
        response.destroy();
        return;
      }
      const problem = upstreamProblem(error as NodeJS.ErrnoException, service, timedOut.has(req));
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
      agent.destroy();
      proxy.close();
    },
  };
};
