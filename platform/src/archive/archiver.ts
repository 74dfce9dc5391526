import { compareEntryIds } from '@tasksync/contracts';
import type { RedisClient } from '../redis/client';
import { readLog } from '../redis/readers';
import { minEntryId, nextEntryId, previousEntryId } from './entry-id';
import { encodeSegment } from './segment';
import { type ArchiveStore, archivedThrough } from './store';

/** The points of a run after which a crash must lose and duplicate nothing (tests kill the archiver there). */
export type ArchiveStep = 'segment' | 'manifest' | 'trim';

export interface ArchiveLogOptions {
  redis: RedisClient;
  store: ArchiveStore;
  log: { name: string; key: string };
  /** Entries whose id time is at least this old may go (ARCHIVE_AFTER). */
  archiveAfterMs: number;
  /** Entries per segment at most. */
  segmentEntries: number;
  now?: () => number;
  /** Called after each durable step, in order: segment, manifest, trim. */
  afterStep?: (step: ArchiveStep) => void | Promise<void>;
  /** Asked before each further segment; false ends the run (the lease was lost). */
  mayContinue?: () => Promise<boolean>;
  /**
   * Trims through XTRIM MINID `minId`; by default plainly. The archiver passes
   * its lease's fenced trim, so an archiver that lost its lease trims nothing.
   */
  trim?: (minId: string) => Promise<unknown>;
}

export interface ArchiveRun {
  archived: number;
  segments: number;
  /** The last entry id the archive holds after the run. */
  archivedThrough: string | undefined;
}

interface GroupInfo {
  name: string;
  pending: number;
  lastDeliveredId: string;
}

const groupsOf = async (redis: RedisClient, logKey: string): Promise<GroupInfo[]> => {
  const groups = (await redis.xinfo('GROUPS', logKey)) as (string | number)[][];
  return groups.map((flat) => {
    const field = (name: string) => flat[flat.indexOf(name) + 1];
    return {
      name: String(field('name')),
      pending: Number(field('pending')),
      lastDeliveredId: String(field('last-delivered-id')),
    };
  });
};

/**
 * The newest entry id every consumer group has acknowledged: delivered
 * (at most its last-delivered-id) and below its oldest pending entry. A group
 * that is behind holds the archive back. XINFO comes before XPENDING: an
 * entry delivered between the two is above the last-delivered-id read, so it
 * is never counted as acknowledged. Undefined when no group reads the log.
 */
export const acknowledgedThrough = async (
  redis: RedisClient,
  logKey: string,
): Promise<string | null | undefined> => {
  let bound: string | undefined;
  for (const group of await groupsOf(redis, logKey)) {
    let groupBound: string | undefined = group.lastDeliveredId;
    if (group.pending > 0) {
      const [, oldestPending] = (await redis.xpending(logKey, group.name)) as [
        number,
        string | null,
      ];
      // Everything below the oldest pending entry is acknowledged; nothing is when it is the first.
      if (oldestPending)
        groupBound = minEntryId(groupBound, previousEntryId(oldestPending) ?? '0-0');
    }
    if (groupBound === undefined || groupBound === '0-0') return null;
    bound = minEntryId(bound, groupBound);
  }
  return bound;
};

/**
 * The newest entry id the archive may take now: older than `archiveAfterMs`
 * by its id time, and acknowledged by every group; null when none may.
 */
export const archivableThrough = async (
  redis: RedisClient,
  logKey: string,
  archiveAfterMs: number,
  now: number,
): Promise<string | null> => {
  const cutoffMs = Math.floor(now - archiveAfterMs);
  if (cutoffMs <= 0) return null;
  const olderThanWindow = previousEntryId(`${cutoffMs}-0`) ?? null;
  if (!(await redis.exists(logKey))) return null;
  const acknowledged = await acknowledgedThrough(redis, logKey);
  if (acknowledged === null || olderThanWindow === null) return null;
  return minEntryId(olderThanWindow, acknowledged) ?? null;
};

/**
 * One archiver run over one log (design §11). Each segment is written and
 * fsynced, then listed in the manifest (written atomically and fsynced), and
 * only then trimmed from Redis. A crash anywhere loses nothing: entries leave
 * Redis only once the manifest lists them. And it duplicates nothing: a
 * segment the manifest does not list is an orphan, removed and rewritten by
 * the next run; a manifest ahead of the trim is trimmed first thing in the
 * next run, and readers take every id up to the manifest's last from the
 * archive only. One run per log at a time (the archiver's lease).
 */
export const archiveLog = async (options: ArchiveLogOptions): Promise<ArchiveRun> => {
  const { redis, store, log, segmentEntries, afterStep, mayContinue } = options;
  // Every entry up to and including `through`, exactly (MINID without `~`).
  const trimThrough = (through: string) =>
    (options.trim ?? ((minId) => redis.xtrim(log.key, 'MINID', minId)))(nextEntryId(through));
  let manifest = await store.readManifest(log.name);
  let through = archivedThrough(manifest);
  // A run that crashed between its manifest and its trim is finished first.
  if (through) await trimThrough(through);
  const listed = new Set(manifest.segments.map((segment) => segment.file));
  for (const file of await store.listSegments(log.name)) {
    if (!listed.has(file)) await store.deleteSegment(log.name, file);
  }
  const bound = await archivableThrough(
    redis,
    log.key,
    options.archiveAfterMs,
    (options.now ?? Date.now)(),
  );
  const run: ArchiveRun = { archived: 0, segments: 0, archivedThrough: through };
  while (bound && (!through || compareEntryIds(through, bound) < 0)) {
    const entries = await readLog(redis, log.key, through ?? '0', segmentEntries, bound);
    if (entries.length === 0) break;
    const segment = encodeSegment(log.name, entries);
    await store.writeSegment(log.name, segment.info.file, segment.bytes);
    await afterStep?.('segment');
    // A second archiver on this log (a lease lost in a long pause) would have moved the
    // manifest on; writing over it would drop segments whose entries it has trimmed.
    if (archivedThrough(await store.readManifest(log.name)) !== through)
      throw new Error(`the archive manifest of ${log.name} changed under this run; stopping`);
    manifest = { ...manifest, segments: [...manifest.segments, segment.info] };
    await store.writeManifest(manifest);
    await afterStep?.('manifest');
    through = segment.info.last;
    await trimThrough(through);
    await afterStep?.('trim');
    run.archived += entries.length;
    run.segments += 1;
    run.archivedThrough = through;
    if (mayContinue && !(await mayContinue())) break;
  }
  return run;
};
