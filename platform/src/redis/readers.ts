import { decodeEvent, fieldsToRecord, type StoredEvent } from '@tasksync/contracts';
import { INDEX_ENTRY_BYTES, readIndexed, type StoreLayout } from './append';
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
  /** 2 unless told: layout 1 is read only by the migration and its tests. */
  layout?: StoreLayout;
  /** The aggregate's stream (layout 1) or index (layout 2). */
  streamKey: string;
  logKey: string;
}

/**
 * What reads the entries of a log that were archived (design §11): the
 * archive's LogReader (platform/src/archive/reader.ts). Every answer is whole:
 * an id it does not hold, or a corrupt segment, is an error.
 */
export interface ArchivedEntries {
  readEntriesByIds(logKey: string, entryIds: readonly string[]): Promise<RawEntry[]>;
}

/**
 * Layout 2: an aggregate's raw log entries from revision `fromRevision` on (at
 * most `count`; 0 for all), in order, in one script call; those its log no
 * longer holds come from the archive.
 */
export const readAggregateEntries = async (
  redis: RedisClient,
  { streamKey, logKey }: AggregateKeys,
  fromRevision = 0,
  count = 0,
  archive?: ArchivedEntries,
): Promise<RawEntry[]> => {
  const { entries, missing } = await readIndexed(redis, streamKey, logKey, fromRevision, count);
  if (missing.length === 0) return entries;
  if (!archive)
    throw new Error(
      `${missing.length} events of ${streamKey} are no longer in its log (archived), and no archive is read`,
    );
  // Archived entries are older than any the log still holds: trimming keeps a suffix.
  return [...(await archive.readEntriesByIds(logKey, missing)), ...entries];
};

/**
 * An aggregate's events after `after` (its last revision and entry id read
 * before; all of them without), in order, on either layout (design §11);
 * layout 2 reads those archived from `archive`.
 */
export const readAggregate = async (
  redis: RedisClient,
  aggregate: AggregateKeys,
  after?: { revision: number; entryId: string },
  archive?: ArchivedEntries,
): Promise<StoredEvent[]> => {
  if (aggregate.layout === 1)
    return readStream(redis, aggregate.streamKey, after?.entryId || undefined);
  const entries = await readAggregateEntries(
    redis,
    aggregate,
    after ? after.revision + 1 : 0,
    0,
    archive,
  );
  return entries.map(([id, fields]) => decodeEvent(id, fieldsToRecord(fields)));
};

/** An aggregate's revision count: how many events its index (layout 2) holds. */
export const readRevisionCount = async (redis: RedisClient, indexKey: string): Promise<number> =>
  (await redis.strlen(indexKey)) / INDEX_ENTRY_BYTES;

/** The log entry ids a layout-2 index holds from revision `fromRevision` on, in order. */
export const readIndexIds = async (
  redis: RedisClient,
  indexKey: string,
  fromRevision = 0,
): Promise<string[]> => {
  const bytes = await redis.getrangeBuffer(indexKey, fromRevision * INDEX_ENTRY_BYTES, -1);
  const ids: string[] = [];
  for (let at = 0; at + INDEX_ENTRY_BYTES <= bytes.length; at += INDEX_ENTRY_BYTES) {
    ids.push(`${bytes.readBigUInt64BE(at)}-${bytes.readBigUInt64BE(at + 8)}`);
  }
  return ids;
};

/**
 * The id of the newest entry a stream has had, or undefined for a missing
 * stream or one that never had an entry. A log the archiver has trimmed
 * completely (design §11) holds no entry but is still at its last id, which
 * Redis keeps as the stream's last-generated-id.
 */
export const readLastEntryId = async (
  redis: RedisClient,
  streamKey: string,
): Promise<string | undefined> => {
  const [last] = (await redis.xrevrange(streamKey, '+', '-', 'COUNT', 1)) as RawEntry[];
  if (last) return last[0];
  if (!(await redis.exists(streamKey))) return undefined;
  const info = (await redis.xinfo('STREAM', streamKey)) as unknown[];
  const generated = String(info[info.indexOf('last-generated-id') + 1]);
  return generated === '0-0' ? undefined : generated;
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
