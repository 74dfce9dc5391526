import type { KeyLayout } from '@tasksync/contracts';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { capturingLogger, connectTestRedis, testKeys, waitFor } from '../../../test/support';
import { type LogEntry, mergedLogOrder, startLogTail } from './log-tail';

const redis = connectTestRedis();
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});
afterAll(() => redis.quit());

/** An entry with an id of our choosing (the order is by id time, not by arrival). */
const add = (keys: KeyLayout, log: string, entryId: string) =>
  redis.xadd(keys.logKeyByName(log)!, entryId, 'note', log);

const follow = async (
  keys: KeyLayout,
  options: {
    maxOrderWaitMs?: number;
    prepare?: (log: string, entries: LogEntry[]) => Promise<void>;
  } = {},
) => {
  const handed: string[] = [];
  const tail = await startLogTail({
    redis,
    keys,
    logger: capturingLogger('error').logger,
    stateLogs: ['p', 'id'],
    blockMs: 50,
    ...options,
    onEntries: (log, entries) => {
      for (const entry of entries) handed.push(`${log}:${entry.entryId}`);
    },
  });
  stops.push(tail.stop);
  return { tail, handed };
};

describe('startLogTail with state logs', () => {
  it('hands entries on by entry-id time, state logs first within a millisecond, whatever the arrival order', async () => {
    const keys = testKeys(1);
    const { handed, tail } = await follow(keys, { maxOrderWaitMs: 10_000 });
    // Ahead of the clock, so the task entries must wait for the project log to pass their time.
    // Far enough ahead that a loaded machine still appends everything before it.
    const ms = Date.now() + 1_500;
    await add(keys, 't0', `${ms}-0`);
    await add(keys, 't0', `${ms + 1}-0`);
    // A window in which nothing may be handed on: the project log could still get an earlier entry.
    await tail.nextBatch(100);
    expect(handed).toEqual([]);
    await add(keys, 'p', `${ms}-7`);
    await add(keys, 'id', `${ms + 1}-0`);
    await waitFor(() => (handed.length === 4 ? true : undefined));
    expect(handed).toEqual([`p:${ms}-7`, `t0:${ms}-0`, `id:${ms + 1}-0`, `t0:${ms + 1}-0`]);
    expect(
      [...handed]
        .map((position) => {
          const [log, entryId] = position.split(':') as [string, string];
          return { log, entryId };
        })
        .sort(mergedLogOrder(['p', 'id']))
        .map(({ log, entryId }) => `${log}:${entryId}`),
    ).toEqual(handed);
  });

  it('hands a state entry on only once every task log has nothing earlier', async () => {
    const keys = testKeys(2);
    const { handed, tail } = await follow(keys, { maxOrderWaitMs: 10_000 });
    // Far enough ahead that a loaded machine still appends everything before it.
    const ms = Date.now() + 1_500;
    await add(keys, 'p', `${ms}-0`);
    await tail.nextBatch(100);
    expect(handed).toEqual([]);
    await add(keys, 't1', `${ms - 1}-0`);
    await add(keys, 't0', `${ms - 2}-0`);
    await waitFor(() => (handed.length === 3 ? true : undefined));
    expect(handed.at(-1)).toBe(`p:${ms}-0`);
  });

  it('awaits prepare before a batch is handed on; the position moves with the hand-on', async () => {
    const keys = testKeys(1);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const prepared: string[] = [];
    const { handed, tail } = await follow(keys, {
      prepare: async (log) => {
        prepared.push(log);
        if (log === 't0') await gate;
      },
    });
    const first = await add(keys, 't0', '*');
    await waitFor(() => (prepared.includes('t0') ? true : undefined));
    const second = await add(keys, 'p', '*');
    expect(handed).toEqual([]);
    expect(tail.position('t0')).toBe('0-0');
    release();
    await waitFor(() => (handed.length === 2 ? true : undefined));
    expect(handed).toEqual([`t0:${first}`, `p:${second}`]);
  });

  it('gives up waiting for a clock far behind an entry’s time and hands it on', async () => {
    const keys = testKeys(1);
    const { handed } = await follow(keys, { maxOrderWaitMs: 200 });
    const started = Date.now();
    const future = `${Date.now() + 60_000}-0`;
    await add(keys, 't0', future);
    await waitFor(() => (handed.length === 1 ? true : undefined));
    expect(handed).toEqual([`t0:${future}`]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
