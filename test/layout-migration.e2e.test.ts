import { createKeyLayout, foldTask, type StoredEvent, type TaskEvent } from '@tasksync/contracts';
import { createTokenService, readLastEntryId } from '@tasksync/platform';
import { afterAll, describe, expect, it } from 'vitest';
import { runTs } from '../scripts/processes';
import { readAllAggregates, writeV1Store } from './fixtures/v1-store';
import {
  client,
  connectTestRedis,
  minPositionHeader,
  serviceEnv,
  testProcesses,
  uniquePrefix,
} from './support';

const redis = connectTestRedis();
const processes = testProcesses();
afterAll(async () => {
  await processes.stopAll();
  await redis.quit();
});

/**
 * Issue 14: a store TaskSync wrote on layout 1 is converted by `npm run
 * migrate-layout` and then served by the services of this build as it was:
 * every task as of each of its events, the read model (replay --verify), and
 * writes go on at the next revision.
 */
describe('a layout-1 store after npm run migrate-layout', () => {
  it('answers every asOf as the layout-1 events said, agrees with replay --verify, and takes writes at the next revision', async () => {
    const base = await serviceEnv(redis);
    // The store of its own prefix: serviceEnv's own user was written in layout 2.
    const prefix = uniquePrefix();
    const keys = createKeyLayout(prefix, base.keys.partitions);
    const env: NodeJS.ProcessEnv = { ...base.env, REDIS_PREFIX: prefix };
    const store = await writeV1Store(redis, keys, { tasks: 24 });
    const before = await readAllAggregates(redis, store.aggregates, 1);

    const migration = processes.track(runTs('scripts/migrate-layout.ts', env));
    expect(await migration.exited, migration.output()).toBe(0);
    expect(await redis.hget(keys.meta, 'layoutVersion')).toBe('2');

    await processes.start('command-service/src/main.ts', env, base.urls.command);
    await processes.start('projector/src/main.ts', env, base.urls.projector);
    await processes.start('query-service/src/main.ts', env, base.urls.query);

    const admin = store.users[0]!;
    const { token } = createTokenService({ secret: env.JWT_SECRET!, ttlSeconds: 600 }).sign({
      userId: admin,
      role: 'admin',
    });
    const query = client(base.urls.query);
    const newest = new Map<string, string>();
    for (const log of keys.logs()) {
      const last = await readLastEntryId(redis, log.key);
      if (last) newest.set(log.name, last);
    }
    const live: { id: string; revision: number }[] = [];
    for (const taskId of store.tasks) {
      const events = before.get(keys.taskStream(taskId)) as StoredEvent<TaskEvent>[];
      const log = `t${keys.partitionOf(taskId)}`;
      for (let i = 0; i < events.length; i++) {
        const asOf = `${log}:${events[i]!.entryId}`;
        const answer = await query.request(
          'GET',
          `/tasks/${taskId}?asOf=${encodeURIComponent(asOf)}`,
          { token, headers: minPositionHeader(newest) },
        );
        expect(answer.status, answer.text).toBe(200);
        expect(answer.body).toEqual(
          JSON.parse(JSON.stringify({ ...foldTask(events.slice(0, i + 1)), asOf })),
        );
      }
      const state = foldTask(events);
      if (state && !state.deleted) live.push({ id: taskId, revision: events.length - 1 });
    }
    expect(live.length).toBeGreaterThan(10);

    const verify = processes.track(runTs('projector/src/replay.ts', env, ['--verify']));
    expect(await verify.exited, verify.output()).toBe(0);
    expect(verify.output()).toContain('the live model equals the rebuilt one');

    const command = client(base.urls.command);
    for (const task of live) {
      const changed = await command.request('PATCH', `/tasks/${task.id}`, {
        token,
        body: { title: 'After the migration' },
        headers: { 'if-match': `"${task.revision}"` },
      });
      expect(changed.status, changed.text).toBe(200);
      expect(changed.body).toMatchObject({ revision: task.revision + 1 });
    }
    const after = await readAllAggregates(redis, store.aggregates, 2);
    for (const task of live) {
      const events = after.get(keys.taskStream(task.id))!;
      expect(events.slice(0, -1)).toEqual(before.get(keys.taskStream(task.id)));
      expect(events.at(-1)).toMatchObject({ type: 'TaskDetailsChanged', rev: task.revision + 1 });
    }
  });
});
