import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectTestRedis, testKeys } from '../../../test/support';
import { archiveLog } from './archiver';
import { createArchiverLease } from './lease';
import { createDirectoryArchive } from './store';

const redis = connectTestRedis();
afterAll(() => redis.quit());

const DAY = 86_400_000;

const seed = async (logKey: string, count: number) => {
  const start = Date.now() - 10 * DAY;
  for (let i = 0; i < count; i++) await redis.xadd(logKey, `${start + i}-0`, 'i', String(i));
};

describe('the archiver lease of a log', () => {
  it('is held by one archiver at a time, and one that lost it trims nothing', async () => {
    const keys = testKeys();
    const log = keys.logs()[0]!;
    await seed(log.key, 300);
    const store = createDirectoryArchive(mkdtempSync(join(tmpdir(), 'archive-')), keys.prefix);
    const first = createArchiverLease(redis, keys, log.key, 'first');
    const second = createArchiverLease(redis, keys, log.key, 'second');
    expect(await first.tryTake()).toBe(true);
    expect(await second.tryTake()).toBe(false);

    // The first one pauses past its lease; the second takes the log over.
    let pausedRun: Promise<unknown> | undefined;
    const paused = archiveLog({
      redis,
      store,
      log,
      archiveAfterMs: DAY,
      segmentEntries: 100,
      trim: first.trim,
      afterStep: async (step) => {
        if (step !== 'manifest' || pausedRun) return;
        await redis.del(first.key);
        expect(await second.tryTake()).toBe(true);
        pausedRun = archiveLog({
          redis,
          store,
          log,
          archiveAfterMs: DAY,
          segmentEntries: 100,
          trim: second.trim,
        });
        await pausedRun;
      },
    });
    await expect(paused).rejects.toThrow(/ARCHIVER_LEASE_LOST/);
    expect(await pausedRun).toMatchObject({ archived: 200 });
    expect(await redis.xlen(log.key)).toBe(0);
    const { segments } = await store.readManifest(log.name);
    expect(segments.map((s) => s.count)).toEqual([100, 100, 100]);
  });

  it('stops a run whose manifest another archiver moved on', async () => {
    const keys = testKeys();
    const log = keys.logs()[0]!;
    await seed(log.key, 300);
    const store = createDirectoryArchive(mkdtempSync(join(tmpdir(), 'archive-')), keys.prefix);
    const options = { redis, store, log, archiveAfterMs: DAY, segmentEntries: 100 };
    let other: Promise<unknown> | undefined;
    await expect(
      archiveLog({
        ...options,
        afterStep: async (step) => {
          if (step !== 'segment' || other) return;
          other = archiveLog(options);
          await other;
        },
      }),
    ).rejects.toThrow(/manifest of t0 changed under this run/);
    expect(await other).toMatchObject({ archived: 300 });
    expect((await store.readManifest(log.name)).segments.map((s) => s.count)).toEqual([
      100, 100, 100,
    ]);
  });
});
