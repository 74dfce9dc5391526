import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { connectTestRedis, onCluster, testKeys, waitFor } from '../../../test/support';
import { repoRoot } from '../config';
import { type ConsumedEntry, startConsumer } from './consumer';

const redis = connectTestRedis();
afterAll(() => redis.quit());

const addEntries = async (streamKey: string, count: number, label = 'n') => {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await redis.xadd(streamKey, '*', label, String(i)))!);
  return ids;
};

/** Runs test/fixtures/stuck-consumer.ts: it receives entries, never acks, and is SIGKILLed. */
const startStuckProcess = (streamKey: string, group: string, consumer: string, dlq: string) => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(repoRoot, 'test/fixtures/stuck-consumer.ts'),
      inject('redisUrl'),
      String(onCluster()),
      streamKey,
      group,
      consumer,
      dlq,
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const received: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n'))
      if (line.startsWith('received ')) received.push(line.slice(9));
  });
  const killed = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    received,
    kill: async () => {
      child.kill('SIGKILL');
      await killed;
    },
  };
};

const pendingCount = async (streamKey: string) =>
  ((await redis.xpending(streamKey, 'g')) as [number])[0];

const recorder = () => {
  const seen: string[] = [];
  return {
    seen,
    handle: async (entries: ConsumedEntry[]) => void seen.push(...entries.map((e) => e.id)),
  };
};

describe('startConsumer', () => {
  it('gives a consumer killed before XACK its pending entries back on restart', async () => {
    const keys = testKeys();
    const streamKey = keys.taskLog(0);
    const dlq = keys.deadLetters(streamKey, 'g');
    const ids = await addEntries(streamKey, 5);
    const stuck = startStuckProcess(streamKey, 'g', 'worker-1', dlq);
    await waitFor(() => (stuck.received.length === 5 ? true : undefined), {
      message: 'stuck consumer to receive 5',
    });
    await stuck.kill();
    expect(await pendingCount(streamKey)).toBe(5);

    const { seen, handle } = recorder();
    const restarted = startConsumer({
      redis,
      streamKey,
      group: 'g',
      consumer: 'worker-1',
      deadLetterKey: dlq,
      handle,
      blockMs: 50,
    });
    await waitFor(() => (seen.length >= 5 ? true : undefined));
    const more = await addEntries(streamKey, 2);
    await waitFor(() => (seen.length >= 7 ? true : undefined));
    await restarted.stop();
    expect(seen).toEqual([...ids, ...more]);
    expect(await pendingCount(streamKey)).toBe(0);
  });

  it('lets another consumer claim the entries of a dead one', async () => {
    const keys = testKeys();
    const streamKey = keys.taskLog(0);
    const dlq = keys.deadLetters(streamKey, 'g');
    const ids = await addEntries(streamKey, 4);
    const stuck = startStuckProcess(streamKey, 'g', 'dead-one', dlq);
    await waitFor(() => (stuck.received.length === 4 ? true : undefined));
    await stuck.kill();

    const { seen, handle } = recorder();
    const survivor = startConsumer({
      redis,
      streamKey,
      group: 'g',
      consumer: 'survivor',
      deadLetterKey: dlq,
      handle,
      blockMs: 50,
      claimIdleMs: 200,
      claimIntervalMs: 50,
    });
    await waitFor(() => (seen.length >= 4 ? true : undefined));
    await survivor.stop();
    expect(seen).toEqual(ids);
    const consumers = (await redis.xinfo('CONSUMERS', streamKey, 'g')) as unknown[][];
    const pendingOf = (name: string) => {
      const info = consumers.find((c) => c[1] === name)!;
      return info[info.indexOf('pending') + 1];
    };
    expect(pendingOf('dead-one')).toBe(0);
    expect(pendingOf('survivor')).toBe(0);
  });

  it('moves a poison entry to the dead-letter stream after N tries while later entries flow', async () => {
    const keys = testKeys();
    const streamKey = keys.taskLog(0);
    const dlq = keys.deadLetters(streamKey, 'g');
    const before = await addEntries(streamKey, 3);
    const [poison] = await addEntries(streamKey, 1, 'poison');
    const after = await addEntries(streamKey, 3);
    const handled: string[] = [];
    let poisonTries = 0;
    const consumer = startConsumer({
      redis,
      streamKey,
      group: 'g',
      consumer: 'c',
      deadLetterKey: dlq,
      blockMs: 50,
      maxDeliveries: 3,
      retryDelayMs: 5,
      handle: async (entries) => {
        if (entries.some((e) => e.fields.poison !== undefined)) {
          if (entries.length === 1) poisonTries++;
          throw new Error('cannot digest this');
        }
        handled.push(...entries.map((e) => e.id));
      },
    });
    await waitFor(() => (handled.length >= 6 ? true : undefined));
    const late = await addEntries(streamKey, 2);
    await waitFor(() => (handled.length >= 8 ? true : undefined));
    await consumer.stop();

    expect(handled).toEqual([...before, ...after, ...late]);
    expect(poisonTries).toBe(3);
    const dead = await redis.xrange(dlq, '-', '+');
    expect(dead).toHaveLength(1);
    const fields = dead[0]![1];
    const field = (name: string) => fields[fields.indexOf(name) + 1];
    expect(field('entry')).toBe(poison);
    expect(field('deliveries')).toBe('3');
    expect(field('error')).toBe('cannot digest this');
    expect(JSON.parse(field('fields')!)).toEqual({ poison: '0' });
    expect(await pendingCount(streamKey)).toBe(0);
  });

  it('handles every entry of a backlog once and in order when a batch fails and is retried', async () => {
    const keys = testKeys();
    const streamKey = keys.taskLog(0);
    const ids = await addEntries(streamKey, 40);
    const flaky = ids[9]!;
    let flakyFailures = 0;
    const handled: string[] = [];
    const consumer = startConsumer({
      redis,
      streamKey,
      group: 'g',
      consumer: 'c',
      deadLetterKey: keys.deadLetters(streamKey, 'g'),
      batchSize: 4,
      blockMs: 50,
      retryDelayMs: 5,
      handle: async (entries) => {
        if (entries.some((e) => e.id === flaky) && flakyFailures < 2) {
          flakyFailures++;
          throw new Error('not yet');
        }
        handled.push(...entries.map((e) => e.id));
      },
    });
    await waitFor(() => (handled.length >= 40 ? true : undefined));
    await consumer.stop();
    expect(handled).toEqual(ids);
    expect(flakyFailures).toBe(2);
    expect(await pendingCount(streamKey)).toBe(0);
  });

  it('finishes and acks the batch in hand when stopped', async () => {
    const keys = testKeys();
    const streamKey = keys.taskLog(0);
    await addEntries(streamKey, 3);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let inHand = 0;
    const consumer = startConsumer({
      redis,
      streamKey,
      group: 'g',
      consumer: 'c',
      deadLetterKey: keys.deadLetters(streamKey, 'g'),
      blockMs: 50,
      handle: async (entries) => {
        inHand = entries.length;
        await gate;
      },
    });
    await waitFor(() => (inHand === 3 ? true : undefined));
    const stopped = consumer.stop();
    release();
    await stopped;
    expect(await pendingCount(streamKey)).toBe(0);
  });
});
