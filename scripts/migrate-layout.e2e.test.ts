import type { KeyLayout } from '@tasksync/contracts';
import type { RedisClient } from '@tasksync/platform';
import { afterAll, describe, expect, it } from 'vitest';
import { readAllAggregates, writeV1Store } from '../test/fixtures/v1-store';
import { cleanEnv, connectTestRedis, testKeys, testRedisEnv, waitFor } from '../test/support';
import { type RunningProcess, runTs } from './processes';

const redis: RedisClient = connectTestRedis();
const running: RunningProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((process) => process.stop('SIGKILL')));
  await redis.quit();
});

/**
 * `npm run migrate-layout` on this test's store: a copy call and a switch
 * round per entry or aggregate, and a progress line for each, so a test can
 * stop it anywhere.
 */
const migrateLayoutCli = (keys: KeyLayout, args: string[] = []) => {
  const env = cleanEnv({
    ...testRedisEnv(),
    REDIS_PREFIX: keys.prefix,
    EVENT_PARTITIONS: String(keys.partitions),
  });
  const process = runTs('scripts/migrate-layout.ts', env, [
    '--batch-size',
    '1',
    '--progress-ms',
    '0',
    ...args,
  ]);
  running.push(process);
  return process;
};

/** How far the run's progress lines say a phase has come (-1: not started). */
const progressOf = (process: RunningProcess, phase: string) => {
  const lines = [
    ...process.output().matchAll(new RegExp(`migrate-layout: ${phase} ([\\d,]+) / ([\\d,]+)`, 'g')),
  ];
  const last = lines.at(-1);
  return last
    ? { done: Number(last[1]!.replaceAll(',', '')), total: Number(last[2]!.replaceAll(',', '')) }
    : { done: -1, total: 0 };
};

const between = (low: number, high: number) => low + Math.floor(Math.random() * (high - low + 1));

/**
 * Kills the run with SIGKILL once its progress in `phase` reaches `at`, and
 * checks that it was still running then: a kill after the end tests nothing.
 */
const killWhen = async (process: RunningProcess, phase: string, at: number) => {
  await waitFor(() => (progressOf(process, phase).done >= at ? true : undefined), {
    timeoutMs: 30_000,
    message: `${phase} progress ${at}:\n${process.output()}`,
  });
  process.child.kill('SIGKILL');
  expect(await process.exited).toBeNull();
  expect(process.child.signalCode).toBe('SIGKILL');
  expect(process.output()).not.toMatch(/layout 2\./);
};

describe('npm run migrate-layout', () => {
  it('ends identical after kill -9 in the copy (twice), the verification and the switch, switching the layout only at the end; a second run does nothing', async () => {
    const keys = testKeys(2);
    const store = await writeV1Store(redis, keys, { tasks: 150 });
    const before = await readAllAggregates(redis, store.aggregates, 1);
    const aggregates = store.aggregates.length;
    const killedAt: string[] = [];

    const first = migrateLayoutCli(keys);
    const firstKill = between(20, Math.floor(store.events * 0.3));
    await killWhen(first, 'copy', firstKill);
    killedAt.push(`copy ${progressOf(first, 'copy').done}`);
    expect(await redis.hget(keys.meta, 'layoutVersion')).toBe('1');

    const second = migrateLayoutCli(keys);
    await waitFor(() => (progressOf(second, 'copy').done >= 0 ? true : undefined));
    const resumedAt = progressOf(second, 'copy').done;
    // Resumed where the killed run's last batch left it, not from the start.
    expect(resumedAt).toBeGreaterThanOrEqual(firstKill);
    await killWhen(second, 'copy', between(resumedAt + 10, Math.floor(store.events * 0.7)));
    killedAt.push(`copy ${progressOf(second, 'copy').done}`);
    expect(await redis.hget(keys.meta, 'layoutVersion')).toBe('1');

    const third = migrateLayoutCli(keys);
    await killWhen(third, 'verify', between(1, Math.floor(aggregates * 0.6)));
    killedAt.push(`verify ${progressOf(third, 'verify').done}`);
    expect(await redis.hget(keys.meta, 'layoutVersion')).toBe('1');

    const fourth = migrateLayoutCli(keys);
    const switchKill = between(1, Math.floor(aggregates * 0.6));
    await killWhen(fourth, 'switch', switchKill);
    killedAt.push(`switch ${progressOf(fourth, 'switch').done}`);
    expect(await redis.hget(keys.meta, 'layoutVersion')).toBe('1');
    const types = await Promise.all(store.aggregates.map((a) => redis.type(a.streamKey)));
    expect(
      types.filter((type) => type === 'string').length,
      `switched when killed at ${killedAt.join(', ')}`,
    ).toBeGreaterThanOrEqual(switchKill);

    const last = migrateLayoutCli(keys);
    expect(await last.exited, last.output()).toBe(0);
    expect(last.output()).toMatch(
      new RegExp(
        `layout 2\\. \\d+ aggregates switched by this run; ${store.events} events indexed`,
      ),
    );
    expect(await redis.hget(keys.meta, 'layoutVersion')).toBe('2');
    expect(
      await readAllAggregates(redis, store.aggregates, 2),
      `killed at ${killedAt.join(', ')}`,
    ).toEqual(before);

    const again = migrateLayoutCli(keys);
    expect(await again.exited).toBe(0);
    expect(again.output()).toMatch(/is on layout 2 already; nothing to do/);
    expect(await readAllAggregates(redis, store.aggregates, 2)).toEqual(before);
  });

  it('refuses a store whose aggregate stream differs from its log, exiting 1 with layout 1 kept', async () => {
    const keys = testKeys(2);
    const store = await writeV1Store(redis, keys, { tasks: 4 });
    const planted = keys.taskStream(store.tasks[2]!);
    await redis.xadd(planted, '*', 'id', 'planted', 'type', 'TaskDeleted');

    const run = migrateLayoutCli(keys);
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(
      /refused, still layout 1\. Differences between the aggregate streams and the logs: 1:/,
    );
    expect(run.output()).toContain(planted);
    expect(await redis.hget(keys.meta, 'layoutVersion')).toBe('1');
  });
});
