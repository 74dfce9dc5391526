import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KeyLayout, newId } from '@tasksync/contracts';
import { newComment } from '@tasksync/contracts/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { capturingLogger, connectTestRedis, testKeys } from '../../../test/support';
import { createMetrics } from '../http/app';
import { appendToStream, readIndexed } from '../redis/append';
import type { RawEntry } from '../redis/readers';
import { readLog } from '../redis/readers';
import { type ArchiveStep, archiveLog } from './archiver';
import { createLogReader, type LogReader } from './reader';
import { ArchiveCorruptionError } from './segment';
import { type ArchiveStore, createDirectoryArchive } from './store';

const redis = connectTestRedis();
afterAll(() => redis.quit());

const DAY = 86_400_000;
const now = Date.now();

/**
 * `old` entries of the task log with ids ten days back (several per
 * millisecond at times), then `recent` ones from the last hour, each an
 * envelope whose data carries what JSON must keep exactly.
 */
const seedLog = async (keys: KeyLayout, old: number, recent = 10) => {
  const log = keys.logs()[0]!;
  let ms = now - 10 * DAY;
  for (let i = 0; i < old + recent; i++) {
    if (i === old) ms = now - 3_600_000;
    if (i % 3 !== 1) ms += 1 + (i % 7);
    await redis.xadd(
      log.key,
      `${ms}-*`,
      'id',
      `event-${i}`,
      'type',
      i % 5 === 0 ? 'TaskCreated' : 'TaskStatusChanged',
      'rev',
      String(i % 5),
      'data',
      JSON.stringify({ title: `täsk ${i} 🚀`, note: 'line\nbreak "quoted" \\ back' }),
    );
  }
  return { log, before: await readLog(redis, log.key, '0', 1_000_000) };
};

const newArchive = (keys: KeyLayout) => {
  const root = mkdtempSync(join(tmpdir(), 'archive-'));
  return { root, store: createDirectoryArchive(root, keys.prefix), dir: join(root, keys.prefix) };
};

const run = (
  store: ArchiveStore,
  log: { name: string; key: string },
  options: { segmentEntries?: number; afterStep?: (step: ArchiveStep) => void } = {},
) =>
  archiveLog({
    redis,
    store,
    log,
    archiveAfterMs: DAY,
    segmentEntries: options.segmentEntries ?? 1_000,
    ...(options.afterStep ? { afterStep: options.afterStep } : {}),
  });

/** Every entry of a log through the reader, `page` at a time. */
const readAll = async (reader: LogReader, logKey: string, page: number) => {
  const entries: RawEntry[] = [];
  for (;;) {
    const next = await reader.readLogRange(logKey, entries.at(-1)?.[0] ?? '0', page);
    entries.push(...next);
    if (next.length < page) return entries;
  }
};

describe('archiveLog and the range reader', () => {
  it('moves entries older than the window to segments, trims them, and every read gives what readLog gave before', async () => {
    const keys = testKeys();
    const { log, before } = await seedLog(keys, 2_500, 10);
    const { store, dir } = newArchive(keys);

    expect(await run(store, log)).toMatchObject({ archived: 2_500, segments: 3 });

    expect(await redis.xlen(log.key)).toBe(10);
    const manifest = await store.readManifest(log.name);
    expect(manifest.segments.map((s) => [s.first, s.last, s.count])).toEqual([
      [before[0]![0], before[999]![0], 1_000],
      [before[1_000]![0], before[1_999]![0], 1_000],
      [before[2_000]![0], before[2_499]![0], 500],
    ]);
    expect(readdirSync(join(dir, log.name)).sort()).toEqual(
      ['manifest.json', ...manifest.segments.map((s) => s.file)].sort(),
    );
    const reader = createLogReader({ redis, keys, archive: store });
    expect(await reader.readLogRange(log.key, '0', 1_000_000)).toEqual(before);
    for (const page of [1, 333, 1_000, 2_501]) {
      expect(await readAll(reader, log.key, page), `pages of ${page}`).toEqual(before);
    }
    // Bounded ranges, across a segment boundary and across archive and Redis.
    expect(await reader.readLogRange(log.key, before[990]![0], 20, before[1_005]![0])).toEqual(
      before.slice(991, 1_006),
    );
    expect(
      await reader.readLogRange(log.key, before[2_495]![0], 10, `(${before[2_505]![0]}`),
    ).toEqual(before.slice(2_496, 2_505));
    const wanted = [2_499, 0, 1_000, 999, 1_742, 3];
    expect(
      await reader.readEntriesByIds(
        log.key,
        wanted.map((i) => before[i]![0]),
      ),
    ).toEqual(wanted.map((i) => before[i]));

    // A second run finds nothing more to move and duplicates nothing.
    expect(await run(store, log)).toMatchObject({ archived: 0, segments: 0 });
    expect(await readAll(reader, log.key, 400)).toEqual(before);
  });

  it('serves the entries a layout-2 index names missing from the log, exactly as they were', async () => {
    const keys = testKeys();
    const taskId = newId();
    const task = {
      streamKey: keys.taskStream(taskId),
      logKey: keys.taskLog(keys.partitionOf(taskId)),
    };
    const comment = newComment;
    const append = (expectedRevision: 'none' | number, texts: string[]) =>
      appendToStream(
        redis,
        { ...task, aggregateId: taskId, expectedRevision, events: texts.map(comment) },
        2,
      );
    await append('none', ['one', 'two']);
    await redis.xadd(task.logKey, '*', 'note', 'another task');
    await append(1, ['three']);
    const before = await readIndexed(redis, task.streamKey, task.logKey);
    expect(before.missing).toEqual([]);
    const { store } = newArchive(keys);
    const log = keys.logs().find((l) => l.key === task.logKey)!;

    // Two days on, everything is older than the window of a day.
    await archiveLog({
      redis,
      store,
      log,
      archiveAfterMs: DAY,
      segmentEntries: 2,
      now: () => Date.now() + 2 * DAY,
    });
    await append(2, ['four']);
    const after = await readIndexed(redis, task.streamKey, task.logKey);
    expect(after.missing).toEqual(before.entries.map(([id]) => id));
    const reader = createLogReader({ redis, keys, archive: store });
    expect(await reader.readEntriesByIds(task.logKey, after.missing)).toEqual(before.entries);
    expect(after.entries).toHaveLength(1);
    await expect(reader.readEntriesByIds(task.logKey, [after.entries[0]![0]])).rejects.toThrow(
      /neither in Redis nor in the archive/,
    );
  });

  it('without an archive the reader is readLog itself', async () => {
    const keys = testKeys();
    const { log, before } = await seedLog(keys, 50, 5);
    const reader = createLogReader({ redis, keys });
    expect(await readAll(reader, log.key, 7)).toEqual(before);
    expect(await reader.readLogRange(log.key, before[3]![0], 4, before[5]![0])).toEqual(
      await readLog(redis, log.key, before[3]![0], 4, before[5]![0]),
    );
  });
});

describe('what a consumer group has not acknowledged', () => {
  it('is never archived: pending entries, undelivered ones, and everything of a group created but behind', async () => {
    const keys = testKeys();
    const { log, before } = await seedLog(keys, 1_000, 0);
    const { store } = newArchive(keys);
    const idAt = (i: number) => before[i]![0];

    // A group created but behind holds everything back.
    await redis.xgroup('CREATE', log.key, 'projector', '0');
    expect(await run(store, log)).toMatchObject({ archived: 0 });

    // Delivered through #599, acknowledged through #399: #400 on is pending.
    await redis.xreadgroup('GROUP', 'projector', 'c1', 'COUNT', 600, 'STREAMS', log.key, '>');
    await redis.xack(log.key, 'projector', ...before.slice(0, 400).map(([id]) => id));
    expect(await run(store, log)).toMatchObject({ archived: 400, archivedThrough: idAt(399) });
    expect((await readLog(redis, log.key, '0', 1))[0]?.[0]).toBe(idAt(400));

    // All 600 acknowledged: #600 on was never delivered.
    await redis.xack(log.key, 'projector', ...before.slice(400, 600).map(([id]) => id));
    expect(await run(store, log)).toMatchObject({ archived: 200, archivedThrough: idAt(599) });

    // A second group, delivered through #899 with #700 still pending, holds the first back at #699.
    await redis.xgroup('CREATE', log.key, 'other', idAt(599));
    await redis.xreadgroup('GROUP', 'projector', 'c1', 'COUNT', 400, 'STREAMS', log.key, '>');
    await redis.xack(log.key, 'projector', ...before.slice(600).map(([id]) => id));
    await redis.xreadgroup('GROUP', 'other', 'c1', 'COUNT', 300, 'STREAMS', log.key, '>');
    await redis.xack(log.key, 'other', ...before.slice(600, 700).map(([id]) => id));
    await redis.xack(log.key, 'other', ...before.slice(701, 900).map(([id]) => id));
    expect(await run(store, log)).toMatchObject({ archived: 100, archivedThrough: idAt(699) });

    const reader = createLogReader({ redis, keys, archive: store });
    expect(await readAll(reader, log.key, 128)).toEqual(before);
  });
});

describe('a crash between segment, manifest and trim', () => {
  for (const step of ['segment', 'manifest', 'trim'] as const) {
    it(`after the ${step}: the next run completes, nothing lost, nothing duplicated`, async () => {
      const keys = testKeys();
      const { log, before } = await seedLog(keys, 1_200, 10);
      const { store, dir } = newArchive(keys);
      const reader = createLogReader({ redis, keys, archive: store });
      let steps = 0;
      // The last segment's step throws, as a process killed there stops: the
      // next run has nothing new to move, only what this one left to finish.
      await expect(
        run(store, log, {
          segmentEntries: 500,
          afterStep: (done) => {
            if (done === step && ++steps === 3) throw new Error(`crash after ${step}`);
          },
        }),
      ).rejects.toThrow(`crash after ${step}`);
      // Readers see every entry once in between, too.
      expect(await readAll(reader, log.key, 300)).toEqual(before);

      expect(await run(store, log, { segmentEntries: 500 })).toMatchObject({
        archivedThrough: before[1_199]![0],
      });
      expect(await readAll(reader, log.key, 300)).toEqual(before);
      const { segments } = await store.readManifest(log.name);
      expect(segments.map((s) => s.count)).toEqual([500, 500, 200]);
      expect(readdirSync(join(dir, log.name)).sort()).toEqual(
        ['manifest.json', ...segments.map((s) => s.file)].sort(),
      );
      expect(await redis.xlen(log.key)).toBe(10);
    });
  }
});

describe('a corrupted segment', () => {
  it('is detected by its checksum, reported, and never served', async () => {
    const keys = testKeys();
    const { log, before } = await seedLog(keys, 1_500, 10);
    const { store, dir } = newArchive(keys);
    await run(store, log);
    const { segments } = await store.readManifest(log.name);
    const file = join(dir, log.name, segments[0]!.file);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(file, bytes);

    const { logger, lines } = capturingLogger();
    const metrics = createMetrics('test');
    const reader = createLogReader({ redis, keys, archive: store, logger, metrics });
    await expect(reader.readLogRange(log.key, '0', 100)).rejects.toBeInstanceOf(
      ArchiveCorruptionError,
    );
    await expect(reader.readEntriesByIds(log.key, [before[5]![0]])).rejects.toThrow(
      /sha256 differs/,
    );
    const counted = await metrics.registry
      .getSingleMetric('tasksync_archive_corrupt_segments_total')
      ?.get();
    expect(counted?.values).toEqual([{ labels: { log: log.name }, value: 2 }]);
    expect(lines.filter((line) => line.includes('corrupt archive segment'))).toHaveLength(2);
    // The sound segment after it is still served.
    expect(await reader.readLogRange(log.key, before[999]![0], 600)).toEqual(
      before.slice(1_000, 1_600),
    );
  });
});

describe('a reader while the archiver runs', () => {
  it('redoes a read from the archive when the archiver trimmed past its start between its manifest and Redis', async () => {
    const keys = testKeys();
    const { log, before } = await seedLog(keys, 2_000, 10);
    const { store } = newArchive(keys);
    let archiveMeanwhile: (() => Promise<unknown>) | undefined;
    // The reader's store runs the archiver right after handing out a manifest.
    const racing: ArchiveStore = {
      ...store,
      readManifest: async (name) => {
        const manifest = await store.readManifest(name);
        const archive = archiveMeanwhile;
        archiveMeanwhile = undefined;
        await archive?.();
        return manifest;
      },
    };
    const reader = createLogReader({ redis, keys, archive: racing });
    const firstSegmentOnly = () =>
      archiveLog({
        redis,
        store,
        log,
        archiveAfterMs: DAY,
        segmentEntries: 500,
        mayContinue: async () => false,
      });

    // Nothing archived when the reader looks; 500 entries gone from Redis when it reads.
    archiveMeanwhile = firstSegmentOnly;
    expect(await reader.readLogRange(log.key, '0', 100)).toEqual(before.slice(0, 100));
    // Reading past the archive (after #600) while the archiver takes the next 500.
    archiveMeanwhile = firstSegmentOnly;
    expect(await reader.readLogRange(log.key, before[600]![0], 100)).toEqual(
      before.slice(601, 701),
    );
    // Reading across the archive's end while it moves on.
    archiveMeanwhile = firstSegmentOnly;
    expect(await reader.readLogRange(log.key, before[950]![0], 100)).toEqual(
      before.slice(951, 1_051),
    );
    expect((await store.readManifest(log.name)).segments).toHaveLength(3);
  });

  it('sees every entry exactly once, pass after pass', async () => {
    const keys = testKeys();
    const { log, before } = await seedLog(keys, 2_000, 10);
    const { store } = newArchive(keys);
    const reader = createLogReader({ redis, keys, archive: store });
    let archiving = true;
    const archiver = run(store, log, { segmentEntries: 40 }).finally(() => {
      archiving = false;
    });
    let passes = 0;
    while (archiving) {
      expect(await readAll(reader, log.key, 97)).toEqual(before);
      passes++;
    }
    expect(await archiver).toMatchObject({ archived: 2_000, segments: 50 });
    expect(passes).toBeGreaterThan(1);
    expect(await readAll(reader, log.key, 97)).toEqual(before);
  });
});
