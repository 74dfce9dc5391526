import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import type { RedisClient } from '@tasksync/platform';
import { afterAll, describe, expect, it } from 'vitest';
import { runTs } from '../../scripts/processes';
import { client, connectTestRedis, serviceEnv, testProcesses } from '../../test/support';

const redis: RedisClient = connectTestRedis();
const { start, track, stopAll } = testProcesses();
afterAll(async () => {
  await stopAll();
  await redis.quit();
});

describe('replay --swap', () => {
  it('switches the projector and the query-service to a rebuilt file while reads and writes go on: no request fails', async () => {
    const { dir, readModelPath, env, token, urls } = await serviceEnv(redis);
    await Promise.all([
      start('command-service/src/main.ts', env, urls.command),
      start('projector/src/main.ts', env, urls.projector),
      start('query-service/src/main.ts', env, urls.query),
    ]);
    const commands = client(urls.command);
    const queries = client(urls.query);

    // A model worth rebuilding: 400 tasks, each commented on once.
    const taskIds: string[] = [];
    for (let round = 0; round < 40; round++) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const created = await commands.post(
            '/tasks',
            { title: `task ${round}-${i}`, labels: ['swap'] },
            { token },
          );
          expect(created.status).toBe(201);
          taskIds.push(created.body.id);
          const commented = await commands.post(
            `/tasks/${created.body.id}/comments`,
            { text: 'seen' },
            { token },
          );
          expect(commented.status).toBe(201);
        }),
      );
    }

    const failures: string[] = [];
    let reads = 0;
    let swapped = false;
    let readsAfterSwap = 0;
    let writesAfterSwap = 0;
    let stop = false;
    const record = (what: string, status: number, expected = 200) => {
      reads++;
      if (swapped) readsAfterSwap++;
      if (status !== expected) failures.push(`${what}: ${status}`);
    };
    const reader = async () => {
      while (!stop) {
        const id = taskIds[Math.floor(Math.random() * taskIds.length)]!;
        const one = await queries.get(`/tasks/${id}`, { token });
        record(`GET /tasks/${id}`, one.status);
        const page = await queries.get('/tasks?limit=20&label=swap', { token });
        record('GET /tasks', page.status);
        const stats = await queries.get('/stats', { token });
        record('GET /stats', stats.status);
      }
    };
    // Read-your-writes across the switch: each write is seen by the next read.
    const writer = async () => {
      while (!stop) {
        const created = await commands.post('/tasks', { title: 'during the swap' }, { token });
        if (created.status !== 201) failures.push(`POST /tasks: ${created.status}`);
        const seen = await queries.get(`/tasks/${created.body.id}`, {
          token,
          headers: {
            'X-Min-Position': created.headers.get('X-Event-Position')!,
            'X-Max-Wait-Ms': '5000',
          },
        });
        record('GET own write', seen.status);
        if (swapped) writesAfterSwap++;
      }
    };
    const load = [reader(), reader(), writer()];

    // Twice: from the regular file to a rebuilt one, then from that one to another.
    const targets: string[] = [];
    for (const round of [1, 2]) {
      const replay = runTs('projector/src/replay.ts', env, ['--swap']);
      track(replay);
      const code = await replay.exited;
      expect(code, replay.output()).toBe(0);
      expect(replay.output()).toMatch(/now points at/);
      swapped = true;
      writesAfterSwap = 0;
      readsAfterSwap = 0;
      // Load runs on the new file: the projector resumed there and the query-service reads it.
      const deadline = Date.now() + 30_000;
      while ((writesAfterSwap < 20 || readsAfterSwap < 60) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect(writesAfterSwap, `round ${round}`).toBeGreaterThanOrEqual(20);
      // The path is now a link to the rebuilt file; the old file and its WAL are gone.
      expect(lstatSync(readModelPath).isSymbolicLink()).toBe(true);
      const target = readlinkSync(readModelPath);
      expect(target).toMatch(/^read-model\.sqlite\.rebuild-\d+$/);
      expect(targets).not.toContain(target);
      targets.push(target);
      expect(readdirSync(dir).filter((name) => !name.startsWith(target))).toEqual([
        'read-model.sqlite',
      ]);
    }
    stop = true;
    await Promise.all(load);
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(200);

    // The live model on the new file equals a rebuild from the logs at its checkpoints.
    const verify = runTs('projector/src/replay.ts', env, ['--verify']);
    track(verify);
    expect(await verify.exited, verify.output()).toBe(0);
    expect(verify.output()).toMatch(/equals the rebuilt one/);
  });
});
