import { compareEntryIds, type KeyLayout } from '@tasksync/contracts';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { ServiceMetrics } from '../http/app';
import type { RedisClient } from '../redis/client';
import { type RawEntry, readLog } from '../redis/readers';
import { inclusiveEnd } from './entry-id';
import { ArchiveCorruptionError, decodeSegment, type SegmentInfo } from './segment';
import { type ArchiveStore, archivedThrough, type Manifest } from './store';

/** An archived id asked for that no segment holds. */
export class ArchivedEntryNotFoundError extends Error {
  override readonly name = 'ArchivedEntryNotFoundError';
  constructor(
    readonly log: string,
    readonly entryIds: string[],
  ) {
    super(
      `log ${log}: ${entryIds.length} entries are neither in Redis nor in the archive (${entryIds.slice(0, 3).join(', ')}…)`,
    );
  }
}

/**
 * The one way to read a log (design §11): the archive first, Redis after.
 * Every reader goes through it: replay, rebuilds, the notifier's `since`,
 * history, `asOf` and aggregate loading.
 */
export interface LogReader {
  /**
   * Up to `count` entries of the log after `afterEntryId` (exclusive; `0` for
   * the start) up to `untilEntryId` (an XRANGE end: `+`, `<ms>`, `<ms>-<seq>`
   * or `(<id>`), exactly what `readLog` gave before anything was archived.
   */
  readLogRange(
    logKey: string,
    afterEntryId: string,
    count: number,
    untilEntryId?: string,
  ): Promise<RawEntry[]>;
  /**
   * The entries with these ids from the archive, in the order asked (for the
   * ids `readIndexed` names missing). An id no segment holds is an
   * ArchivedEntryNotFoundError; a segment failing its checksum an
   * ArchiveCorruptionError. Never a partial answer.
   */
  readEntriesByIds(logKey: string, entryIds: readonly string[]): Promise<RawEntry[]>;
  /**
   * How much of the log is archived now: the last archived entry id (none
   * when nothing is) and how many entries the segments hold. Consumer groups
   * read Redis alone, so a reader starting below `through` catches up here.
   */
  archived(logKey: string): Promise<{ through: string | undefined; entries: number }>;
}

export interface LogReaderOptions {
  redis: RedisClient;
  keys: KeyLayout;
  /** Undefined: no archive, and every read is readLog itself. */
  archive?: ArchiveStore | undefined;
  logger?: Logger | undefined;
  /** Where `tasksync_archive_corrupt_segments_total` is counted. */
  metrics?: ServiceMetrics | undefined;
  /** Decoded segments kept, least recently used dropped first. */
  cachedSegments?: number;
}

const CORRUPT_METRIC = 'tasksync_archive_corrupt_segments_total';

/** The last index in `sorted` whose item is at most `id` by `key`, or -1. */
const lastAtMost = <T>(sorted: readonly T[], id: string, key: (item: T) => string) => {
  let low = 0;
  let high = sorted.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (compareEntryIds(key(sorted[middle] as T), id) <= 0) {
      found = middle;
      low = middle + 1;
    } else high = middle - 1;
  }
  return found;
};

const withoutArchive = (redis: RedisClient): LogReader => ({
  readLogRange: (logKey, afterEntryId, count, untilEntryId) =>
    readLog(redis, logKey, afterEntryId, count, untilEntryId),
  readEntriesByIds: async (logKey, entryIds) => {
    if (entryIds.length > 0) throw new ArchivedEntryNotFoundError(logKey, [...entryIds]);
    return [];
  },
  archived: async () => ({ through: undefined, entries: 0 }),
});

export const createLogReader = (options: LogReaderOptions): LogReader => {
  const { redis, keys, archive, logger } = options;
  if (!archive) return withoutArchive(redis);
  const corruptSegments = options.metrics
    ? ((options.metrics.registry.getSingleMetric(CORRUPT_METRIC) as Counter<'log'> | undefined) ??
      new Counter({
        name: CORRUPT_METRIC,
        help: 'Archive segments that failed their checksum when read (never served)',
        labelNames: ['log'],
        registers: [options.metrics.registry],
      }))
    : undefined;
  const cacheLimit = options.cachedSegments ?? 8;
  // Keyed by checksum: a listed segment never changes, and a rewritten orphan has another.
  const decoded = new Map<string, RawEntry[]>();
  const logNames = new Map(keys.logs().map((log) => [log.key, log.name]));

  const segmentEntries = async (log: string, info: SegmentInfo) => {
    const cached = decoded.get(info.sha256);
    if (cached) {
      decoded.delete(info.sha256);
      decoded.set(info.sha256, cached);
      return cached;
    }
    let entries: RawEntry[];
    try {
      entries = decodeSegment(log, info, await archive.readSegment(log, info.file));
    } catch (error) {
      if (error instanceof ArchiveCorruptionError) {
        logger?.error(
          { log, segment: info.file, err: error },
          'corrupt archive segment: not served',
        );
        corruptSegments?.inc({ log });
      }
      throw error;
    }
    decoded.set(info.sha256, entries);
    if (decoded.size > cacheLimit) decoded.delete(decoded.keys().next().value as string);
    return entries;
  };

  /** Archived entries after `after` up to `through` (inclusive), at most `count`. */
  const readArchived = async (
    log: string,
    manifest: Manifest,
    after: string,
    count: number,
    through: string,
  ) => {
    const found: RawEntry[] = [];
    let index = Math.max(
      0,
      lastAtMost(manifest.segments, after, (segment) => segment.first),
    );
    for (; index < manifest.segments.length && found.length < count; index++) {
      const info = manifest.segments[index] as SegmentInfo;
      if (compareEntryIds(info.first, through) > 0) break;
      if (compareEntryIds(info.last, after) <= 0) continue;
      const entries = await segmentEntries(log, info);
      for (let i = lastAtMost(entries, after, ([id]) => id) + 1; i < entries.length; i++) {
        const entry = entries[i] as RawEntry;
        if (compareEntryIds(entry[0], through) > 0 || found.length === count) break;
        found.push(entry);
      }
    }
    return found;
  };

  return {
    archived: async (logKey) => {
      const log = logNames.get(logKey);
      if (!log) return { through: undefined, entries: 0 };
      const manifest = await archive.readManifest(log);
      return {
        through: archivedThrough(manifest),
        entries: manifest.segments.reduce((sum, segment) => sum + segment.count, 0),
      };
    },
    readLogRange: async (logKey, afterEntryId, count, untilEntryId = '+') => {
      const log = logNames.get(logKey);
      if (!log) return readLog(redis, logKey, afterEntryId, count, untilEntryId);
      const until = inclusiveEnd(untilEntryId);
      if (until === null) return [];
      for (;;) {
        const manifest = await archive.readManifest(log);
        const archived = archivedThrough(manifest);
        let entries: RawEntry[] = [];
        let start = afterEntryId;
        if (archived && compareEntryIds(afterEntryId, archived) < 0) {
          const through = until && compareEntryIds(until, archived) < 0 ? until : archived;
          entries = await readArchived(log, manifest, afterEntryId, count, through);
          if (entries.length === count || through !== archived) return entries;
          start = archived;
        }
        const live = await readLog(redis, logKey, start, count - entries.length, untilEntryId);
        // The manifest is written before the trim: if it has not moved past
        // `start` since, nothing after `start` had been trimmed when Redis answered.
        const now = archivedThrough(await archive.readManifest(log));
        if (!now || compareEntryIds(now, start) <= 0) return entries.concat(live);
      }
    },
    readEntriesByIds: async (logKey, entryIds) => {
      const log = logNames.get(logKey);
      if (!log) throw new ArchivedEntryNotFoundError(logKey, [...entryIds]);
      const { segments } = await archive.readManifest(log);
      const found: RawEntry[] = [];
      const notFound: string[] = [];
      for (const id of entryIds) {
        const info = segments[lastAtMost(segments, id, (segment) => segment.first)];
        const entries =
          info && compareEntryIds(id, info.last) <= 0 ? await segmentEntries(log, info) : [];
        const entry = entries[lastAtMost(entries, id, ([entryId]) => entryId)];
        if (entry?.[0] === id) found.push(entry);
        else notFound.push(id);
      }
      if (notFound.length > 0) throw new ArchivedEntryNotFoundError(log, notFound);
      return found;
    },
  };
};
