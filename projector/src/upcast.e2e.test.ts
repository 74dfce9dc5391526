import { GENERAL_PROJECT_ID, newId } from '@tasksync/contracts';
import { createLogger, type RedisClient, readAggregateEntries } from '@tasksync/platform';
import { openReadModel } from '@tasksync/platform/read-model';
import { afterAll, describe, expect, it } from 'vitest';
import { runTs } from '../../scripts/processes';
import { connectTestRedis, serviceEnv, testProcesses, waitForCatchUp } from '../../test/support';
import { startProjector } from './projector';
import { writeV1Log } from './testing/before-projects';

const redis: RedisClient = connectTestRedis();
const { track, stopAll } = testProcesses();
afterAll(async () => {
  await stopAll();
  await redis.quit();
});
const logger = createLogger({ name: 'upcast-test', level: 'silent' });

describe('a log from before projects (TaskCreated v1, no projectId)', () => {
  it('projects into a model where every task is in General, and replay --verify agrees; a planted difference fails it', async () => {
    const { keys, readModelPath, env } = await serviceEnv(redis);
    const userId = newId();
    const { taskIds } = await writeV1Log(redis, keys, { userId, tasks: 60 });
    // The log is what the old code wrote: version 1, no projectId.
    const [first] = await readAggregateEntries(
      redis,
      {
        streamKey: keys.taskStream(taskIds[0]!),
        logKey: keys.taskLog(keys.partitionOf(taskIds[0]!)),
      },
      0,
      1,
    );
    const fields = first![1];
    const envelope = Object.fromEntries(
      Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i], fields[2 * i + 1]]),
    );
    expect(envelope).toMatchObject({ type: 'TaskCreated', v: '1' });
    expect(JSON.parse(envelope.data!)).not.toHaveProperty('projectId');

    const live = openReadModel(readModelPath);
    const projector = await startProjector({
      redis,
      keys,
      db: live,
      group: 'projector',
      logger,
      consumerOptions: { blockMs: 50 },
    });
    await waitForCatchUp(redis, keys, live);
    await projector.stop();

    const tasks = live.prepare('SELECT id, project_id FROM tasks ORDER BY id').all();
    expect(tasks).toEqual(
      [...taskIds].sort().map((id) => ({ id, project_id: GENERAL_PROJECT_ID })),
    );
    expect(
      live.prepare('SELECT project_id, kind, key, count FROM task_counts ORDER BY 1, 2, 3').all(),
    ).toEqual([
      { project_id: GENERAL_PROJECT_ID, kind: 'assignee', key: '', count: 36 },
      { project_id: GENERAL_PROJECT_ID, kind: 'assignee', key: userId, count: 18 },
      { project_id: GENERAL_PROJECT_ID, kind: 'status', key: 'in-progress', count: 54 },
      { project_id: GENERAL_PROJECT_ID, kind: 'status', key: 'pending', count: 0 },
    ]);
    // The history shows TaskCreated as consumers read it today: upcast, with its project.
    const created = live
      .prepare("SELECT data FROM activity WHERE type = 'TaskCreated' AND task_id = ?")
      .get(taskIds[0]) as { data: string };
    expect(JSON.parse(created.data)).toMatchObject({ projectId: GENERAL_PROJECT_ID });

    const verify = async () => {
      const run = track(runTs('projector/src/replay.ts', env, ['--verify']));
      return { code: await run.exited, output: run.output() };
    };
    const agreed = await verify();
    expect(agreed.code, agreed.output).toBe(0);
    expect(agreed.output).toContain('the live model equals the rebuilt one');

    // A task the live model has in another project than its events say.
    live
      .prepare('UPDATE tasks SET project_id = ? WHERE id = ?')
      .run('0190b6a0-0000-7000-8000-0000000000d1', taskIds[1]);
    const planted = await verify();
    expect(planted.code, planted.output).toBe(1);
    expect(planted.output).toContain('differs from the rebuilt one in: tasks');
    live.close();
  });
});
