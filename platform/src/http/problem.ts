import { type Server, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ProblemError, problems } from '@tasksync/contracts';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { ReplyError } from 'ioredis';
import { MaxRetriesPerRequestError } from 'ioredis/built/errors';

export const sendProblem = (res: Response, error: ProblemError) => {
  for (const [name, value] of Object.entries(error.extra.headers ?? {})) res.setHeader(name, value);
  res.status(error.status).type('application/problem+json').send(JSON.stringify(error.toJSON()));
};

/** What Node's HTTP parser refuses before any route runs, as Node itself would answer it. */
const fromHttpParser = (code: string | undefined): ProblemError => {
  if (code === 'HPE_HEADER_OVERFLOW')
    return new ProblemError(
      431,
      'headers-too-large',
      'Request headers too large',
      'The request line and headers exceed 16 KB.',
    );
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return new ProblemError(
      408,
      'request-timeout',
      'Request timeout',
      'The request took too long.',
    );
  return problems.badRequest('The request is not valid HTTP/1.1.');
};

/**
 * Requests Node's HTTP parser refuses (a URL or headers over 16 KB, a garbled
 * request line or header) get problem+json like every other bad request, where
 * Node would answer a bare status line. A `clientError` listener replaces Node's
 * own answer.
 */
export const answerClientErrors = (server: Server) =>
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // As Node does: answer only a request the parser refused, and only where
    // no answer has begun on this connection; anything else just ends it.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    const refused = error.code?.startsWith('HPE_') || error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (!refused || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const problem = fromHttpParser(error.code);
    const body = JSON.stringify(problem.toJSON());
    socket.end(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n` +
        'Content-Type: application/problem+json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  });

interface BodyParserError {
  type?: string;
  status?: number;
}

/** Errors body-parser raises for what the client sent, mapped to their 4xx answers. */
const fromBodyParser = (error: BodyParserError): ProblemError | undefined => {
  switch (error.type) {
    case 'entity.too.large':
      return new ProblemError(
        413,
        'payload-too-large',
        'Payload too large',
        'The body exceeds 100 kB.',
      );
    case 'entity.parse.failed':
      return problems.badRequest('The body is not valid JSON.');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ProblemError(
        415,
        'unsupported-media-type',
        'Unsupported media type',
        'Send UTF-8 JSON.',
      );
    case 'request.aborted':
    case 'request.size.invalid':
      return problems.badRequest('The body was not received whole.');
    default:
      return error.status && error.status >= 400 && error.status < 500
        ? new ProblemError(error.status, 'bad-request', 'Bad request', 'The request was refused.')
        : undefined;
  }
};

/** Socket errors of a Redis connection that is down or going away. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);
/** Redis error replies (their first word) that mean "not now", not "wrong request". */
const UNAVAILABLE_REPLIES = new Set(['CLUSTERDOWN', 'LOADING', 'MASTERDOWN', 'TRYAGAIN']);
/** ioredis's offline errors carry no class or code of their own, only these exact messages. */
const OFFLINE_MESSAGES = new Set([
  'Connection is closed.',
  "Stream isn't writeable and enableOfflineQueue options is false",
]);

/**
 * Redis is away: ioredis gave up on a command after its retries, the socket
 * failed, or Redis answered that it cannot serve yet. The client did nothing
 * wrong and may retry, so that is 503, not 500.
 */
export const isRedisUnavailable = (error: unknown) => {
  if (!(error instanceof Error)) return false;
  if (error instanceof MaxRetriesPerRequestError) return true;
  // redis-errors' AbortError: a command in flight when the connection ended.
  if (error.name === 'AbortError' || error.name === 'ClusterAllFailedError') return true;
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && NETWORK_CODES.has(code)) return true;
  if (error instanceof ReplyError) return UNAVAILABLE_REPLIES.has(error.message.split(' ', 1)[0]!);
  return OFFLINE_MESSAGES.has(error.message);
};

/** Turns every error into problem+json; unexpected ones are logged and answered without internals. */
export const problemHandler: ErrorRequestHandler = (error: unknown, req, res, _next) => {
  const problem = error instanceof ProblemError ? error : fromBodyParser(error as BodyParserError);
  if (problem) return sendProblem(res, problem);
  if (isRedisUnavailable(error)) {
    req.log.warn({ err: error }, 'Redis unavailable');
    return sendProblem(
      res,
      problems.unavailable(
        'storage-unavailable',
        'The event store is unreachable; retry shortly.',
        1,
      ),
    );
  }
  req.log.error({ err: error }, 'unexpected error');
  if (res.headersSent) return res.end();
  sendProblem(
    res,
    new ProblemError(500, 'internal', 'Internal error', 'Something went wrong on our side.'),
  );
};

export const notFoundHandler: RequestHandler = (req, _res, next) =>
  next(problems.notFound(`No route for ${req.method} ${req.path}.`));
