/**
 * The archive's part of the storage bench (design §11, issue 14): Redis
 * `used_memory` before and after archiving all but the last day of a log, and
 * replay speed reading the whole log from Redis and from the archive through
 * the one range reader. On a fresh redis-server, EVENTS envelopes (a
 * TaskCreated and four small changes per task, as the append script writes
 * them) spread over 30 days, archived in segments of 10,000 entries.
 *
 *   node --import tsx bench/archive.ts          (EVENTS=1000000 by default)
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyLayout, decodeEvent, fieldsToRecord } from '@tasksync/contracts';
import {
  archiveLog,
  createDirectoryArchive,
  createLogReader,
  createRedis,
  type LogReader,
  type RawEntry,
  type RedisClient,
} from '@tasksync/platform';
import { findRedisServer, freePort, startRedisServer } from '../scripts/redis-server';
import { taskEnvelope, usedMemory } from './task-envelope';

const DAY = 86_400_000;
const EVENTS_PER_TASK = 5;
const PAGE = 1_000;

/** `events` entries on the log, evenly over the last `days` days, oldest first. */
const seed = async (redis: RedisClient, logKey: string, events: number, days: number) => {
  const start = Date.now() - days * DAY;
  const step = (days * DAY) / events;
  let taskId = randomUUID();
  for (let first = 0; first < events; first += PAGE) {
    const batch = redis.pipeline();
    for (let i = first; i < Math.min(events, first + PAGE); i++) {
      if (i % EVENTS_PER_TASK === 0) taskId = randomUUID();
      const at = Math.floor(start + i * step);
      batch.xadd(logKey, `${at}-*`, ...taskEnvelope(taskId, i % EVENTS_PER_TASK, at));
    }
    await batch.exec();
  }
};

/** Reads the whole log page by page, decoding every event as replay does when `decode`; events per second. */
const replayRate = async (
  read: (after: string) => Promise<RawEntry[]>,
  expected: number,
  decode: boolean,
) => {
  const started = process.hrtime.bigint();
  let after = '0';
  let events = 0;
  for (;;) {
    const page = await read(after);
    if (decode) for (const [id, fields] of page) decodeEvent(id, fieldsToRecord(fields));
    events += page.length;
    if (page.length < PAGE) break;
    after = page.at(-1)?.[0] as string;
  }
  if (events !== expected) throw new Error(`replay read ${events} events, not ${expected}`);
  return events / (Number(process.hrtime.bigint() - started) / 1e9);
};

export interface ArchiveBenchResult {
  events: number;
  /** used_memory growth for the log before archiving, per event. */
  bytesPerEventInRedis: number;
  usedMemoryBefore: number;
  usedMemoryAfter: number;
  archivedEvents: number;
  segments: number;
  archiveBytes: number;
  archiveSeconds: number;
  /** Reading and decoding every event. */
  replayFromRedisPerSecond: number;
  replayFromArchivePerSecond: number;
  /** Reading only (the range reader's raw entries). */
  readFromRedisPerSecond: number;
  readFromArchivePerSecond: number;
}

/**
 * Seeds `events` over `days` days on a fresh redis-server, measures a full
 * replay from Redis, archives all but the last day, then measures memory and
 * a full replay again (archive first, Redis after).
 */
export const benchArchive = async ({
  events = 1_000_000,
  days = 30,
}: {
  events?: number;
  days?: number;
} = {}): Promise<ArchiveBenchResult> => {
  const binary = findRedisServer();
  if (!binary) throw new Error('redis-server is not installed');
  const server = await startRedisServer({ binary, port: await freePort() });
  const redis = createRedis({ REDIS_URL: server.url, REDIS_CLUSTER: false });
  const directory = mkdtempSync(join(tmpdir(), 'archive-bench-'));
  try {
    const keys = createKeyLayout('bench', 1);
    const log = keys.logs()[0] as { name: string; key: string };
    const empty = await usedMemory(redis);
    await seed(redis, log.key, events, days);
    const usedMemoryBefore = await usedMemory(redis);
    const fromRedis = createLogReader({ redis, keys });
    const readRedis = (after: string) => fromRedis.readLogRange(log.key, after, PAGE);
    const readFromRedisPerSecond = await replayRate(readRedis, events, false);
    const replayFromRedisPerSecond = await replayRate(readRedis, events, true);
    const store = createDirectoryArchive(directory, keys.prefix);
    const archiving = process.hrtime.bigint();
    const run = await archiveLog({
      redis,
      store,
      log,
      archiveAfterMs: DAY,
      segmentEntries: 10_000,
    });
    const archiveSeconds = Number(process.hrtime.bigint() - archiving) / 1e9;
    const usedMemoryAfter = await usedMemory(redis);
    const reader: LogReader = createLogReader({ redis, keys, archive: store });
    const readArchive = (after: string) => reader.readLogRange(log.key, after, PAGE);
    const readFromArchivePerSecond = await replayRate(readArchive, events, false);
    const replayFromArchivePerSecond = await replayRate(readArchive, events, true);
    const { segments } = await store.readManifest(log.name);
    return {
      events,
      bytesPerEventInRedis: (usedMemoryBefore - empty) / events,
      usedMemoryBefore,
      usedMemoryAfter,
      archivedEvents: run.archived,
      segments: segments.length,
      archiveBytes: segments.reduce((sum, segment) => sum + segment.bytes, 0),
      archiveSeconds,
      replayFromRedisPerSecond,
      replayFromArchivePerSecond,
      readFromRedisPerSecond,
      readFromArchivePerSecond,
    };
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(directory, { recursive: true, force: true });
  }
};

/** The result as the bench prints it. */
export const describeArchiveBench = (result: ArchiveBenchResult) => {
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  return [
    `${result.events.toLocaleString('en')} events over 30 days; archiving all but the last day:`,
    `  Redis used_memory ${mb(result.usedMemoryBefore)} → ${mb(result.usedMemoryAfter)} (${(result.usedMemoryBefore / result.usedMemoryAfter).toFixed(1)}× less; ${Math.round(result.bytesPerEventInRedis)} bytes per event in Redis)`,
    `  archived ${result.archivedEvents.toLocaleString('en')} events in ${result.segments} segments, ${mb(result.archiveBytes)} on disk (${(result.archiveBytes / result.archivedEvents).toFixed(0)} bytes per event), in ${result.archiveSeconds.toFixed(1)} s (${Math.round(result.archivedEvents / result.archiveSeconds).toLocaleString('en')} events/s)`,
    `  replay (read and decode every event): ${Math.round(result.replayFromRedisPerSecond).toLocaleString('en')} events/s from Redis, ${Math.round(result.replayFromArchivePerSecond).toLocaleString('en')} events/s from the archive`,
    `  reading alone (raw entries): ${Math.round(result.readFromRedisPerSecond).toLocaleString('en')} events/s from Redis, ${Math.round(result.readFromArchivePerSecond).toLocaleString('en')} events/s from the archive`,
  ].join('\n');
};

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(
    describeArchiveBench(await benchArchive({ events: Number(process.env.EVENTS ?? 1_000_000) })),
  );
}
