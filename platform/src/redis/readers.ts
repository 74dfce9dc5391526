import { decodeEvent, fieldsToRecord, type StoredEvent } from '@tasksync/contracts';
import type { RedisClient } from './client';

export type RawEntry = [id: string, fields: string[]];

/** Reads an aggregate's events after `afterEntryId` (exclusive), in order. */
export const readStream = async (
  redis: RedisClient,
  streamKey: string,
  afterEntryId?: string,
): Promise<StoredEvent[]> => {
  const entries = (await redis.xrange(
    streamKey,
    afterEntryId ? `(${afterEntryId}` : '-',
    '+',
  )) as RawEntry[];
  return entries.map(([id, fields]) => decodeEvent(id, fieldsToRecord(fields)));
};

/** The id of a stream's newest entry, or undefined for an empty or missing stream. */
export const readLastEntryId = async (
  redis: RedisClient,
  streamKey: string,
): Promise<string | undefined> => {
  const [last] = (await redis.xrevrange(streamKey, '+', '-', 'COUNT', 1)) as RawEntry[];
  return last?.[0];
};

/** Reads up to `count` raw entries of a log after `afterEntryId` (exclusive; `0` for the start). */
export const readLog = async (
  redis: RedisClient,
  logKey: string,
  afterEntryId: string,
  count: number,
  untilEntryId = '+',
): Promise<RawEntry[]> =>
  (await redis.xrange(
    logKey,
    afterEntryId === '0' ? '-' : `(${afterEntryId}`,
    untilEntryId,
    'COUNT',
    count,
  )) as RawEntry[];
