import cors from 'cors';
import type { RequestHandler } from 'express';

/** The request headers TaskSync reads, which a browser must be allowed to send (design §3, §6). */
export const CORS_REQUEST_HEADERS = [
  'Authorization',
  'Content-Type',
  'If-Match',
  'Idempotency-Key',
  'X-Min-Position',
  'X-Max-Wait-Ms',
  'X-Request-Id',
] as const;

/** The answer headers a client needs, which a browser hides from scripts unless exposed. */
export const CORS_EXPOSED_HEADERS = [
  'ETag',
  'Location',
  'X-Event-Position',
  'X-Read-Position',
  'Retry-After',
  'X-Request-Id',
  'Idempotent-Replayed',
] as const;

export const CORS_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** How long a browser may reuse a preflight's answer. */
export const CORS_MAX_AGE_SECONDS = 600;

/**
 * CORS for the front-ends in `FRONTEND_URL` (design §12), by the `cors`
 * package: a page of one of those exact origins may call the API with the
 * headers TaskSync reads and see the ones it answers; its preflight is
 * answered 204 before anything else runs. Any other origin gets no CORS
 * header at all, so the browser keeps its page from reading the answer (and
 * from sending anything a preflight guards). Bearer tokens, not cookies: no
 * credentials mode. Every answer varies by Origin, so no cache serves one
 * origin's answer to another.
 */
export const corsFor = (origins: readonly string[]): RequestHandler | undefined => {
  if (origins.length === 0) return undefined;
  const allowed = new Set(origins);
  const handler = cors({
    origin: (origin, callback) => callback(null, origin && allowed.has(origin) ? origin : false),
    methods: [...CORS_METHODS],
    allowedHeaders: [...CORS_REQUEST_HEADERS],
    exposedHeaders: [...CORS_EXPOSED_HEADERS],
    maxAge: CORS_MAX_AGE_SECONDS,
  });
  return (req, res, next) => {
    res.vary('Origin');
    handler(req, res, next);
  };
};

/**
 * The CORS headers of an actual (not preflight) answer to a page of `origin`,
 * as `corsFor` sets them: for a proxy that answers without express (the front
 * door's forwarding path), so its policy, not the service's, is what the
 * browser sees. Undefined for an origin not allowed.
 */
export const corsAnswerHeaders = (origins: readonly string[]) => {
  const allowed = new Set(origins);
  const exposed = CORS_EXPOSED_HEADERS.join(',');
  return (origin: string | undefined): Record<string, string> | undefined =>
    origin && allowed.has(origin)
      ? { 'access-control-allow-origin': origin, 'access-control-expose-headers': exposed }
      : undefined;
};
