import { createHash } from 'node:crypto';
import type { RedisClient } from '@tasksync/platform';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import type { Request, Response } from 'express';
import { answerRead, type ReadAnswer, sendRead, snapshotRead } from './answer-read';
import type { ReadModelAccess } from './read-model';

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
