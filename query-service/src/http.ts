import { createHash } from 'node:crypto';
import {
  type KeyLayout,
  PositionList,
  parseWith,
  problems,
  unknownField,
} from '@tasksync/contracts';
import type { RedisClient } from '@tasksync/platform';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { DEFAULT_MAX_WAIT_MS, MAX_WAIT_MS, type ReadModelAccess } from './read-model';

const MaxWait = z.coerce.number().int().min(0).max(MAX_WAIT_MS);

/**
 * Read-your-writes (design §6): with X-Min-Position the request waits (up to
 * X-Max-Wait-Ms) until the read model has applied those positions.
 */
export const consistency =
  (readModel: ReadModelAccess, keys: KeyLayout): RequestHandler =>
  async (req, _res, next) => {
    const min = req.get('X-Min-Position');
    if (min === undefined) return next();
    const positions = parseWith(PositionList, min, 'X-Min-Position');
    const unknown = positions.find((p) => keys.logKeyByName(p.log) === undefined);
    // A position on a log this deployment does not have can never be reached: 400, not a wait.
    if (unknown)
      throw problems.badRequest(
        `X-Min-Position names log ${unknown.log}, which does not exist here.`,
      );
    const waitHeader = req.get('X-Max-Wait-Ms');
    const maxWait =
      waitHeader === undefined ? DEFAULT_MAX_WAIT_MS : MaxWait.safeParse(waitHeader).data;
    if (maxWait === undefined)
      throw problems.badRequest(`X-Max-Wait-Ms must be 0 to ${MAX_WAIT_MS}.`);
    await readModel.waitFor(positions, maxWait);
    next();
  };

/**
 * Routes without a query schema refuse parameters they do not read, as the
 * schema routes do (design §3: strict), each named in `errors`.
 */
export const refuseUnknownQuery = (req: Request, ...known: string[]) => {
  const unknown = Object.keys(req.query).filter((name) => !known.includes(name));
  if (unknown.length) throw problems.validation(unknown.map((name) => unknownField(name)));
};

/** Sends a read's JSON with X-Read-Position and an ETag; 304 for a matching If-None-Match. */
export const sendRead = (
  req: Request,
  res: Response,
  position: string,
  etag: string | undefined,
  json: string | Buffer,
) => {
  res.setHeader('X-Read-Position', position);
  // Without a resource revision, the answer to this URL changes only with the checkpoints.
  const tag = etag ?? `W/"${Buffer.from(position).toString('base64url')}"`;
  res.setHeader('ETag', tag);
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch?.split(',').some((t) => t.trim() === tag || t.trim() === '*')) {
    return res.status(304).end();
  }
  // Straight to Node: express's send would parse the content type again to add the
  // charset, and copy every answer of 1,000 characters or more into a Buffer.
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
};

/** A read's answer: a value to serialize, or JSON text SQLite already built. */
type ReadAnswer<T> = ({ body: T } | { json: string }) & { etag?: string };

const snapshotRead = <T>(
  res: Response,
  readModel: ReadModelAccess,
  read: (db: ReadModelDb) => ReadAnswer<T>,
) => {
  const db = readModel.db();
  const { etag, ...answer } = readModel.snapshot(() => {
    const position = readModel.readPosition(db);
    // Set first, so a 404 or 410 the read throws also says which model state it reflects.
    res.setHeader('X-Read-Position', position);
    return { ...read(db), position };
  });
  const json = 'json' in answer ? answer.json : JSON.stringify(answer.body);
  return { json, etag, position: answer.position };
};

/**
 * Runs a read in one SQLite snapshot with the checkpoints it reflects, and
 * answers with X-Read-Position, an ETag and 304 for a matching If-None-Match.
 */
export const answerRead = <T>(
  req: Request,
  res: Response,
  readModel: ReadModelAccess,
  read: (db: ReadModelDb) => ReadAnswer<T>,
) => {
  const { json, etag, position } = snapshotRead(res, readModel, read);
  sendRead(req, res, position, etag, json);
};

export interface AnswerCache {
  /** The cached JSON as bytes: it goes out as it came in, never decoded and re-encoded. */
  get(key: string): Promise<Buffer | null>;
  set(key: string, json: string): Promise<void>;
  key(position: string, scope: string): string;
}

/**
 * Answers kept in Redis under the read position they reflect: a key names the
 * checkpoints, so an entry can never be older than the position the request
 * sees, and the projector's next checkpoint makes every older key unreachable
 * (they expire after CACHE_TTL_SECONDS). A Redis error falls back to SQLite.
 */
export const createAnswerCache = (
  redis: RedisClient,
  prefix: string,
  group: string,
  ttlSeconds: number,
): AnswerCache => ({
  get: (key) => redis.getBuffer(key).catch(() => null),
  set: async (key, json) => {
    await redis.set(key, json, 'EX', ttlSeconds).catch(() => undefined);
  },
  key: (position, scope) =>
    `${prefix}:cache:${group}:${createHash('sha1').update(`${position}\n${scope}`).digest('base64url')}`,
});

/** Like answerRead, through the answer cache; `scope` names everything the answer depends on. */
export const answerCachedRead = async <T>(
  req: Request,
  res: Response,
  readModel: ReadModelAccess,
  cache: AnswerCache | undefined,
  scope: string,
  read: (db: ReadModelDb) => ReadAnswer<T>,
) => {
  if (!cache) return answerRead(req, res, readModel, read);
  // The file is part of the key: after replay --swap, an answer the old model gave at
  // the same position (perhaps from older projection code) is not served again.
  const current = readModel.readPosition(readModel.db());
  const hit = await cache.get(cache.key(current, `${readModel.generation()}\n${scope}`));
  if (hit !== null) {
    res.setHeader('X-Cache', 'hit');
    return sendRead(req, res, current, undefined, hit);
  }
  const { json, position } = snapshotRead(res, readModel, read);
  void cache.set(cache.key(position, `${readModel.generation()}\n${scope}`), json);
  res.setHeader('X-Cache', 'miss');
  sendRead(req, res, position, undefined, json);
};
