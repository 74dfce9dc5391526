import {
  type AuthContext,
  compareEntryIds,
  fieldsToRecord,
  GENERAL_PROJECT_ID,
  type KeyLayout,
  newId,
  type Role,
  TaskCreatedV1,
} from '@tasksync/contracts';
import {
  type Consumer,
  createLogReader,
  createMetrics,
  createTokenService,
  readLastEntryId,
  readRevisionCount,
} from '@tasksync/platform';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { appendBeforeProjects } from '../../../test/fixtures/raw-append';
import {
  appendUserRegistered,
  capturingLogger,
  client,
  connectTestRedis,
  listen,
  readEventsOf,
  testKeys,
  waitFor,
} from '../../../test/support';
import { buildCommandApp, createWriteSide } from '../app';
import { bootstrapGeneralProject } from '../projects/general';
import { executeTaskCommand } from '../tasks/execute';
import { ASSIGNED_INDEX_FIELD, backfillAssignedIndex } from './backfill';
import {
  PROCESS_MANAGER_GROUP,
  type ProcessManagerDeps,
  startProcessManager,
  unassignLostAccess,
} from './process-manager';

const SECRET = 'pm-test-secret-pm-test-secret-pm-test-secret-0123';
const redis = connectTestRedis();
const tokens = createTokenService({ secret: SECRET, ttlSeconds: 3600 });
const logger = capturingLogger().logger;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => redis.quit());

/** A command-service on its own prefix (2 task partitions), its process manager not started yet. */
const system = async () => {
  const keys = testKeys(2);
  const deps = {
    redis,
    keys,
    tokens,
    logger,
    metrics: createMetrics('pm'),
    now: () => new Date(),
    newId,
  };
  await bootstrapGeneralProject(deps);
  const writeSide = createWriteSide(deps);
  const server = await listen(buildCommandApp(deps, writeSide));
  cleanups.push(server.close);
  const api = client(server.url);
  const user = async (role: Role = 'member') => {
    const userId = newId();
    await appendUserRegistered(redis, keys, { userId, email: `${userId}@example.com`, role });
    const auth: AuthContext = { userId, role };
    return { ...auth, token: tokens.sign(auth).token };
  };
  // Stores of its own, as the process manager's in main are the routes'.
  const processManagerDeps: ProcessManagerDeps = {
    ...createWriteSide({ ...deps, metrics: createMetrics('pm-direct') }),
    logger,
  };
  return {
    keys,
    api,
    user,
    processManagerDeps,
    startProcessManager: () => {
      const consumer: Consumer = startProcessManager(
        { ...createWriteSide({ ...deps, metrics: createMetrics('pm-consumer') }), logger },
        { blockMs: 50 },
      );
      cleanups.push(() => consumer.stop());
      return consumer;
    },
  };
};
type System = Awaited<ReturnType<typeof system>>;
type User = Awaited<ReturnType<System['user']>>;

const ok = async <T extends { status: number; text: string }>(answer: Promise<T>, status = 200) => {
  const settled = await answer;
  expect(settled.status, settled.text).toBe(status);
  return settled as T & { body: { id: string; position: string } };
};

/** A project of `owner` with these members, and `tasks` tasks assigned to each assignee. */
const projectWithTasks = async (
  { api }: System,
  owner: User,
  members: [User, 'owner' | 'editor' | 'viewer'][],
  assignees: User[],
  { tasks = 3, visibility = 'private' }: { tasks?: number; visibility?: 'private' | 'open' } = {},
) => {
  const { body } = await ok(
    api.post('/projects', { name: 'Apollo', visibility }, { token: owner.token }),
    201,
  );
  const projectId = body.id;
  for (const [member, role] of members)
    await ok(
      api.put(`/projects/${projectId}/members/${member.userId}`, { role }, { token: owner.token }),
    );
  const byAssignee = new Map<string, string[]>();
  for (const assignee of assignees) {
    const ids = await Promise.all(
      Array.from({ length: tasks }, async (_, n) => {
        const created = await ok(
          api.post(
            '/tasks',
            { title: `task ${n}`, projectId, assigneeId: assignee.userId },
            { token: owner.token },
          ),
          201,
        );
        return created.body.id;
      }),
    );
    byAssignee.set(assignee.userId, ids);
  }
  return { projectId, byAssignee };
};

/** Every TaskAssigned the system appended, per task: a duplicate shows as a count of 2. */
const systemUnassignments = async (keys: KeyLayout) => {
  const counts = new Map<string, { n: number; data: unknown[] }>();
  for (let p = 0; p < keys.partitions; p++) {
    const entries = (await redis.xrange(keys.taskLog(p), '-', '+')) as [string, string[]][];
    for (const [, fields] of entries) {
      const event = fieldsToRecord(fields);
      if (event.type !== 'TaskAssigned' || event.actor !== 'system') continue;
      const seen = counts.get(event.agg!) ?? { n: 0, data: [] };
      seen.n++;
      seen.data.push(JSON.parse(event.data!));
      counts.set(event.agg!, seen);
    }
  }
  return counts;
};

/** Resolves once the process manager has handled and acked every project event up to the log's head. */
const handledUpToHead = async (keys: KeyLayout) => {
  const head = (await readLastEntryId(redis, keys.projectLog))!;
  await waitFor(
    async () => {
      const groups = (await redis.xinfo('GROUPS', keys.projectLog)) as unknown[][];
      const group = groups
        .map((info) =>
          Object.fromEntries(
            Array.from({ length: info.length / 2 }, (_, i) => [info[2 * i], info[2 * i + 1]]),
          ),
        )
        .find((info) => info.name === PROCESS_MANAGER_GROUP);
      return group &&
        group.pending === 0 &&
        compareEntryIds(String(group['last-delivered-id']), head) >= 0
        ? true
        : undefined;
    },
    { message: 'the process manager to ack the project log up to its head' },
  );
};

const assignedIn = async (keys: KeyLayout, projectId: string) => {
  const all: Record<string, string> = {};
  for (let p = 0; p < keys.partitions; p++)
    Object.assign(all, await redis.hgetall(keys.assignedTasks(p, projectId)));
  return all;
};

describe('the process manager (design §10)', () => {
  it('unassigns, with actor system and exactly once, every task of a removed member, and nobody else', async () => {
    const sys = await system();
    const [owner, editor, viewer] = await Promise.all([sys.user(), sys.user(), sys.user()]);
    const { projectId, byAssignee } = await projectWithTasks(
      sys,
      owner,
      [
        [editor, 'editor'],
        [viewer, 'viewer'],
      ],
      [editor, viewer, owner],
      { tasks: 6 },
    );
    sys.startProcessManager();
    const removed = await sys.api.delete(`/projects/${projectId}/members/${editor.userId}`, {
      token: owner.token,
    });
    expect(removed.status).toBe(204);
    await handledUpToHead(sys.keys);
    const unassigned = await systemUnassignments(sys.keys);
    const editorsTasks = byAssignee.get(editor.userId)!;
    expect([...unassigned.keys()].sort()).toEqual([...editorsTasks].sort());
    for (const taskId of editorsTasks) {
      expect(unassigned.get(taskId), taskId).toEqual({
        n: 1,
        data: [{ assigneeId: null, previous: editor.userId }],
      });
    }
    expect(Object.values(await assignedIn(sys.keys, projectId)).sort()).toEqual(
      [...Array(6).fill(viewer.userId), ...Array(6).fill(owner.userId)].sort(),
    );
  });

  it('on a turn to private, unassigns those who are no members (site admins excepted)', async () => {
    const sys = await system();
    const [owner, editor, anyone, admin] = await Promise.all([
      sys.user(),
      sys.user(),
      sys.user(),
      sys.user('admin'),
    ]);
    const { projectId, byAssignee } = await projectWithTasks(
      sys,
      owner,
      [[editor, 'editor']],
      [editor, anyone, admin],
      { visibility: 'open' },
    );
    sys.startProcessManager();
    await ok(
      sys.api.patch(`/projects/${projectId}`, { visibility: 'private' }, { token: owner.token }),
    );
    await handledUpToHead(sys.keys);
    const unassigned = await systemUnassignments(sys.keys);
    expect([...unassigned.keys()].sort()).toEqual([...byAssignee.get(anyone.userId)!].sort());
    expect([...unassigned.values()].every((seen) => seen.n === 1)).toBe(true);
  });

  it('decides on the project as it is now: a member removed and added again keeps their tasks', async () => {
    const sys = await system();
    const [owner, editor] = await Promise.all([sys.user(), sys.user()]);
    const { projectId } = await projectWithTasks(sys, owner, [[editor, 'editor']], [editor]);
    await ok(
      sys.api.delete(`/projects/${projectId}/members/${editor.userId}`, { token: owner.token }),
      204,
    );
    await ok(
      sys.api.put(
        `/projects/${projectId}/members/${editor.userId}`,
        { role: 'viewer' },
        { token: owner.token },
      ),
    );
    sys.startProcessManager();
    await handledUpToHead(sys.keys);
    expect((await systemUnassignments(sys.keys)).size).toBe(0);
  });

  it('unassigns exactly once when several process managers handle the same event at once', async () => {
    const sys = await system();
    const [owner, editor] = await Promise.all([sys.user(), sys.user()]);
    const { projectId, byAssignee } = await projectWithTasks(
      sys,
      owner,
      [[editor, 'editor']],
      [editor],
      { tasks: 20 },
    );
    await ok(
      sys.api.delete(`/projects/${projectId}/members/${editor.userId}`, { token: owner.token }),
      204,
    );
    // Four handlers, each with stores (and caches) of its own, as on four command-services.
    await Promise.all(
      Array.from({ length: 4 }, () =>
        unassignLostAccess(
          {
            ...createWriteSide({ ...sys.processManagerDeps, metrics: createMetrics('x') }),
            logger,
          },
          projectId,
          'race',
          4,
        ),
      ),
    );
    const unassigned = await systemUnassignments(sys.keys);
    expect([...unassigned.keys()].sort()).toEqual([...byAssignee.get(editor.userId)!].sort());
    expect([...unassigned.values()].map((seen) => seen.n)).toEqual(Array(20).fill(1));
  });
});

describe('task commands racing with project changes', () => {
  it('closes the race of an assignment decided on the project as it was before a removal', async () => {
    const sys = await system();
    const [owner, editor] = await Promise.all([sys.user(), sys.user()]);
    const { projectId } = await projectWithTasks(sys, owner, [[editor, 'editor']], []);
    const { body } = await ok(
      sys.api.post('/tasks', { title: 'late', projectId }, { token: owner.token }),
      201,
    );
    const deps = sys.processManagerDeps;
    const before = await deps.projects.load(projectId);
    // The removal lands (and the process manager has run over an index without the task)
    // between this command's read of the project and its append.
    await ok(
      sys.api.delete(`/projects/${projectId}/members/${editor.userId}`, { token: owner.token }),
      204,
    );
    await unassignLostAccess(deps, projectId, 'before the assignment');
    let stale = true;
    const outcome = await executeTaskCommand(
      {
        ...deps,
        projects: {
          ...deps.projects,
          load: (id) => {
            if (stale && id === projectId) {
              stale = false;
              return Promise.resolve(before);
            }
            return deps.projects.load(id);
          },
        },
      },
      {
        taskId: body.id,
        command: { type: 'UpdateTask', changes: { assigneeId: editor.userId } },
        actor: { userId: owner.userId, role: 'member' },
        correlationId: 'late-assignment',
        success: { status: 200, body: { id: body.id } },
      },
    );
    expect(outcome.status).toBe(200);
    const events = await readEventsOf(redis, sys.keys.taskStream(body.id));
    expect(events.map((e) => [e.type, e.actor, e.data])).toEqual([
      ['TaskCreated', owner.userId, expect.any(Object)],
      ['TaskAssigned', owner.userId, { assigneeId: editor.userId, previous: null }],
      ['TaskAssigned', 'system', { assigneeId: null, previous: editor.userId }],
    ]);
  });

  it('decides again with the project the task is in when it moved after being read', async () => {
    const sys = await system();
    const [owner, editor] = await Promise.all([sys.user(), sys.user()]);
    const apollo = await projectWithTasks(sys, owner, [[editor, 'editor']], []);
    const hermes = await projectWithTasks(sys, owner, [], []);
    const { body } = await ok(
      sys.api.post(
        '/tasks',
        { title: 'mine', projectId: apollo.projectId },
        { token: editor.token },
      ),
      201,
    );
    const deps = sys.processManagerDeps;
    const before = await deps.tasks.load(body.id);
    // The owner moves it into a project the editor cannot see, after the editor's command read it.
    await ok(
      sys.api.patch(`/tasks/${body.id}`, { projectId: hermes.projectId }, { token: owner.token }),
    );
    let stale = true;
    const change = executeTaskCommand(
      {
        ...deps,
        tasks: {
          ...deps.tasks,
          load: (id) => {
            if (stale && id === body.id) {
              stale = false;
              return Promise.resolve(before);
            }
            return deps.tasks.load(id);
          },
        },
      },
      {
        taskId: body.id,
        command: { type: 'UpdateTask', changes: { title: 'still mine?' } },
        actor: { userId: editor.userId, role: 'member' },
        correlationId: 'stale-task',
        success: { status: 200, body: { id: body.id } },
      },
    );
    await expect(change).rejects.toMatchObject({ status: 404, detail: 'No task with this id.' });
    expect(await readRevisionCount(redis, sys.keys.taskStream(body.id))).toBe(2);
  });
});

describe('the assigned-tasks index backfill', () => {
  const v1Task = async (
    keys: KeyLayout,
    assigneeId: string | null,
    more: [string, unknown][] = [],
  ) => {
    const taskId = newId();
    const created = TaskCreatedV1.parse({
      type: 'TaskCreated',
      data: {
        title: 'old',
        description: '',
        status: 'pending',
        assigneeId,
        priority: 'medium',
        dueDate: null,
        labels: [],
        createdBy: newId(),
      },
    });
    await appendBeforeProjects(redis, keys, {
      taskId,
      rev: 0,
      type: 'TaskCreated',
      v: 1,
      data: created.data,
      actor: 'someone',
    });
    for (const [i, [type, data]] of more.entries())
      await appendBeforeProjects(redis, keys, {
        taskId,
        rev: i + 1,
        type,
        v: 1,
        data,
        actor: 'someone',
      });
    return taskId;
  };

  it('indexes every assigned live task of logs from before projects (in General), once, on N instances at once', async () => {
    const keys = testKeys(2);
    const [x, y] = [newId(), newId()];
    const assigned = await Promise.all(Array.from({ length: 30 }, () => v1Task(keys, x)));
    const reassigned = await v1Task(keys, x, [['TaskAssigned', { assigneeId: y, previous: x }]]);
    const unassigned = await v1Task(keys, x, [['TaskAssigned', { assigneeId: null, previous: x }]]);
    const deletedTask = await v1Task(keys, x, [['TaskDeleted', {}]]);
    const never = await v1Task(keys, null);
    // An entry a live command wrote in the meantime is newer than the scan: it stays.
    const live = await v1Task(keys, x);
    await redis.hset(keys.assignedTasks(keys.partitionOf(live), GENERAL_PROJECT_ID), live, y);

    const ran = await Promise.all(
      Array.from({ length: 3 }, () =>
        backfillAssignedIndex({ redis, keys, logger, logReader: createLogReader({ redis, keys }) }),
      ),
    );
    expect(ran.some(Boolean)).toBe(true);
    expect(await redis.hget(keys.meta, ASSIGNED_INDEX_FIELD)).toBe('1');
    expect(await assignedIn(keys, GENERAL_PROJECT_ID)).toEqual({
      ...Object.fromEntries(assigned.map((id) => [id, x])),
      [reassigned]: y,
      [live]: y,
    });
    for (const id of [unassigned, deletedTask, never])
      expect((await assignedIn(keys, GENERAL_PROJECT_ID))[id]).toBeUndefined();
    // Recorded as done: a later start does not scan again.
    await redis.del(keys.assignedTasks(keys.partitionOf(assigned[0]!), GENERAL_PROJECT_ID));
    expect(
      await backfillAssignedIndex({
        redis,
        keys,
        logger,
        logReader: createLogReader({ redis, keys }),
      }),
    ).toBe(false);
    expect(
      await redis.exists(keys.assignedTasks(keys.partitionOf(assigned[0]!), GENERAL_PROJECT_ID)),
    ).toBe(0);
  });

  it('lets the process manager unassign tasks from before projects', async () => {
    const sys = await system();
    const [admin, x] = await Promise.all([sys.user('admin'), sys.user()]);
    const old = await Promise.all(Array.from({ length: 5 }, () => v1Task(sys.keys, x.userId)));
    await backfillAssignedIndex({
      redis,
      keys: sys.keys,
      logger,
      logReader: createLogReader({ redis, keys: sys.keys }),
    });
    sys.startProcessManager();
    // General turns private: x is no member of it.
    await ok(
      sys.api.patch(
        `/projects/${GENERAL_PROJECT_ID}`,
        { visibility: 'private' },
        { token: admin.token },
      ),
    );
    await handledUpToHead(sys.keys);
    const unassigned = await systemUnassignments(sys.keys);
    expect([...unassigned.keys()].sort()).toEqual([...old].sort());
    expect([...unassigned.values()].every((seen) => seen.n === 1)).toBe(true);
  });
});
