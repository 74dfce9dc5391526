import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENERAL_PROJECT_ID, newId } from '@tasksync/contracts';
import {
  createLogger,
  createMetrics,
  createTokenService,
  duplicateRedis,
} from '@tasksync/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { switchReadModelFile } from '../../projector/src/swap';
import { client, connectTestRedis, listen, testKeys, waitFor } from '../../test/support';
import { createAnswerCache } from './answer-cache';
import { buildQueryApp } from './app';
import { createReadModelAccess } from './read-model';
import { createCurrentModel, createVersion1Model, modelWriter } from './testing/read-models';

/**
 * A read model from before projects (version 1) keeps answering while the
 * projector rebuilds a current one beside it (design §10, "Read-model
 * upgrades"): every task in the open General project. Once the rebuilt file
 * is swapped in, it is read as it is, projects and all.
 */

const redis = connectTestRedis();
const subscriber = duplicateRedis(redis);
const keys = testKeys(1);
const logger = createLogger({ name: 'version1', level: 'silent' });
const tokens = createTokenService({ secret: 'version1-secret-version1-secret-x', ttlSeconds: 600 });
const dir = mkdtempSync(join(tmpdir(), 'version1-'));
const path = join(dir, 'read-model.sqlite');
const member = newId();
const outsider = newId();
const token = (userId: string) => tokens.sign({ userId, role: 'member' }).token;
const tasks = [
  { id: newId(), title: 'Old kangaroo', createdAt: '2026-01-01T10:00:00.000Z', labels: ['old'] },
  {
    id: newId(),
    title: 'Old wombat',
    createdAt: '2026-01-01T11:00:00.000Z',
    priority: 'urgent' as const,
  },
  { id: newId(), title: 'Old emu', createdAt: '2026-01-01T12:00:00.000Z', deleted: true },
];
let api: ReturnType<typeof client>;
let readModel: ReturnType<typeof createReadModelAccess>;
let close: () => Promise<void>;

beforeAll(async () => {
  const v1 = createVersion1Model(path);
  const write = modelWriter(v1);
  expect(write.version1).toBe(true);
  write.user({ id: member, name: 'Mia' });
  for (const task of tasks) write.task({ ...task, createdBy: member });
  write.countTasks();
  write.checkpoint('t0', '5-0');
  write.checkpoint('id', '1-0');
  // Still open for writing, as the old projector's handle would be.
  readModel = createReadModelAccess({ path, subscriber, keys, group: 'projector', logger });
  const server = await listen(
    buildQueryApp({
      redis,
      keys,
      tokens,
      logger,
      metrics: createMetrics('version1'),
      readModel,
      cache: createAnswerCache(redis, keys.prefix, 'projector', 60),
    }),
  );
  api = client(server.url);
  close = async () => {
    await server.close();
    readModel.close();
    v1.close();
  };
});
afterAll(async () => {
  await close();
  subscriber.disconnect();
  await redis.quit();
});

/** X-Read-Position for these checkpoints: every log of the layout, 0-0 where none. */
const positionOf = (checkpoints: Record<string, string>) =>
  keys
    .logs()
    .map((log) => log.name)
    .sort()
    .map((log) => `${log}:${checkpoints[log] ?? '0-0'}`)
    .join(',');
const get = (url: string, userId = member) => api.get(url, { token: token(userId) });
const ids = (answer: { body: { items: { id: string }[] } }) => answer.body.items.map((t) => t.id);

describe('a version 1 read model', () => {
  it('answers every read with every task in the open General project', async () => {
    const [kangaroo, wombat] = tasks;
    const list = await get('/tasks');
    expect(list.status).toBe(200);
    expect(list.headers.get('x-read-position')).toBe(positionOf({ id: '1-0', t0: '5-0' }));
    expect(
      list.body.items.map((t: { id: string; projectId: string }) => [t.id, t.projectId]),
    ).toEqual([
      [wombat!.id, GENERAL_PROJECT_ID],
      [kangaroo!.id, GENERAL_PROJECT_ID],
    ]);
    // Every shape of the list SQL: the merge, one project, a gather, full text, a label.
    expect(ids(await get('/tasks?sort=createdAt'))).toEqual([kangaroo!.id, wombat!.id]);
    expect(ids(await get(`/tasks?projectId=${GENERAL_PROJECT_ID}&sort=-priority`))).toEqual([
      wombat!.id,
      kangaroo!.id,
    ]);
    expect(ids(await get('/tasks?sort=-priority'))).toEqual([wombat!.id, kangaroo!.id]);
    expect(ids(await get('/tasks?q=kangaroo'))).toEqual([kangaroo!.id]);
    expect(ids(await get('/tasks?label=old&sort=-dueDate'))).toEqual([kangaroo!.id]);
    // Anyone sees General: an outsider too, and under a cache key of their own.
    expect(ids(await get('/tasks', outsider))).toEqual([wombat!.id, kangaroo!.id]);

    const task = await get(`/tasks/${kangaroo!.id}`, outsider);
    expect(task.status).toBe(200);
    expect(task.body).toMatchObject({
      id: kangaroo!.id,
      projectId: GENERAL_PROJECT_ID,
      comments: [],
    });
    expect((await get(`/tasks/${kangaroo!.id}/history`)).body).toEqual({
      items: [],
      nextCursor: null,
    });
    expect((await get(`/tasks/${tasks[2]!.id}`)).status).toBe(410);

    const stats = await get('/stats');
    expect(stats.status).toBe(200);
    expect(stats.body).toEqual({
      byStatus: { pending: 2, 'in-progress': 0, completed: 0 },
      byAssignee: [{ assigneeId: null, count: 2 }],
    });
    expect((await get(`/stats?projectId=${GENERAL_PROJECT_ID}`)).body).toEqual(stats.body);

    const projects = await get('/projects');
    expect(projects.status).toBe(200);
    expect(projects.body).toEqual({
      items: [
        {
          id: GENERAL_PROJECT_ID,
          name: 'General',
          description: '',
          visibility: 'open',
          archived: false,
          ownerId: 'system',
          createdAt: '1970-01-01T00:00:00.000Z',
          updatedAt: '1970-01-01T00:00:00.000Z',
          revision: 0,
          access: 'editor',
          memberCount: 0,
          taskCounts: { pending: 2, 'in-progress': 0, completed: 0 },
        },
      ],
      nextCursor: null,
    });
    expect((await get(`/projects/${GENERAL_PROJECT_ID}`)).body).toEqual(projects.body.items[0]);
    expect((await get(`/projects/${GENERAL_PROJECT_ID}/members`)).body).toEqual({ items: [] });
    expect((await get(`/projects/${newId()}`)).status).toBe(404);
    expect((await get('/projects?archived=true')).body.items).toEqual([]);
  });

  it('is read as it is once the rebuilt model is swapped in, with no failed read meanwhile', async () => {
    const rebuilt = join(dir, 'rebuilt.sqlite');
    const v2 = createCurrentModel(rebuilt);
    const write = modelWriter(v2);
    const secret = newId();
    write.user({ id: member, name: 'Mia' });
    write.project({ id: GENERAL_PROJECT_ID, name: 'General', visibility: 'open' });
    write.project({ id: secret, name: 'Secret', visibility: 'private', ownerId: member });
    write.member(secret, member, 'owner');
    for (const task of tasks) write.task({ ...task, createdBy: member });
    write.task({
      id: newId(),
      projectId: secret,
      title: 'New kangaroo',
      createdBy: member,
      createdAt: '2026-02-01T00:00:00.000Z',
    });
    write.countTasks();
    write.checkpoint('t0', '6-0');
    write.checkpoint('id', '1-0');
    write.checkpoint('p', '2-0');
    v2.close();

    // Readers poll through the swap: every answer is a 200, from one file or the other.
    const statuses: number[] = [];
    let polling = true;
    const poll = async (url: string, userId: string) => {
      while (polling) statuses.push((await get(url, userId)).status);
    };
    const pollers = [
      poll('/tasks?q=kangaroo', member),
      poll('/projects', outsider),
      poll('/stats', member),
    ];
    switchReadModelFile(path, rebuilt);
    await redis.publish(keys.readModelControl('projector'), 'swapped');
    const swapped = await waitFor(async () => {
      const answer = await get('/projects');
      return answer.body.items.length === 2 ? answer : undefined;
    });
    polling = false;
    await Promise.all(pollers);
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);

    expect(swapped.headers.get('x-read-position')).toBe(
      positionOf({ id: '1-0', p: '2-0', t0: '6-0' }),
    );
    expect(
      swapped.body.items.map((p: { name: string; access: string }) => [p.name, p.access]),
    ).toEqual([
      ['General', 'editor'],
      ['Secret', 'owner'],
    ]);
    expect((await get('/tasks?q=kangaroo')).body.items).toHaveLength(2);
    // Now projects decide: the outsider does not see the private one.
    expect((await get('/tasks?q=kangaroo', outsider)).body.items).toHaveLength(1);
    expect(ids(await get('/projects', outsider))).toEqual([GENERAL_PROJECT_ID]);
  });
});
