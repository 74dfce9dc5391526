import http from 'node:http';
import https from 'node:https';
import { problems } from '@tasksync/contracts';
import type { RequestHandler } from 'express';

/** Headers that describe one connection, not the message (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

const endToEnd = (headers: http.IncomingHttpHeaders) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));

/**
 * Forwards `/api/<service>/…` to that service, so the board talks to one
 * origin: no CORS set-up on the APIs, and the page works from any host that
 * can reach the notifier. Bodies stream through unread; the service answers,
 * its status, headers and errors (problem+json) pass back unchanged.
 */
export const apiProxy = (target: string, service: string): RequestHandler => {
  const base = new URL(target);
  const transport = base.protocol === 'https:' ? https : http;
  const agent = new transport.Agent({ keepAlive: true });
  return (req, res, next) => {
    // Path and query set apart, never parsed as a URL: `//elsewhere/…` after the
    // mount point must stay a path on the target, not become another host.
    const url = new URL(base);
    url.pathname = `${base.pathname.replace(/\/$/, '')}${req.url.split('?')[0]}`;
    url.search = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
    const upstream = transport.request(url, {
      method: req.method,
      agent,
      headers: {
        ...endToEnd(req.headers),
        'x-request-id': req.id,
        'x-forwarded-for': req.socket.remoteAddress ?? '',
        'x-forwarded-host': req.headers.host ?? '',
      },
    });
    upstream.on('response', (answer) => {
      res.status(answer.statusCode ?? 502);
      for (const [name, value] of Object.entries(endToEnd(answer.headers))) {
        if (value !== undefined) res.setHeader(name, value);
      }
      answer.pipe(res);
    });
    upstream.on('error', (error) => {
      if (res.headersSent) return res.destroy(error);
      req.log.warn({ err: error, service }, 'service unreachable through the board proxy');
      next(
        problems.unavailable('service-unavailable', `The ${service} service is not reachable.`, 5),
      );
    });
    req.pipe(upstream);
  };
};
