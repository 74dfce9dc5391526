import { decodeEvent, fieldsToRecord, type StoredEvent } from '@tasksync/contracts';
import { readIndexed, type StoreLayout } from './append';
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

/** Where an aggregate's events are: its own stream (layout 1) or its index into its log (layout 2). */
export interface AggregateKeys {
  layout: StoreLayout;
  /** The aggregate's stream (layout 1) or index (layout 2). */
  streamKey: string;
  logKey: string;
}

/**
 * An aggregate's events after `after` (its last revision and entry id read
 * before; all of them without), in order, on either layout (design §11).
 */
export const readAggregate = async (
  redis: RedisClient,
  { layout, streamKey, logKey }: AggregateKeys,
  after?: { revision: number; entryId: string },
): Promise<StoredEvent[]> => {
  if (layout === 1) return readStream(redis, streamKey, after?.entryId || undefined);
  const { entries, missing } = await readIndexed(
    redis,
    streamKey,
    logKey,
    after ? after.revision + 1 : 0,
  );
  if (missing.length > 0)
    throw new Error(
      `${missing.length} events of ${streamKey} are no longer in its log (archived), and no archive is read yet`,
    );
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
