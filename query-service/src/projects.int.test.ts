import {
  GENERAL_PROJECT_ID,
  newId,
  type ProjectEvent,
  type Role,
  type UserEvent,
} from '@tasksync/contracts';
import { taskCreated } from '@tasksync/contracts/testing';
import {
  appendToStream,
  createLogger,
  createTokenService,
  readLastEntryId,
} from '@tasksync/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenCommandService, startReadSide } from '../../test/in-process';
import {
  client,
  connectTestRedis,
  expectProblem,
  type JsonAnswer,
  minPositionHeader,
  testKeys,
} from '../../test/support';

/**
 * Design §10 on the read side, over real HTTP with the real projector: what
 * each caller sees of projects and their tasks, and that what they may not
 * see answers exactly as what does not exist. Project and task events are
 * appended as the command-service appends them, so these tests read nothing
 * but what the projector made of the logs.
 */

const redis = connectTestRedis();
const keys = testKeys(1);
const tokens = createTokenService({
  secret: 'projects-test-secret-projects-test-secret',
  ttlSeconds: 3600,
});
const logger = createLogger({ name: 'projects-test', level: 'silent' });
const closers: (() => Promise<unknown> | unknown)[] = [];
let queries: ReturnType<typeof client>;

interface Person {
  userId: string;
  role: Role;
  name: string;
}
const person = (name: string, role: Role = 'member'): Person => ({ userId: newId(), role, name });
const owner = person('Olga');
const editor = person('eddie');
const viewer = person('Vera');
const leaver = person('Leo');
const outsider = person('Oscar');
const admin = person('Ada', 'admin');
const demoted = person('Dora', 'admin');
const token = (who: Person) => tokens.sign({ userId: who.userId, role: who.role }).token;

// Event times: one minute apart, in append order, so answers can be written out exactly.
let minute = 0;
const nextTime = () => new Date(Date.UTC(2026, 5, 1, 9, minute++)).toISOString();

/** The newest position appended per log: X-Min-Position for a read that must see it all. */
const appended = new Map<string, string>();
const upToNow = () => minPositionHeader(appended);
const append = async (
  log: string,
  request: Omit<Parameters<typeof appendToStream>[1], 'events' | 'expectedRevision'>,
  events: (ProjectEvent | UserEvent | ReturnType<typeof taskCreated>)[],
  actor: string,
) => {
  const times = events.map(() => nextTime());
  const result = await appendToStream(redis, {
    ...request,
    expectedRevision: 'any',
    events: events.map((event, i) => ({
      ...event,
      id: newId(),
      at: times[i]!,
      actor,
      corr: 'test',
    })),
  });
  if (result.outcome !== 'appended') throw new Error(`append: ${result.outcome}`);
  appended.set(log, result.entryId);
  return { position: `${log}:${result.entryId}`, times };
};

const register = (who: Person) =>
  append(
    'id',
    { streamKey: keys.userStream(who.userId), logKey: keys.identityLog, aggregateId: who.userId },
    [
      {
        type: 'UserRegistered',
        data: { email: `${who.name.toLowerCase()}@example.com`, name: who.name, role: who.role },
      },
    ],
    'system',
  );
const projectEvents = (projectId: string, events: ProjectEvent[], actor = owner.userId) =>
  append(
    'p',
    { streamKey: keys.projectStream(projectId), logKey: keys.projectLog, aggregateId: projectId },
    events,
    actor,
  );
const createTask = async (
  projectId: string,
  fields: Partial<ReturnType<typeof taskCreated>['data']>,
  by = owner,
) => {
  const id = newId();
  const partition = keys.partitionOf(id);
  const { position, times } = await append(
    `t${partition}`,
    { streamKey: keys.taskStream(id), logKey: keys.taskLog(partition), aggregateId: id },
    [taskCreated(by.userId, { projectId, ...fields })],
    by.userId,
  );
  return { id, position, createdAt: times[0]! };
};

const payroll = newId();
const garden = newId();
const attic = newId();
let payrollCreated: string;
let payrollChanged: string;
let secret: Awaited<ReturnType<typeof createTask>>;
let secretToo: Awaited<ReturnType<typeof createTask>>;
let flowers: Awaited<ReturnType<typeof createTask>>;
let general: Awaited<ReturnType<typeof createTask>>;
let stored: Awaited<ReturnType<typeof createTask>>;

beforeAll(async () => {
  for (const who of [owner, editor, viewer, leaver, outsider, admin, demoted]) await register(who);
  await append(
    'id',
    {
      streamKey: keys.userStream(demoted.userId),
      logKey: keys.identityLog,
      aggregateId: demoted.userId,
    },
    [{ type: 'UserRoleChanged', data: { from: 'admin', to: 'member' } }],
    admin.userId,
  );
  // The command-service creates the General project at start.
  const commandServer = await listenCommandService({ redis, keys, tokens, logger });
  appended.set('p', (await readLastEntryId(redis, keys.projectLog))!);
  const readSide = await startReadSide({ redis, keys, tokens, logger }, { blockMs: 100 });
  closers.push(commandServer.close, readSide.close);
  queries = client(readSide.url);

  payrollCreated = (
    await projectEvents(payroll, [
      {
        type: 'ProjectCreated',
        data: {
          name: 'Payroll',
          description: 'salaries',
          visibility: 'private',
          ownerId: owner.userId,
        },
      },
      { type: 'MemberAdded', data: { userId: editor.userId, role: 'editor' } },
      { type: 'MemberAdded', data: { userId: viewer.userId, role: 'viewer' } },
      { type: 'MemberAdded', data: { userId: leaver.userId, role: 'editor' } },
    ])
  ).times[0]!;
  payrollChanged = (
    await projectEvents(payroll, [
      { type: 'MemberRoleChanged', data: { userId: leaver.userId, from: 'editor', to: 'viewer' } },
    ])
  ).times[0]!;
  await projectEvents(garden, [
    {
      type: 'ProjectCreated',
      data: { name: 'garden', description: '', visibility: 'open', ownerId: owner.userId },
    },
  ]);
  await projectEvents(attic, [
    {
      type: 'ProjectCreated',
      data: { name: 'Attic', description: '', visibility: 'private', ownerId: owner.userId },
    },
    { type: 'MemberAdded', data: { userId: viewer.userId, role: 'viewer' } },
    { type: 'ProjectArchived', data: {} },
  ]);
  secret = await createTask(payroll, {
    title: 'Secret kangaroo raise',
    assigneeId: editor.userId,
    labels: ['money'],
  });
  secretToo = await createTask(payroll, { title: 'Second secret', status: 'in-progress' }, editor);
  flowers = await createTask(garden, { title: 'Water the kangaroo paw', labels: ['money'] });
  general = await createTask(GENERAL_PROJECT_ID, { title: 'General kangaroo' }, outsider);
  stored = await createTask(attic, { title: 'Stored kangaroo' });
  // Everything above applied before any test reads.
  const ready = await queries.get('/projects', { token: token(admin), headers: upToNow() });
  expect(ready.status).toBe(200);
});
afterAll(async () => {
  for (const close of closers) await close();
  await redis.quit();
});

const as = (who: Person, path: string) =>
  queries.get(path, { token: token(who), headers: upToNow() });
const ids = (answer: JsonAnswer) => answer.body.items.map((item: { id: string }) => item.id);
const expectUnseen = async (who: Person, path: string, unknownPath: string) => {
  const [unseen, unknown] = [await as(who, path), await as(who, unknownPath)];
  expectProblem(unseen, 404, 'not-found');
  // Nothing tells a project or task the caller may not see from one that does not exist.
  expect(unseen.body).toEqual(unknown.body);
  expect(unseen.headers.get('x-read-position')).toMatch(/(^|,)p:\d+-\d+/);
};

const payrollAnswer = (access: string) => ({
  id: payroll,
  name: 'Payroll',
  description: 'salaries',
  visibility: 'private',
  archived: false,
  ownerId: owner.userId,
  createdAt: payrollCreated,
  updatedAt: payrollChanged,
  revision: 4,
  access,
  memberCount: 4,
  taskCounts: { pending: 1, 'in-progress': 1, completed: 0 },
});

describe('GET /projects', () => {
  it('lists the projects the caller sees by name, case aside, with their access, members and tasks', async () => {
    const mine = await as(owner, '/projects');
    expect(mine.status).toBe(200);
    expect(mine.headers.get('x-read-position')).toMatch(/(^|,)p:\d+-\d+/);
    expect(mine.body).toEqual({
      items: [
        expect.objectContaining({
          id: garden,
          name: 'garden',
          access: 'owner',
          memberCount: 1,
          taskCounts: { pending: 1, 'in-progress': 0, completed: 0 },
        }),
        expect.objectContaining({
          id: GENERAL_PROJECT_ID,
          name: 'General',
          ownerId: 'system',
          visibility: 'open',
          access: 'editor',
          memberCount: 0,
          taskCounts: { pending: 1, 'in-progress': 0, completed: 0 },
        }),
        payrollAnswer('owner'),
      ],
      nextCursor: null,
    });
    expect(ids(await as(viewer, '/projects'))).toEqual([garden, GENERAL_PROJECT_ID, payroll]);
    expect((await as(viewer, '/projects')).body.items[2].access).toBe('viewer');
    expect(ids(await as(outsider, '/projects'))).toEqual([garden, GENERAL_PROJECT_ID]);
    expect((await as(outsider, '/projects')).body.items[0].access).toBe('editor');
    const all = await as(admin, '/projects');
    expect(all.body.items.map((p: { access: string }) => p.access)).toEqual([
      'admin',
      'admin',
      'admin',
    ]);
    expect(ids(all)).toEqual([garden, GENERAL_PROJECT_ID, payroll]);
  });

  it('lists archived projects only with archived=true, to those who see them', async () => {
    const archived = await as(viewer, '/projects?archived=true');
    expect(archived.body).toEqual({
      items: [expect.objectContaining({ id: attic, archived: true, access: 'viewer' })],
      nextCursor: null,
    });
    expect(ids(await as(outsider, '/projects?archived=true'))).toEqual([]);
    expect(ids(await as(admin, '/projects?archived=true'))).toEqual([attic]);
  });

  it('pages with a cursor, each project exactly once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: JsonAnswer = await as(
        admin,
        `/projects?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.body.items).toHaveLength(1);
      seen.push(...ids(page));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([garden, GENERAL_PROJECT_ID, payroll]);
  });

  it('refuses unknown and invalid parameters with 400', async () => {
    for (const query of ['mine=1', 'limit=0', 'limit=201', 'archived=yes', 'cursor=garbage']) {
      const answer = await as(owner, `/projects?${query}`);
      expectProblem(answer, 400);
    }
  });
});

describe('GET /projects/:id and its members', () => {
  it('answers a project the caller sees, with their access', async () => {
    const answer = await as(owner, `/projects/${payroll}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(payrollAnswer('owner'));
    expect(answer.headers.get('etag')).toMatch(/^W\/"/);
    expect((await as(viewer, `/projects/${payroll}`)).body).toEqual(payrollAnswer('viewer'));
    expect((await as(admin, `/projects/${payroll}`)).body).toEqual(payrollAnswer('admin'));
    expect((await as(outsider, `/projects/${garden}`)).body.access).toBe('editor');
  });

  it('lists the members, owners first and each role by name, to whoever sees the project', async () => {
    const members = await as(viewer, `/projects/${payroll}/members`);
    expect(members.status).toBe(200);
    expect(members.body).toEqual({
      items: [
        { userId: owner.userId, name: 'Olga', role: 'owner', addedAt: payrollCreated },
        { userId: editor.userId, name: 'eddie', role: 'editor', addedAt: expect.any(String) },
        { userId: leaver.userId, name: 'Leo', role: 'viewer', addedAt: expect.any(String) },
        { userId: viewer.userId, name: 'Vera', role: 'viewer', addedAt: expect.any(String) },
      ],
    });
    const open = await as(outsider, `/projects/${garden}/members`);
    expect(open.body.items.map((m: { userId: string }) => m.userId)).toEqual([owner.userId]);
    expect((await as(admin, `/projects/${payroll}/members`)).body).toEqual(members.body);
  });

  it('answers 404 to an outsider exactly as for a project that does not exist', async () => {
    const unknown = newId();
    await expectUnseen(outsider, `/projects/${payroll}`, `/projects/${unknown}`);
    await expectUnseen(outsider, `/projects/${payroll}/members`, `/projects/${unknown}/members`);
    await expectUnseen(outsider, `/projects/${attic}`, `/projects/${unknown}`);
    await expectUnseen(demoted, `/projects/${payroll}`, `/projects/${unknown}`);
    expectProblem(await as(owner, `/projects/${payroll}?x=1`), 400);
    expectProblem(await as(owner, `/projects/${payroll}/members?limit=5`), 400);
  });
});

describe('tasks of a private project', () => {
  const everyRead = (taskId: string, position: string) => [
    `/tasks/${taskId}`,
    `/tasks/${taskId}/history`,
    `/tasks/${taskId}?asOf=${position}`,
    `/tasks/${taskId}?asOf=${encodeURIComponent(new Date().toISOString())}`,
  ];

  it('answer 404 to an outsider on every read, exactly as a task that does not exist', async () => {
    const unknown = newId();
    for (const [read, same] of [
      [`/tasks/${secret.id}`, `/tasks/${unknown}`],
      [`/tasks/${secret.id}/history`, `/tasks/${unknown}/history`],
      [
        `/tasks/${secret.id}?asOf=${secret.position}`,
        `/tasks/${unknown}?asOf=2030-01-01T00:00:00Z`,
      ],
      [
        `/tasks/${secret.id}?asOf=2000-01-01T00:00:00Z`,
        `/tasks/${unknown}?asOf=2030-01-01T00:00:00Z`,
      ],
      [`/tasks?projectId=${payroll}`, `/tasks?projectId=${unknown}`],
      [`/stats?projectId=${payroll}`, `/stats?projectId=${unknown}`],
    ])
      await expectUnseen(outsider, read!, same!);
    // A demoted admin's token still says admin; the model says member.
    await expectUnseen(demoted, `/tasks/${secret.id}`, `/tasks/${unknown}`);
    // Archived projects are read-only, not hidden: their members still read them.
    expect((await as(viewer, `/tasks/${stored.id}`)).status).toBe(200);
    await expectUnseen(outsider, `/tasks/${stored.id}`, `/tasks/${unknown}`);
  });

  it('are read by every member and by a site admin', async () => {
    for (const who of [owner, editor, viewer, leaver, admin]) {
      for (const path of everyRead(secret.id, secret.position)) {
        const answer = await as(who, path);
        expect({ who: who.name, path, status: answer.status }).toEqual({
          who: who.name,
          path,
          status: 200,
        });
      }
    }
    const task = await as(viewer, `/tasks/${secret.id}`);
    expect(task.body).toEqual({
      id: secret.id,
      projectId: payroll,
      title: 'Secret kangaroo raise',
      description: '',
      status: 'pending',
      assigneeId: editor.userId,
      priority: 'medium',
      dueDate: null,
      labels: ['money'],
      createdBy: owner.userId,
      createdAt: secret.createdAt,
      updatedAt: secret.createdAt,
      revision: 0,
      commentCount: 0,
      comments: [],
    });
    expect((await as(viewer, `/tasks/${secret.id}?asOf=${secret.position}`)).body).toMatchObject({
      projectId: payroll,
      title: 'Secret kangaroo raise',
    });
  });

  it('are in no list, search, count or project filter of an outsider', async () => {
    const lists = [
      '/tasks?limit=200',
      '/tasks?q=kangaroo&limit=200',
      '/tasks?label=money&limit=200',
      `/tasks?assigneeId=${editor.userId}&limit=200`,
      '/tasks?sort=priority&limit=200',
      '/tasks?sort=-createdAt&limit=200',
      '/tasks?status=in-progress&limit=200',
    ];
    const forOutsider = await Promise.all(lists.map((path) => as(outsider, path)));
    expect(forOutsider.map(ids)).toEqual([
      [general.id, flowers.id],
      [general.id, flowers.id],
      [flowers.id],
      [],
      // One priority: ties go by id.
      [flowers.id, general.id].sort(),
      [general.id, flowers.id],
      [],
    ]);
    // The viewer's lists hold the archived project's task too: archived is read-only, not hidden.
    const forViewer = await Promise.all(lists.map((path) => as(viewer, path)));
    expect(forViewer.map(ids)).toEqual([
      [stored.id, general.id, flowers.id, secretToo.id, secret.id],
      [stored.id, general.id, flowers.id, secret.id],
      [flowers.id, secret.id],
      [secret.id],
      [stored.id, general.id, flowers.id, secretToo.id, secret.id].sort(),
      [stored.id, general.id, flowers.id, secretToo.id, secret.id],
      [secretToo.id],
    ]);
    expect(ids(await as(admin, '/tasks?q=kangaroo&limit=200'))).toEqual([
      stored.id,
      general.id,
      flowers.id,
      secret.id,
    ]);
    expect(ids(await as(viewer, `/tasks?projectId=${payroll}`))).toEqual([secretToo.id, secret.id]);
    expect(ids(await as(outsider, `/tasks?projectId=${garden}`))).toEqual([flowers.id]);
  });

  it('are not counted in an outsider’s /stats', async () => {
    expect((await as(outsider, '/stats')).body).toEqual({
      byStatus: { pending: 2, 'in-progress': 0, completed: 0 },
      byAssignee: [{ assigneeId: null, count: 2 }],
    });
    expect((await as(viewer, '/stats')).body).toEqual({
      byStatus: { pending: 4, 'in-progress': 1, completed: 0 },
      byAssignee: [
        { assigneeId: null, count: 4 },
        { assigneeId: editor.userId, count: 1 },
      ],
    });
    expect((await as(viewer, `/stats?projectId=${payroll}`)).body).toEqual({
      byStatus: { pending: 1, 'in-progress': 1, completed: 0 },
      byAssignee: [
        { assigneeId: null, count: 1 },
        { assigneeId: editor.userId, count: 1 },
      ],
    });
    expect((await as(admin, '/stats')).body.byStatus).toEqual({
      pending: 4,
      'in-progress': 1,
      completed: 0,
    });
    expectProblem(await as(viewer, '/stats?projectId=nope'), 400);
    expectProblem(await as(viewer, '/stats?mine=1'), 400);
  });

  it('never reach an outsider through another caller’s cached list', async () => {
    const url = '/tasks?label=money&sort=createdAt';
    const first = await as(owner, url);
    expect(ids(first)).toEqual([secret.id, flowers.id]);
    const again = await as(owner, url);
    expect(again.headers.get('x-cache')).toBe('hit');
    const other = await as(outsider, url);
    // The same URL at the same position, answered for this caller.
    expect(other.headers.get('x-read-position')).toBe(first.headers.get('x-read-position'));
    expect(other.headers.get('x-cache')).toBe('miss');
    expect(ids(other)).toEqual([flowers.id]);
  });
});

describe('membership changes', () => {
  it('stop a removed member’s reads once the projector has applied the removal', async () => {
    const before = await Promise.all(
      [`/tasks/${secretToo.id}`, '/tasks?limit=200', `/projects/${payroll}`].map((path) =>
        as(leaver, path),
      ),
    );
    expect(before.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(ids(before[1]!)).toContain(secretToo.id);
    const { position } = await projectEvents(payroll, [
      { type: 'MemberRemoved', data: { userId: leaver.userId, by: owner.userId } },
    ]);
    const after = (path: string) =>
      queries.get(path, { token: token(leaver), headers: { 'x-min-position': position } });
    const unknown = newId();
    for (const [read, same] of [
      [`/tasks/${secretToo.id}`, `/tasks/${unknown}`],
      [`/tasks/${secretToo.id}/history`, `/tasks/${unknown}/history`],
      [
        `/tasks/${secretToo.id}?asOf=${secretToo.position}`,
        `/tasks/${unknown}?asOf=2030-01-01T00:00:00Z`,
      ],
      [`/projects/${payroll}`, `/projects/${unknown}`],
      [`/projects/${payroll}/members`, `/projects/${unknown}/members`],
      [`/tasks?projectId=${payroll}`, `/tasks?projectId=${unknown}`],
    ]) {
      const [gone, never] = [await after(read!), await after(same!)];
      expectProblem(gone, 404, 'not-found');
      expect(gone.body).toEqual(never.body);
    }
    const list = await after('/tasks?limit=200');
    expect(ids(list)).not.toContain(secretToo.id);
    expect(ids(list)).not.toContain(secret.id);
    expect(ids(await after('/projects'))).toEqual([garden, GENERAL_PROJECT_ID]);
    expect((await after('/stats')).body.byStatus['in-progress']).toBe(0);
    // The others keep reading it.
    expect((await as(viewer, `/tasks/${secretToo.id}`)).status).toBe(200);
  });

  it('follow a project turning private, and a new member', async () => {
    const seen = async () => ids(await as(outsider, '/tasks?limit=200'));
    expect(await seen()).toContain(flowers.id);
    await projectEvents(garden, [
      { type: 'ProjectVisibilityChanged', data: { from: 'open', to: 'private' } },
    ]);
    expect(await seen()).not.toContain(flowers.id);
    await expectUnseen(outsider, `/tasks/${flowers.id}`, `/tasks/${newId()}`);
    await projectEvents(garden, [
      { type: 'MemberAdded', data: { userId: outsider.userId, role: 'viewer' } },
    ]);
    expect(await seen()).toContain(flowers.id);
    expect((await as(outsider, `/projects/${garden}`)).body).toMatchObject({
      visibility: 'private',
      access: 'viewer',
      memberCount: 2,
    });
  });
});

describe('OpenAPI', () => {
  it('documents the project routes, their parameters and the 404 of what the caller cannot see', async () => {
    const { paths } = (await queries.get('/openapi.json')).body;
    const parameters = (path: string) =>
      paths[path].get.parameters
        .filter((p: { in: string }) => p.in === 'query')
        .map((p: { name: string }) => p.name);
    expect(parameters('/projects')).toEqual(['archived', 'limit', 'cursor']);
    expect(parameters('/tasks')).toContain('projectId');
    expect(parameters('/stats')).toEqual(['projectId']);
    for (const path of [
      '/projects/{id}',
      '/projects/{id}/members',
      '/tasks',
      '/stats',
      '/tasks/{id}',
    ])
      expect(Object.keys(paths[path].get.responses)).toContain('404');
    expect(
      paths['/projects/{id}'].get.responses['200'].content['application/json'].schema.properties,
    ).toHaveProperty('access');
    expect(
      paths['/projects/{id}/members'].get.responses['200'].content['application/json'].schema
        .properties.items.items.required,
    ).toEqual(['userId', 'name', 'role', 'addedAt']);
  });
});
