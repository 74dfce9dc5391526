import { join } from 'node:path';
import type { RedisClient } from '@tasksync/platform';
import { openReadModel } from '@tasksync/platform/read-model';
import { afterAll, describe, expect, it } from 'vitest';
import { runTs } from '../../scripts/processes';
import { client, connectTestRedis, serviceEnv, waitFor, waitForCatchUp } from '../../test/support';
import { dumpReadModel, rebuildReadModel } from './rebuild';

const redis: RedisClient = connectTestRedis();
afterAll(() => redis.quit());

describe('projector under kill -9', () => {
  it('ends equal to a clean replay after a SIGKILL in the middle of a stream of commands', async () => {
    const { keys, dir, readModelPath, env, token, urls } = await serviceEnv(redis, {
      PROJECTOR_BATCH_SIZE: '7',
    });
    const commands = runTs('command-service/src/main.ts', env);
    let projector = runTs('projector/src/main.ts', env);
    const api = client(urls.command);
    await waitFor(
      async () =>
        (await api.get('/ready').catch(() => undefined))?.status === 200 ? true : undefined,
      {
        timeoutMs: 20_000,
      },
    );

    const taskIds: string[] = [];
    const burst = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const created = await api.post(
          '/tasks',
          { title: `t${taskIds.length}`, labels: ['l'] },
          { token },
        );
        expect(created.status).toBe(201);
        taskIds.push(created.body.id);
        const task = taskIds[Math.floor(Math.random() * taskIds.length)]!;
        const moved = await api.post(`/tasks/${task}/comments`, { text: `c${i}` }, { token });
        expect(moved.status).toBe(201);
      }
    };
    await burst(40);
    projector.child.kill('SIGKILL');
    await projector.stop();
    await burst(40);
    projector = runTs('projector/src/main.ts', env);
    await burst(20);

    const live = openReadModel(readModelPath);
    await waitForCatchUp(redis, keys, live);
    expect(await projector.stop('SIGTERM')).toBe(0);
    await commands.stop('SIGTERM');

    const clean = openReadModel(join(dir, 'replayed.sqlite'));
    await rebuildReadModel(clean, redis, keys, { batchSize: 13 });
    const liveRows = dumpReadModel(live);
    expect(liveRows.tasks).toHaveLength(100);
    expect(liveRows.comments).toHaveLength(100);
    expect(liveRows).toEqual(dumpReadModel(clean));

    // The replay CLI agrees, and notices a read model that does not match its events.
    const out = join(dir, 'cli.sqlite');
    const replay = runTs('projector/src/replay.ts', env);
    const verify = async (extra: string[] = []) => {
      const run = runTs('projector/src/replay.ts', env, ['--verify', ...extra]);
      const code = await new Promise<number | null>((resolve) => run.child.once('exit', resolve));
      return { code, output: run.output() };
    };
    await new Promise((resolve) => replay.child.once('exit', resolve));
    expect(replay.output()).toMatch(/replay: \d+ events into /);
    const ok = await verify(['--out', out]);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.output).toContain('the live model equals the rebuilt one');
    expect(dumpReadModel(openReadModel(out))).toEqual(liveRows);
    live.prepare("UPDATE tasks SET title = 'tampered' WHERE id = ?").run(taskIds[0]);
    const tampered = await verify();
    expect(tampered.code).toBe(1);
    expect(tampered.output).toContain('differs from the rebuilt one in: tasks');
  });
});
