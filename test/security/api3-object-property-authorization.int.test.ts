import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { idFromIdempotencyKey, newId } from '@tasksync/contracts';
import { readAggregateEntries } from '@tasksync/platform';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type JsonAnswer, waitFor } from '../support';
import { concretePath, type DocumentedRoute, documentedRoutes, type PathIds } from './routes';
import {
  BCRYPT,
  type Member,
  OWN_PROFILE,
  PUBLIC_PROFILE,
  redis,
  type System,
  startSystem,
} from './system';

afterAll(() => redis.quit());
let sys: System;
beforeEach(async () => {
  sys = await startSystem();
});
afterEach(async () => {
  await sys.stop();
});

/** Every documented read a caller with a token can make: the query-service's and identity's GETs. */
const authenticatedReads = () =>
  documentedRoutes().filter((route) => route.method === 'GET' && route.auth);

/**
 * Every documented read with every value of every documented query parameter
 * (one parameter at a time), and with a page of one for each sort of a list
 * that pages: a parameter the table below has no values for fails the test,
 * so a new filter is scanned as soon as it is documented.
 */
const everyRead = (ids: PathIds, values: Record<string, string[]>) =>
  authenticatedReads().flatMap((route) => {
    const base = concretePath(route.path, ids);
    const paths = [base];
    for (const param of route.query) {
      if (param === 'cursor') continue;
      const given = values[param];
      expect(given, `values for ${route.path}?${param}`).toBeDefined();
      for (const value of given!) paths.push(`${base}?${param}=${encodeURIComponent(value)}`);
    }
    if (route.query.includes('cursor')) {
      const sorts = route.query.includes('sort') ? values.sort! : [undefined];
      for (const sort of sorts) paths.push(`${base}?limit=1${sort ? `&sort=${sort}` : ''}`);
    }
    return paths.map((path) => ({ route, path }));
  });

/** What `who` reads of each path, every page of it followed; every answer kept for a scan. */
const readEverything = async (
  reads: { route: DocumentedRoute; path: string }[],
  who: { token: string },
  answers: JsonAnswer[],
) => {
  const headers = { 'x-min-position': await sys.headPositions() };
  const seen: [string, number, unknown][] = [];
  for (const { route, path } of reads) {
    let next: string | undefined = path;
    for (let page = 0; next !== undefined; page++) {
      expect(page, `pages of ${path}`).toBeLessThan(30);
      const answer = await sys.api[route.service].get(next, { token: who.token, headers });
      answers.push(answer);
      seen.push([`${route.service} ${next}`, answer.status, answer.body]);
      const cursor = answer.status === 200 ? answer.body?.nextCursor : undefined;
      next = cursor ? `${path}${path.includes('?') ? '&' : '?'}cursor=${cursor}` : undefined;
    }
  }
  return seen;
};

/** Everything an answer shows: its text and every header, as one string to search. */
const everythingOf = (answer: JsonAnswer) =>
  `${answer.status} ${[...answer.headers].map(([name, value]) => `${name}: ${value}`).join('\n')}\n${answer.text}`;

describe('API3 broken object property level authorization', () => {
  it('shows an outsider nothing of a private project: every documented read, filter, search, sort, page and count answers exactly as before it existed, and no answer or feed message names it', async () => {
    const tag = `zq${randomBytes(5).toString('hex')}`;
    // Everyone registers first: the lists of users are the same before and after.
    const [owner, editor, viewer, outsider] = [
      await sys.register('owner'),
      await sys.register('editor'),
      await sys.register('viewer'),
      await sys.register('outsider'),
    ];
    // Work in the open General project, for every filter below to find something of.
    await sys.createTask(outsider.token, {
      title: 'General work',
      labels: ['shared'],
      assigneeId: editor.userId,
      priority: 'urgent',
      dueDate: '2030-05-05',
    });
    await sys.createTask(owner.token, { title: 'General chores', labels: ['shared'] });
    await sys.createTask(editor.token, { title: 'General done', status: 'completed' });
    // Ids chosen before they exist (a create with an Idempotency-Key names its id), so
    // the outsider reads them as unknown ids first.
    const projectId = idFromIdempotencyKey(owner.userId, 'secret-project');
    const otherId = idFromIdempotencyKey(owner.userId, 'other-project');
    const taskIds = {
      planned: idFromIdempotencyKey(owner.userId, 'planned'),
      started: idFromIdempotencyKey(editor.userId, 'started'),
      dropped: idFromIdempotencyKey(owner.userId, 'dropped'),
    };
    const ids = {
      task: taskIds.planned,
      user: owner.userId,
      project: projectId,
      member: editor.userId,
    };
    const values: Record<string, string[]> = {
      projectId: [projectId, otherId],
      status: ['pending', 'in-progress', 'completed'],
      assigneeId: ['me', editor.userId, owner.userId],
      createdBy: ['me', owner.userId, editor.userId],
      label: [`label-${tag}`, 'shared'],
      priority: ['urgent', 'medium', 'low'],
      q: [tag, 'General', `Plans ${tag}`],
      dueBefore: ['2040-01-01'],
      dueAfter: ['2000-01-01'],
      sort: ['createdAt', 'updatedAt', 'priority', 'dueDate'].flatMap((s) => [s, `-${s}`]),
      limit: ['1', '200'],
      archived: ['true', 'false'],
      asOf: [
        `t${sys.keys.partitionOf(taskIds.planned)}:99999999999999-0`,
        '2100-01-01T00:00:00.000Z',
      ],
    };
    const reads = [
      ...everyRead(ids, values),
      // The same task reads for every task of the project.
      ...Object.values(taskIds).flatMap((task) =>
        everyRead({ ...ids, task }, values).filter(({ route }) =>
          route.path.startsWith('/tasks/{id}'),
        ),
      ),
    ];
    const outsiderFeed = await sys.liveFeed(outsider.token);
    // A feed following the project's tasks by id, as a task page's would.
    const sentinelId = idFromIdempotencyKey(owner.userId, 'sentinel');
    const follower = sys.connectFeed({
      token: outsider.token,
      tasks: [...Object.values(taskIds), sentinelId],
    });
    await waitFor(() => (follower.state.live ? true : undefined), { message: 'a following feed' });
    const outsiderAnswers: JsonAnswer[] = [];
    const before = await readEverything(reads, outsider, outsiderAnswers);

    // The private project, and everything that happens in it.
    const command = async (
      method: string,
      path: string,
      who: Member,
      body?: unknown,
      key?: string,
    ) => {
      const answer = await sys.api.command.request(method, path, {
        token: who.token,
        body,
        ...(key ? { headers: { 'idempotency-key': key } } : {}),
      });
      expect(answer.status, `${method} ${path}: ${answer.text}`).toBeLessThan(300);
      return answer;
    };
    await command(
      'POST',
      '/projects',
      owner,
      { name: `Project ${tag}`, description: `Plans ${tag}` },
      'secret-project',
    );
    await sys.addMember(owner, projectId, editor, 'editor');
    await sys.addMember(owner, projectId, viewer, 'viewer');
    const secret = (title: string, extra: object = {}) => ({
      projectId,
      title: `${title} ${tag}`,
      description: `Plans ${tag}`,
      labels: [`label-${tag}`, 'shared'],
      ...extra,
    });
    await command(
      'POST',
      '/tasks',
      owner,
      secret('Planned', { assigneeId: editor.userId, priority: 'urgent', dueDate: '2030-05-05' }),
      'planned',
    );
    await command(
      'POST',
      '/tasks',
      editor,
      secret('General', { status: 'in-progress', priority: 'low' }),
      'started',
    );
    await command('POST', '/tasks', owner, secret('Dropped'), 'dropped');
    const comments = [
      await command('POST', `/tasks/${taskIds.planned}/comments`, editor, {
        text: `Comment ${tag}`,
      }),
      await command('POST', `/tasks/${taskIds.planned}/comments`, viewer, {
        text: `Viewer ${tag}`,
      }),
    ].map((answer) => answer.body.commentId as string);
    await command('PATCH', `/tasks/${taskIds.planned}`, editor, { status: 'in-progress' });
    await command('PATCH', `/tasks/${taskIds.started}`, editor, { assigneeId: owner.userId });
    await command('POST', '/projects', owner, { name: `Other ${tag}` }, 'other-project');
    await command('PATCH', `/tasks/${taskIds.started}`, owner, { projectId: otherId });
    await command('PATCH', `/projects/${otherId}`, owner, { archived: true });
    await command('DELETE', `/tasks/${taskIds.dropped}`, owner);
    await sys.addMember(owner, projectId, viewer, 'editor');
    await sys.removeMember(owner, projectId, viewer);
    await command('PATCH', `/projects/${projectId}`, owner, { name: `Renamed ${tag}` });

    const after = await readEverything(reads, outsider, outsiderAnswers);
    expect(after).toEqual(before);

    // The same reads by a member and an admin do show the project: the scan below can find it.
    for (const who of [editor, sys.admin]) {
      const theirs: JsonAnswer[] = [];
      await readEverything(reads, who, theirs);
      expect(theirs.filter((answer) => answer.text.includes(tag)).length).toBeGreaterThan(20);
      expect(theirs.some((answer) => answer.text.includes(projectId))).toBe(true);
    }

    // Nothing anywhere names it: not the outsider's answers (headers included), not the
    // documented reads without a token, not the outsider's feed.
    const sentinel = await command('POST', '/tasks', owner, { title: 'General news' }, 'sentinel');
    expect(sentinel.body.id).toBe(sentinelId);
    for (const feed of [outsiderFeed, follower]) {
      await waitFor(() => feed.events.find((e) => e.aggregateId === sentinelId));
    }
    const open = documentedRoutes().filter((route) => route.method === 'GET' && !route.auth);
    expect(open.length).toBeGreaterThanOrEqual(9);
    for (const route of open) outsiderAnswers.push(await sys.api[route.service].get(route.path));
    const needles = [tag, projectId, otherId, ...Object.values(taskIds), ...comments];
    const found = [
      ...outsiderAnswers.map(everythingOf),
      ...[...outsiderFeed.received, ...follower.received].map((message) => JSON.stringify(message)),
    ].flatMap((text) =>
      needles
        .filter((needle) => text.includes(needle))
        .map((needle) => `${needle} in ${text.slice(0, 300)}`),
    );
    expect(found).toEqual([]);
  });

  it('refuses role and other server-owned fields on register, login and role change with 400, appending nothing', async () => {
    const member = await sys.register('member');
    const identity = sys.spec.identity.given(sys.keys.userStream(member.userId));
    const smuggled: Record<string, unknown>[] = [
      { role: 'admin' },
      { role: 'member' },
      { id: newId() },
      { createdAt: '2000-01-01T00:00:00.000Z' },
      { revision: 9 },
      { passwordHash: '$2b$04$abcdefghijklmnopqrstuuK2jvFL6D8l8p1KcWbtsV8WPbG8VDeKm' },
    ];
    for (const [i, extra] of smuggled.entries()) {
      const email = `mass-${i}-${randomBytes(3).toString('hex')}@example.com`;
      for (const path of ['/auth/register', '/users/register']) {
        const refused = await identity.when({
          method: 'POST',
          path,
          body: { email, password: 'long-enough-password', ...extra },
        });
        refused.thenFails(400, 'validation').thenAppends([]);
        expect(JSON.stringify(refused.answer.body.errors)).toContain(Object.keys(extra)[0]);
      }
      expect(await redis.exists(sys.keys.email(email))).toBe(0);
    }
    for (const request of [
      // The same through JSON's own back door: a "__proto__" key.
      {
        method: 'POST',
        path: '/auth/register',
        raw: `{"email":"proto-${randomBytes(3).toString('hex')}@example.com","password":"long-enough-password","__proto__":{"role":"admin"}}`,
        headers: { 'content-type': 'application/json' },
      },
      {
        method: 'POST',
        path: '/auth/login',
        body: { email: member.email, password: member.password, role: 'admin' },
      },
      {
        method: 'PATCH',
        path: `/users/${member.userId}/role`,
        body: { role: 'admin', userId: sys.admin.userId },
        token: sys.admin.token,
      },
    ]) {
      (await identity.when(request)).thenFails(400, 'validation').thenAppends([]);
    }
  });

  it('refuses createdBy, revision, id and other server-owned task fields on create, PATCH, PUT and comments with 400, appending nothing', async () => {
    const [owner, other] = [await sys.register('owner'), await sys.register('other')];
    const task = await sys.createTask(owner.token);
    const serverOwned: Record<string, unknown> = {
      createdBy: other.userId,
      revision: 7,
      id: newId(),
      deleted: true,
      commentCount: 3,
      createdAt: '2000-01-01T00:00:00.000Z',
      updatedAt: '2000-01-01T00:00:00.000Z',
      comments: [],
    };
    const command = sys.spec.command.given(sys.keys.taskStream(task.id));
    for (const [field, value] of Object.entries(serverOwned)) {
      for (const [method, path, body] of [
        ['POST', '/tasks', { title: 'smuggler', [field]: value }],
        ['PATCH', `/tasks/${task.id}`, { [field]: value }],
        ['PATCH', `/tasks/${task.id}`, { title: 'innocent', [field]: value }],
        ['PUT', `/tasks/${task.id}`, { [field]: value }],
      ] as const) {
        const refused = await command.when({ method, path, token: owner.token, body });
        refused.thenFails(400, 'validation').thenAppends([]);
        expect(JSON.stringify(refused.answer.body.errors)).toContain(field);
      }
    }
    for (const extra of [{ authorId: other.userId }, { commentId: newId() }, { createdAt: 'x' }]) {
      (
        await command.when({
          method: 'POST',
          path: `/tasks/${task.id}/comments`,
          token: owner.token,
          body: { text: 'hi', ...extra },
        })
      )
        .thenFails(400, 'validation')
        .thenAppends([]);
    }
  });

  it('refuses ownerId, members, roles beyond a project’s and other server-owned project fields with 400, appending nothing; member lists name no e-mail', async () => {
    const [owner, other] = [await sys.register('owner'), await sys.register('other')];
    const project = await sys.createProject(owner.token, { visibility: 'private' });
    await sys.addMember(owner, project.id, other, 'viewer');
    const command = sys.spec.command.given(sys.keys.projectStream(project.id));
    const serverOwned: Record<string, unknown> = {
      ownerId: other.userId,
      members: { [other.userId]: 'owner' },
      id: newId(),
      revision: 9,
      createdAt: '2000-01-01T00:00:00.000Z',
      updatedAt: '2000-01-01T00:00:00.000Z',
      access: 'owner',
      memberCount: 0,
      taskCounts: {},
    };
    for (const [field, value] of Object.entries(serverOwned)) {
      for (const [method, path, body] of [
        ['POST', '/projects', { name: 'smuggler', [field]: value }],
        ['POST', '/projects', { name: 'smuggler', archived: true, [field]: value }],
        ['PATCH', `/projects/${project.id}`, { [field]: value }],
        ['PATCH', `/projects/${project.id}`, { name: 'innocent', [field]: value }],
      ] as const) {
        const refused = await command.when({ method, path, token: owner.token, body });
        refused.thenFails(400, 'validation').thenAppends([]);
        expect(JSON.stringify(refused.answer.body.errors)).toContain(field);
      }
    }
    // A project role is owner, editor or viewer: never the site's admin, and only for the user named.
    const members = `/projects/${project.id}/members`;
    for (const [method, path, body] of [
      ['PUT', `${members}/${other.userId}`, { role: 'admin' }],
      ['PUT', `${members}/${other.userId}`, { role: 'owner', userId: owner.userId }],
      ['PUT', `${members}/${other.userId}`, { role: 'owner', projectId: newId() }],
      ['PUT', `${members}/${other.userId}`, { role: 'owner', by: owner.userId }],
      ['POST', members, { email: other.email, role: 'admin' }],
      ['POST', members, { email: other.email, role: 'owner', userId: owner.userId }],
    ] as const) {
      (await command.when({ method, path, token: owner.token, body }))
        .thenFails(400, 'validation')
        .thenAppends([]);
    }
    // POST /projects makes the caller its owner whatever else is sent, and nobody else.
    const created = await sys.spec.command.when({
      method: 'POST',
      path: '/projects',
      token: other.token,
      body: { name: 'mine' },
    });
    created.thenAnswers(201).thenAppends([
      {
        type: 'ProjectCreated',
        actor: other.userId,
        data: expect.objectContaining({ ownerId: other.userId, visibility: 'private' }),
      },
    ]);
    const listed = await sys.readCaughtUp(members, other);
    expect(listed.body.items.map((member: object) => Object.keys(member).sort())).toEqual([
      ['addedAt', 'name', 'role', 'userId'],
      ['addedAt', 'name', 'role', 'userId'],
    ]);
    expect(listed.text).not.toContain(owner.email);
  });

  it('shows an e-mail only to its owner and to admins, on every endpoint that returns a user and in the live feed', async () => {
    const [alice, bob] = [await sys.register('alice'), await sys.register('bob')];
    const board = await sys.liveFeed(bob.token);
    const carol = await sys.register('carol');
    const keysOf = (profile: object) => Object.keys(profile).sort();
    // Her own answers: register, login, /users/me and its alias.
    expect(carol.registered.body.user).toEqual({
      id: carol.userId,
      name: 'carol',
      role: 'member',
      createdAt: expect.any(String),
      email: carol.email,
    });
    expect(carol.login.body.user).toEqual(carol.registered.body.user);
    for (const path of ['/users/me', '/users/profile']) {
      expect((await sys.api.identity.get(path, { token: carol.token })).body).toEqual({
        user: carol.registered.body.user,
      });
    }
    const changed = await sys.api.identity.patch(
      `/users/${carol.userId}/role`,
      { role: 'member' },
      { token: sys.admin.token },
    );
    expect(changed.body.user.email).toBe(carol.email);

    const task = await sys.createTask(alice.token, { assigneeId: carol.userId });
    const comment = await sys.api.command.post(
      `/tasks/${task.id}/comments`,
      { text: 'hello' },
      { token: carol.token },
    );
    const after = { 'x-min-position': await sys.headPositions() };
    const list = await sys.api.query.get('/users?limit=200', { token: bob.token, headers: after });
    expect(list.body.items).toHaveLength(4);
    for (const profile of list.body.items as { id: string; email?: string }[]) {
      if (profile.id === bob.userId) {
        expect(keysOf(profile)).toEqual(OWN_PROFILE);
        expect(profile.email).toBe(bob.email);
      } else {
        expect(keysOf(profile)).toEqual(PUBLIC_PROFILE);
      }
    }
    const asAdmin = await sys.api.query.get('/users?limit=200', {
      token: sys.admin.token,
      headers: after,
    });
    expect(asAdmin.body.items.map(keysOf)).toEqual(Array(4).fill(OWN_PROFILE));
    expect(
      keysOf((await sys.api.query.get(`/users/${carol.userId}`, { token: bob.token })).body.user),
    ).toEqual(PUBLIC_PROFILE);
    // Tasks, comments and history name users by id only.
    const emails = [alice.email, bob.email, carol.email, sys.admin.email];
    for (const path of [`/tasks/${task.id}`, `/tasks/${task.id}/history`, '/tasks', '/stats']) {
      const answer = await sys.api.query.get(path, { token: bob.token, headers: after });
      expect(answer.status).toBe(200);
      for (const email of emails) expect(answer.text).not.toContain(email);
    }
    // The feed has no per-reader view: a UserRegistered goes out as a public profile.
    const registered = await waitFor(() =>
      board.events.find((e) => e.type === 'UserRegistered' && e.aggregateId === carol.userId),
    );
    expect(registered.data).toEqual({ name: 'carol', role: 'member' });
    await waitFor(() => board.events.find((e) => e.position === comment.body.position));
    for (const email of emails) expect(JSON.stringify(board.events)).not.toContain(email);
  });

  it('never lets a password, its hash or the JWT secret out: not in answers, events, the feed or the read model', async () => {
    const [alice, bob] = [await sys.register('alice'), await sys.register('bob')];
    const board = await sys.liveFeed(alice.token);
    const carol = await sys.register('carol');
    await sys.api.identity.patch(
      `/users/${bob.userId}/role`,
      { role: 'admin' },
      { token: sys.admin.token },
    );
    await sys.api.identity.post('/auth/login', { email: bob.email, password: 'wrong-password' });
    const task = await sys.createTask(alice.token, { assigneeId: carol.userId });
    await sys.api.command.post(`/tasks/${task.id}/comments`, { text: 'hi' }, { token: bob.token });
    const after = { 'x-min-position': await sys.headPositions() };
    for (const who of [alice, bob, carol, sys.admin]) {
      await sys.api.identity.get('/users/me', { token: who.token });
      await sys.api.query.get('/users', { token: who.token, headers: after });
      await sys.api.query.get(`/users/${who.userId}`, { token: who.token });
    }
    await sys.api.query.get(`/tasks/${task.id}/history`, { token: bob.token });
    await waitFor(() => board.events.find((e) => e.type === 'CommentAdded'));

    // The hashes exist (so the scans below can find them), but only under the private keys.
    for (const who of [alice, bob, carol, sys.admin]) {
      expect(await redis.get(sys.keys.credentials(who.userId))).toMatch(BCRYPT);
    }
    const leaks = (label: string, text: string) => [
      ...(BCRYPT.test(text) ? [`${label}: a bcrypt hash`] : []),
      ...sys.secrets.filter((secret) => text.includes(secret)).map(() => `${label}: a secret`),
    ];
    expect(sys.answers.length).toBeGreaterThan(20);
    const found = sys.answers.flatMap((text, i) => leaks(`answer ${i}`, text));
    found.push(...leaks('feed', JSON.stringify(board.events)));
    // Every log, whole, and the entries of each user and of the task as loaded by their index.
    for (const log of sys.keys.logs()) {
      const entries = (await redis.xrange(log.key, '-', '+')) as [string, string[]][];
      found.push(...leaks(log.key, JSON.stringify(entries)));
    }
    for (const aggregate of [
      ...[alice, bob, carol, sys.admin].map((who) => sys.keys.userStream(who.userId)),
      sys.keys.taskStream(task.id),
    ]) {
      const entries = await readAggregateEntries(redis, {
        streamKey: aggregate,
        logKey: sys.keys.logOf(aggregate),
      });
      expect(entries.length, aggregate).toBeGreaterThan(0);
      found.push(...leaks(aggregate, JSON.stringify(entries)));
    }
    for (const file of [sys.readModelPath, `${sys.readModelPath}-wal`]) {
      if (existsSync(file)) found.push(...leaks(file, readFileSync(file).toString('latin1')));
    }
    const userColumns = (
      sys.db.prepare('PRAGMA table_info(users)').all() as { name: string }[]
    ).map((c) => c.name);
    expect(userColumns.filter((name) => /pass|hash|secret|cred/i.test(name))).toEqual([]);
    expect(found).toEqual([]);
  });
});
