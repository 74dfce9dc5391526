import type { RedisClient } from '@tasksync/platform';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/redis-server';
import {
  client,
  connectTestRedis,
  resumingClient,
  serviceEnv,
  testProcesses,
  waitFor,
} from '../../test/support';

const redis: RedisClient = connectTestRedis();
const { start, stopAll } = testProcesses();
afterAll(async () => {
  await stopAll('SIGKILL');
  await redis.quit();
});

const taskIdsOf = (events: { type: string; aggregateId: string }[]) =>
  events.filter((event) => event.type === 'TaskCreated').map((event) => event.aggregateId);

describe('notifier processes', () => {
  it('misses nothing across a kill -9 and a restart: the client resumes with since', async () => {
    const notifierPort = await freePort();
    const { env, token, urls } = await serviceEnv(redis, { NOTIFIER_PORT: String(notifierPort) });
    const notifierUrl = `http://127.0.0.1:${notifierPort}`;
    await start('command-service/src/main.ts', env, urls.command);
    let notifier = await start('notifier/src/main.ts', env, notifierUrl);
    const feed = resumingClient(notifierUrl, token);
    await feed.live;

    const api = client(urls.command);
    const created: string[] = [];
    const create = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const answer = await api.post('/tasks', { title: `task ${created.length}` }, { token });
        expect(answer.status).toBe(201);
        created.push(answer.body.id);
      }
    };
    await create(10);
    await waitFor(() => (feed.received.length === 10 ? true : undefined));

    notifier.child.kill('SIGKILL');
    await notifier.exited;
    await create(10);
    notifier = await start('notifier/src/main.ts', env, notifierUrl);
    await create(10);

    await waitFor(() => (feed.received.length >= 30 ? true : undefined), { timeoutMs: 20_000 });
    // One more, so a duplicate of anything before it would have arrived by now.
    await create(1);
    await waitFor(() => (feed.received.length >= 31 ? true : undefined));
    // Logs replay one after the other, so only the order within a log is kept.
    expect(taskIdsOf(feed.received).sort()).toEqual([...created].sort());
    expect(feed.received).toHaveLength(31);

    // A graceful stop closes the transport (not a Socket.IO kick), so the client comes back by itself.
    const disconnected = new Promise<string>((resolve) => feed.socket.once('disconnect', resolve));
    expect(await notifier.stop('SIGTERM')).toBe(0);
    expect(await disconnected).toBe('transport close');
    feed.socket.disconnect();
  });

  it('gives a client on each of two notifier processes every event exactly once', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const { env, token, urls } = await serviceEnv(redis);
    await start('command-service/src/main.ts', env, urls.command);
    const notifiers = [portA, portB].map((port) => `http://127.0.0.1:${port}`);
    await Promise.all(
      [portA, portB].map((port, i) =>
        start('notifier/src/main.ts', { ...env, NOTIFIER_PORT: String(port) }, notifiers[i]!),
      ),
    );
    const feeds = notifiers.map((url) => resumingClient(url, token));
    await Promise.all(feeds.map((feed) => feed.live));

    const api = client(urls.command);
    const created: string[] = [];
    for (let i = 0; i < 30; i++) {
      const answer = await api.post('/tasks', { title: `task ${i}` }, { token });
      created.push(answer.body.id);
    }
    for (const feed of feeds) {
      await waitFor(() => (feed.received.length >= 30 ? true : undefined));
    }
    const last = await api.post('/tasks', { title: 'last' }, { token });
    created.push(last.body.id);
    for (const feed of feeds) {
      await waitFor(() => (feed.received.length >= 31 ? true : undefined));
      // Both partitions' events interleave by log; each task is there once.
      expect([...taskIdsOf(feed.received)].sort()).toEqual([...created].sort());
      feed.socket.disconnect();
    }
  });
});
