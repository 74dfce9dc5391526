import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyLayout } from '@tasksync/contracts';
import {
  createDirectoryArchive,
  createLogReader,
  type RawEntry,
  readLog,
} from '@tasksync/platform';
import { afterAll, describe, expect, it } from 'vitest';
import { runTs } from '../../scripts/processes';
import { freePort } from '../../scripts/redis-server';
import {
  cleanEnv,
  connectTestRedis,
  testPartitions,
  testProcesses,
  testRedisEnv,
  uniquePrefix,
  waitFor,
} from '../../test/support';

const redis = connectTestRedis();
const processes = testProcesses();
afterAll(async () => {
  await processes.stopAll();
  await redis.quit();
});

const DAY = 86_400_000;

/** A fresh prefix whose first task log has `old` entries from ten days ago and `recent` from the last hour. */
const seeded = async (old: number, recent: number) => {
  const prefix = uniquePrefix();
  const keys = createKeyLayout(prefix, testPartitions(1));
  const log = keys.logs()[0]!;
  const start = Date.now() - 10 * DAY;
  for (let i = 0; i < old + recent; i++) {
    const ms = i < old ? start + Math.floor(i / 2) : Date.now() - 3_600_000 + i;
    await redis.xadd(log.key, `${ms}-*`, 'id', `event-${i}`, 'data', JSON.stringify({ i }));
  }
  const archiveDir = mkdtempSync(join(tmpdir(), 'archiver-'));
  const env = cleanEnv({
    ...testRedisEnv(),
    REDIS_PREFIX: prefix,
    EVENT_PARTITIONS: String(keys.partitions),
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    ARCHIVE_DIR: archiveDir,
    ARCHIVE_AFTER: '1d',
    ARCHIVE_SEGMENT_ENTRIES: '400',
  });
  const store = createDirectoryArchive(archiveDir, prefix);
  const reader = createLogReader({ redis, keys, archive: store });
  const everything = async () => {
    const entries: RawEntry[] = [];
    for (;;) {
      const page = await reader.readLogRange(log.key, entries.at(-1)?.[0] ?? '0', 250);
      entries.push(...page);
      if (page.length < 250) return entries;
    }
  };
  return { keys, log, env, store, everything, before: await readLog(redis, log.key, '0', 100_000) };
};

const archiveOnce = (env: NodeJS.ProcessEnv) =>
  processes.track(runTs('archiver/src/main.ts', env, ['--once']));

describe('archiver --once killed (SIGKILL) after a step of its first segment', () => {
  for (const step of ['segment', 'manifest', 'trim'] as const) {
    it(`after the ${step}: the next run completes, nothing lost, nothing duplicated`, async () => {
      const { keys, env, log, store, everything, before } = await seeded(1_000, 20);

      const crashed = archiveOnce({ ...env, ARCHIVER_CRASH_AFTER: step });
      expect(await crashed.exited, crashed.output()).toBeNull();
      expect(crashed.child.signalCode).toBe('SIGKILL');
      const listed = (await store.readManifest(log.name)).segments.length;
      expect(listed).toBe(step === 'segment' ? 0 : 1);
      expect(await everything()).toEqual(before);

      // The killed archiver's lease lapses (after ARCHIVER_LEASE_MS); a second
      // archiver meanwhile leaves the log alone.
      expect(await archiveOnce(env).exited).toBe(0);
      expect((await store.readManifest(log.name)).segments).toHaveLength(listed);
      await redis.del(keys.archiverLease(log.key));
      const rerun = archiveOnce(env);
      expect(await rerun.exited, rerun.output()).toBe(0);
      expect(await everything()).toEqual(before);
      const { segments } = await store.readManifest(log.name);
      expect(segments.map((s) => s.count)).toEqual([400, 400, 200]);
      expect(await redis.xlen(log.key)).toBe(20);
    });
  }
});

describe('the archiver service', () => {
  it('archives every interval and reports it on /metrics; without ARCHIVE_AFTER it moves nothing', async () => {
    const off = await seeded(300, 5);
    const offPort = await freePort();
    const { ARCHIVE_AFTER: _, ...offEnv } = off.env;
    await processes.start(
      'archiver/src/main.ts',
      { ...offEnv, ARCHIVER_PORT: String(offPort) },
      `http://127.0.0.1:${offPort}`,
    );

    const on = await seeded(900, 5);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    await processes.start(
      'archiver/src/main.ts',
      { ...on.env, ARCHIVER_PORT: String(port), ARCHIVE_INTERVAL: '100ms' },
      url,
    );
    const name = on.log.name;
    const metrics = await waitFor(
      async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        return text.includes(`tasksync_archive_entries_archived_total{log="${name}"`) &&
          /tasksync_archive_entries\{log="t0"[^}]*\} 900/.test(text)
          ? text
          : undefined;
      },
      { message: 'the archiver to report 900 archived entries' },
    );
    const value = (metric: string) =>
      Number(new RegExp(`${metric}\\{log="${name}"[^}]*\\} (\\S+)`).exec(metrics)?.[1]);
    expect(value('tasksync_archive_entries_archived_total')).toBe(900);
    expect(value('tasksync_archive_segments')).toBe(3);
    expect(value('tasksync_archive_bytes')).toBeGreaterThan(0);
    expect(value('tasksync_archive_redis_memory_bytes')).toBeGreaterThan(0);
    expect(value('tasksync_archive_last_run_timestamp_seconds')).toBeGreaterThan(0);
    expect(await on.everything()).toEqual(on.before);
    expect(await redis.xlen(on.log.key)).toBe(5);

    expect(await redis.xlen(off.log.key)).toBe(305);
    expect((await off.store.readManifest(off.log.name)).segments).toEqual([]);
  });
});
