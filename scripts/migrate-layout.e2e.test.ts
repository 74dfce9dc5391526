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
 * round per entry or aggregate, and a progress line for each; with `stopAt`
 * (`<phase>:<n>`) it stops itself once that phase has done n.
 */
const migrateLayoutCli = (keys: KeyLayout, stopAt?: string) => {
  const env = cleanEnv({
    ...testRedisEnv(),
    REDIS_PREFIX: keys.prefix,
    EVENT_PARTITIONS: String(keys.partitions),
    ...(stopAt ? { MIGRATE_LAYOUT_STOP_AT: stopAt } : {}),
  });
  const process = runTs('scripts/migrate-layout.ts', env, [
    '--batch-size',
    '1',
    '--progress-ms',
    '0',
  ]);
  running.push(process);
  return process;
};

/** Where a run's copy began: its first progress line (a resumed run starts part done). */
const copyStartOf = (process: RunningProcess) =>
  Number(/migrate-layout: copy ([\d,]+) \//.exec(process.output())?.[1]?.replaceAll(',', '') ?? -1);

const between = (low: number, high: number) => low + Math.floor(Math.random() * (high - low + 1));

/**
 * Runs the CLI until it has done `at` in `phase` and stopped itself there,
 * then kills it with SIGKILL: a kill -9 at exactly that point of the run.
 */
const killedAt = async (keys: KeyLayout, phase: string, at: number) => {
  const process = migrateLayoutCli(keys, `${phase}:${at}`);
  await waitFor(() => (/migrate-layout: stopped at/.test(process.output()) ? true : undefined), {
    timeoutMs: 30_000,
    message: `${phase} ${at}:\n${process.output()}`,
  });
  process.child.kill('SIGKILL');
  expect(await process.exited).toBeNull();
  expect(process.child.signalCode).toBe('SIGKILL');
  expect(process.output()).not.toMatch(/layout 2\./);
  return process;
};

describe('npm run migrate-layout', () => {
  it('ends identical after kill -9 in the copy (twice), the verification and the switch, switching the layout only at the end; a second run does nothing', async () => {
    const keys = testKeys(2);
    const store = await writeV1Store(redis, keys, { tasks: 150 });
    const before = await readAllAggregates(redis, store.aggregates, 1);
    const aggregates = store.aggregates.length;
    const kills: string[] = [];

    const firstKill = between(20, Math.floor(store.events * 0.3));
    await killedAt(keys, 'copy', firstKill);
    kills.push(`copy ${firstKill}`);
    expect(await redis.hget(keys.meta, 'layoutVersion')).toBe('1');

    const secondKill = between(firstKill + 10, Math.floor(store.events * 0.7));
    const second = await killedAt(keys, 'copy', secondKill);
    kills.push(`copy ${secondKill}`);
    // Resumed where the killed run's last batch left it, not from the start.
    // (Other logs' batches in flight when it stopped may have been copied too.)
    expect(copyStartOf(second)).toBeGreaterThanOrEqual(firstKill);
    expect(copyStartOf(second)).toBeLessThan(secondKill);
    expect(await redis.hget(keys.meta, 'layoutVersion')).toBe('1');

    const verifyKill = between(1, Math.floor(aggregates * 0.6));
    await killedAt(keys, 'verify', verifyKill);
    kills.push(`verify ${verifyKill}`);
    expect(await redis.hget(keys.meta, 'layoutVersion')).toBe('1');

    const switchKill = between(1, Math.floor(aggregates * 0.6));
    await killedAt(keys, 'switch', switchKill);
    kills.push(`switch ${switchKill}`);
    expect(await redis.hget(keys.meta, 'layoutVersion')).toBe('1');
    const types = await Promise.all(store.aggregates.map((a) => redis.type(a.streamKey)));
    expect(
      types.filter((type) => type === 'string').length,
      `switched when killed at ${kills.join(', ')}`,
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
      `killed at ${kills.join(', ')}`,
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
