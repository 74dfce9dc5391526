import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { foldTask, newId, type StoredEvent, type TaskEvent } from '@tasksync/contracts';
import { createLogger, createTokenService } from '@tasksync/platform';
import { openReadModel, type TaskRow, taskFromRow } from '@tasksync/platform/read-model';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { startProjector } from '../projector/src/projector';
import { dumpReadModel, rebuildReadModel } from '../projector/src/rebuild';
import { listenCommandService } from './in-process';
import {
  appendUserRegistered,
  client,
  connectTestRedis,
  readEventsOf,
  testKeys,
  waitForCatchUp,
} from './support';

const redis = connectTestRedis();
afterAll(() => redis.quit());
const logger = createLogger({ name: 'agreement', level: 'silent' });
const tokens = createTokenService({
  secret: 'agreement-secret-agreement-secret-0123',
  ttlSeconds: 3600,
});

const create = fc.record({
  kind: fc.constant('create' as const),
  title: fc.string({ minLength: 1, maxLength: 20 }),
  priority: fc.constantFrom('low', 'medium', 'high', 'urgent'),
  labels: fc.uniqueArray(fc.constantFrom('a', 'b', 'c'), { maxLength: 3 }),
});
const action = fc.oneof(
  create,
  fc.record({
    kind: fc.constant('status' as const),
    task: fc.nat(),
    status: fc.constantFrom('pending', 'in-progress', 'completed'),
  }),
  fc.record({
    kind: fc.constant('details' as const),
    task: fc.nat(),
    title: fc.string({ minLength: 1, maxLength: 20 }),
    dueDate: fc.option(fc.constantFrom('2026-12-01', '2027-01-15')),
  }),
  fc.record({ kind: fc.constant('assign' as const), task: fc.nat(), user: fc.nat({ max: 2 }) }),
  fc.record({
    kind: fc.constant('comment' as const),
    task: fc.nat(),
    text: fc.string({ minLength: 1, maxLength: 30 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), task: fc.nat() }),
);

describe('live read model, replayed read model and evolve folds', () => {
  it('agree after random command sequences through the real services', async () => {
    // Every sequence opens with a create, so no run compares two empty models.
    const sequence = fc
      .tuple(create, fc.array(action, { maxLength: 24 }))
      .map(([first, rest]) => [first, ...rest]);
    let createdOverall = 0;
    await fc.assert(
      fc.asyncProperty(sequence, async (actions) => {
        const keys = testKeys(2);
        const users = [newId(), newId(), newId()];
        for (const userId of users)
          await appendUserRegistered(redis, keys, { userId, email: `${userId}@example.com` });
        const token = tokens.sign({ userId: users[0]!, role: 'admin' }).token;
        const dir = mkdtempSync(join(tmpdir(), 'agree-'));
        const live = openReadModel(join(dir, 'live.sqlite'));
        const projector = await startProjector({
          redis,
          keys,
          db: live,
          group: 'projector',
          logger,
          batchSize: 4,
          consumerOptions: { blockMs: 50 },
        });
        const server = await listenCommandService({ redis, keys, tokens, logger });
        const api = client(server.url);
        const taskIds: string[] = [];
        const pick = (n: number) => taskIds[n % taskIds.length];
        try {
          for (const a of actions) {
            if (a.kind === 'create') {
              const answer = await api.post(
                '/tasks',
                { title: a.title, priority: a.priority, labels: a.labels },
                { token },
              );
              // The schema trims the title: only a blank one is refused.
              expect({ title: a.title, status: answer.status }).toEqual({
                title: a.title,
                status: a.title.trim() ? 201 : 400,
              });
              if (answer.status === 201) taskIds.push(answer.body.id);
              continue;
            }
            const id = pick(a.task);
            if (!id) continue;
            const answer =
              a.kind === 'status'
                ? await api.patch(`/tasks/${id}`, { status: a.status }, { token })
                : a.kind === 'details'
                  ? await api.patch(
                      `/tasks/${id}`,
                      { title: a.title, dueDate: a.dueDate },
                      { token },
                    )
                  : a.kind === 'assign'
                    ? await api.patch(`/tasks/${id}`, { assigneeId: users[a.user] }, { token })
                    : a.kind === 'comment'
                      ? await api.post(`/tasks/${id}/comments`, { text: a.text }, { token })
                      : await api.delete(`/tasks/${id}`, { token });
            // Refusals are part of the game (a jump in status, a deleted task), errors are not.
            expect([200, 201, 204, 400, 409, 410]).toContain(answer.status);
          }
          await waitForCatchUp(redis, keys, live);
          const replayed = openReadModel(join(dir, 'replayed.sqlite'));
          await rebuildReadModel(replayed, redis, keys, { batchSize: 3 });
          const liveModel = dumpReadModel(live);
          expect(liveModel).toEqual(dumpReadModel(replayed));
          // Deleted tasks keep their row: the models hold every task created.
          expect((liveModel.tasks as { id: string }[]).map((row) => row.id).sort()).toEqual(
            [...taskIds].sort(),
          );
          createdOverall += taskIds.length;
          for (const id of taskIds) {
            const folded = foldTask(
              (await readEventsOf(redis, keys.taskStream(id))) as StoredEvent<TaskEvent>[],
            )!;
            const row = live.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as TaskRow;
            expect(row).toBeDefined();
            const { deleted, ...task } = folded;
            expect({ ...taskFromRow(row), deleted: row.deleted === 1 }).toEqual({
              ...task,
              deleted,
            });
          }
          // The /stats counters agree with the folds too.
          const expected = new Map<string, number>();
          for (const id of taskIds) {
            const folded = foldTask(
              (await readEventsOf(redis, keys.taskStream(id))) as StoredEvent<TaskEvent>[],
            )!;
            if (folded.deleted) continue;
            for (const key of [`status:${folded.status}`, `assignee:${folded.assigneeId ?? ''}`]) {
              expected.set(key, (expected.get(key) ?? 0) + 1);
            }
          }
          const counted = live
            .prepare('SELECT kind, key, count FROM task_counts WHERE count > 0')
            .all() as {
            kind: string;
            key: string;
            count: number;
          }[];
          expect(new Map(counted.map((r) => [`${r.kind}:${r.key}`, r.count]))).toEqual(expected);
          replayed.close();
        } finally {
          await server.close();
          await projector.stop();
          live.close();
        }
      }),
      { numRuns: 12 },
    );
    expect(createdOverall).toBeGreaterThan(0);
  });
});
