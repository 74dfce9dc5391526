import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, type RedisClient, readRevisionCount } from '@tasksync/platform';
import { openReadModelReadOnly } from '@tasksync/platform/read-model';
import { afterAll, describe, expect, it } from 'vitest';
import {
  findRedisServer,
  freePort,
  type RedisServerHandle,
  startRedisServer,
} from '../scripts/redis-server';
import { client, resumingClient, serviceEnv, testProcesses, waitFor } from './support';

const { start, stopAll } = testProcesses();
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  await stopAll('SIGKILL');
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const readyStatus = async (url: string) =>
  (await fetch(`${url}/ready`).catch(() => undefined))?.status;

describe('Redis killed with SIGKILL and restarted on the same data', () => {
  it('loses nothing acknowledged (appendfsync always); services answer 503 meanwhile, then recover by themselves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'redis-fault-'));
    const port = await freePort();
    const startRedis = () =>
      startRedisServer({ binary: findRedisServer()!, port, dir, appendfsync: 'always' });
    let server: RedisServerHandle = await startRedis();
    cleanups.push(() => server.stop());
    const redis: RedisClient = createRedis({ REDIS_URL: server.url, REDIS_CLUSTER: false });
    // While Redis is away this client only waits; its reconnect errors are expected.
    redis.on('error', () => undefined);
    cleanups.push(() => redis.disconnect());
    const notifierPort = await freePort();
    const { keys, env, token, urls, readModelPath } = await serviceEnv(redis, {
      REDIS_URL: server.url,
      NOTIFIER_PORT: String(notifierPort),
    });
    const notifierUrl = `http://127.0.0.1:${notifierPort}`;
    const services: [string, string][] = [
      ['command-service/src/main.ts', urls.command],
      ['projector/src/main.ts', urls.projector],
      ['query-service/src/main.ts', urls.query],
      ['notifier/src/main.ts', notifierUrl],
    ];
    for (const [entry, url] of services) await start(entry, env, url);
    const feed = resumingClient(notifierUrl, token);
    cleanups.push(() => feed.socket.disconnect());
    await feed.live;

    // A steady stream of commands; only a 201 counts as acknowledged.
    const api = client(urls.command);
    const acknowledged: string[] = [];
    const refusals = new Map<number, number>();
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const answer = await api.post('/tasks', { title: `fault ${i}` }, { token });
        if (answer.status === 201) acknowledged.push(answer.body.id);
        else refusals.set(answer.status, (refusals.get(answer.status) ?? 0) + 1);
      }
    })();
    await waitFor(() => (acknowledged.length >= 30 ? true : undefined));

    server.process.kill('SIGKILL');
    await new Promise((resolve) => server.process.once('exit', resolve));
    // Meanwhile: /ready says so, and a write is refused with 503, not left hanging.
    await waitFor(async () => ((await readyStatus(urls.command)) === 503 ? true : undefined));
    const down = await api.post('/tasks', { title: 'while Redis is away' }, { token });
    expect(down.status).toBe(503);
    expect(down.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(down.body.type).toBe('urn:tasksync:problem:storage-unavailable');

    server = await startRedis();
    for (const [, url] of services) {
      await waitFor(async () => ((await readyStatus(url)) === 200 ? true : undefined), {
        timeoutMs: 30_000,
        message: `${url}/ready after the restart`,
      });
    }
    const before = acknowledged.length;
    await waitFor(() => (acknowledged.length >= before + 30 ? true : undefined), {
      timeoutMs: 30_000,
    });
    writing = false;
    await writer;
    expect([...refusals.keys()].every((status) => status === 503)).toBe(true);

    // Every acknowledged task is in its stream and in the log.
    const logged = new Set<string>();
    for (const log of keys.logs().filter((l) => l.name.startsWith('t'))) {
      const entries = (await redis.xrange(log.key, '-', '+')) as [string, string[]][];
      for (const [, fields] of entries) logged.add(fields[fields.indexOf('agg') + 1]!);
    }
    for (const id of acknowledged) {
      expect(await readRevisionCount(redis, keys.taskStream(id)), id).toBe(1);
      expect(logged.has(id), id).toBe(true);
    }

    // The read model and the live feed converge on the log: each task once.
    const model = openReadModelReadOnly(readModelPath);
    cleanups.push(() => model.close());
    await waitFor(
      () => {
        const { n } = model.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number };
        return n === logged.size ? true : undefined;
      },
      { timeoutMs: 30_000, message: 'the read model to hold every logged task' },
    );
    await waitFor(
      () =>
        feed.received.filter((e) => e.type === 'TaskCreated').length >= logged.size
          ? true
          : undefined,
      { timeoutMs: 30_000, message: 'the feed to deliver every logged task' },
    );
    const delivered = feed.received
      .filter((e) => e.type === 'TaskCreated')
      .map((e) => e.aggregateId);
    expect(delivered.sort()).toEqual([...logged].sort());
  });
});
