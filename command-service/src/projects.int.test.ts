import {
  type AuthContext,
  fieldsToRecord,
  GENERAL_PROJECT_ID,
  idFromIdempotencyKey,
  MAX_PROJECT_MEMBERS,
  newId,
  type ProjectEvent,
  type Role,
} from '@tasksync/contracts';
import {
  createMetrics,
  createRedis,
  createTokenService,
  readRevisionCount,
} from '@tasksync/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiSpec, apiSpec, projectHistory } from '../../test/api-spec';
import {
  appendUserRegistered,
  capturingLogger,
  client,
  connectTestRedis,
  listen,
  readEventsOf,
  testKeys,
  testRedisConfig,
} from '../../test/support';
import { buildCommandApp } from './app';
import { bootstrapGeneralProject } from './projects/general';

const SECRET = 'projects-test-secret-projects-test-secret-0123';
const redis = connectTestRedis();
const keys = testKeys(2);
const tokens = createTokenService({ secret: SECRET, ttlSeconds: 3600 });
let api: ReturnType<typeof client>;
let spec: ApiSpec;
let close: () => Promise<void>;

/** Registers a user by appending UserRegistered, as identity-service would, and signs a token for it. */
const user = async (role: Role = 'member') => {
  const userId = newId();
  const email = `${userId}@example.com`;
  await appendUserRegistered(
    redis,
    keys,
    { userId, email, role },
    { unique: [{ key: keys.email(email), value: userId }] },
  );
  const auth: AuthContext = { userId, role };
  return { ...auth, email, token: tokens.sign(auth).token };
};
type User = Awaited<ReturnType<typeof user>>;

let owner: User;
let editor: User;
let viewer: User;
let outsider: User;
let admin: User;
let newcomer: User;

const deps = () => ({
  redis,
  keys,
  tokens,
  logger: capturingLogger().logger,
  metrics: createMetrics('projects-test'),
  now: () => new Date(),
  newId,
});

beforeAll(async () => {
  await bootstrapGeneralProject(deps());
  const server = await listen(buildCommandApp(deps()));
  close = server.close;
  api = client(server.url);
  spec = apiSpec({ redis, keys, api });
  [owner, editor, viewer, outsider, admin, newcomer] = await Promise.all([
    user(),
    user(),
    user(),
    user(),
    user('admin'),
    user(),
  ]);
});
afterAll(async () => {
  await close();
  await redis.quit();
});

/** A private project of `owner` with an editor and a viewer (and whatever else is given). */
const givenProject = (more: ProjectEvent[] = [], visibility: 'private' | 'open' = 'private') => {
  const projectId = newId();
  const history = projectHistory(
    keys,
    projectId,
    [
      {
        type: 'ProjectCreated',
        data: { name: 'Apollo', description: '', visibility, ownerId: owner.userId },
      },
      { type: 'MemberAdded', data: { userId: editor.userId, role: 'editor' } },
      { type: 'MemberAdded', data: { userId: viewer.userId, role: 'viewer' } },
      ...more,
    ] satisfies ProjectEvent[],
    owner.userId,
  );
  return { projectId, given: spec.given(history), stream: keys.projectStream(projectId) };
};

describe('POST /projects', () => {
  it('creates a private project owned by the caller: 201, Location, ETag, X-Event-Position, one ProjectCreated', async () => {
    const created = await spec.when({
      method: 'POST',
      path: '/projects',
      body: { name: '  Apollo ', description: 'To the moon' },
      token: owner.token,
      headers: { 'x-request-id': 'req-project-1' },
    });
    const { answer } = created;
    created.thenAnswers(201, {
      id: expect.any(String),
      revision: 0,
      position: expect.stringMatching(/^p:\d+-\d+$/),
    });
    expect(answer.headers.get('location')).toBe(`/projects/${answer.body.id}`);
    expect(answer.headers.get('etag')).toBe('"0"');
    expect(answer.headers.get('x-event-position')).toBe(answer.body.position);
    created.thenAppends([
      {
        type: 'ProjectCreated',
        agg: answer.body.id,
        rev: 0,
        actor: owner.userId,
        corr: 'req-project-1',
        entryId: answer.body.position.slice(2),
        data: {
          name: 'Apollo',
          description: 'To the moon',
          visibility: 'private',
          ownerId: owner.userId,
        },
      },
    ]);
    expect(await readEventsOf(redis, keys.projectStream(answer.body.id))).toEqual(created.appended);
  });

  it('keeps an open visibility given', async () => {
    (
      await spec.when({
        method: 'POST',
        path: '/projects',
        body: { name: 'Open house', visibility: 'open' },
        token: viewer.token,
      })
    )
      .thenAnswers(201)
      .thenAppends([
        {
          type: 'ProjectCreated',
          data: { name: 'Open house', description: '', visibility: 'open', ownerId: viewer.userId },
        },
      ]);
  });

  it('refuses invalid bodies with 400 and a missing token with 401, appending nothing', async () => {
    for (const body of [
      {},
      { name: '' },
      { name: '   ' },
      { name: 'x'.repeat(101) },
      { name: 'ok', description: 'x'.repeat(2_001) },
      { name: 'ok', visibility: 'secret' },
      { name: 'ok', ownerId: admin.userId },
      { name: 'ok', members: {} },
      { name: 'ok', archived: true },
    ]) {
      (await spec.when({ method: 'POST', path: '/projects', body, token: owner.token }))
        .thenFails(400, 'validation')
        .thenAppends([]);
    }
    (await spec.when({ method: 'POST', path: '/projects', body: { name: 'x' } }))
      .thenFails(401, 'unauthorized')
      .thenAppends([]);
  });

  it('answers a repeated Idempotency-Key with the first answer, appending once even when copies race', async () => {
    const send = (name = 'Once') =>
      api.post(
        '/projects',
        { name },
        { token: owner.token, headers: { 'idempotency-key': 'p-1' } },
      );
    const answers: Awaited<ReturnType<typeof send>>[] = [];
    const race = await spec.when(async () => {
      answers.push(...(await Promise.all([send(), send(), send(), send(), send()])));
      return answers[0]!;
    });
    const id = idFromIdempotencyKey(owner.userId, 'p-1');
    race.thenAppends([{ type: 'ProjectCreated', agg: id, rev: 0 }]);
    for (const answer of answers) {
      expect({ status: answer.status, body: answer.body }).toEqual({
        status: 201,
        body: { id, revision: 0, position: answers[0]!.body.position },
      });
    }
    const replay = await spec.when(() => send());
    replay.thenAnswers(201, answers[0]!.body).thenAppends([]);
    expect(replay.answer.headers.get('idempotent-replayed')).toBe('true');
    (await spec.when(() => send('Another')))
      .thenFails(422, 'idempotency-key-reused')
      .thenAppends([]);
  });
});

describe('PATCH /projects/:id', () => {
  const patch = (projectId: string, body: unknown, who: User, headers = {}) => ({
    method: 'PATCH',
    path: `/projects/${projectId}`,
    body,
    token: who.token,
    headers,
  });

  it('appends one event per real change (archiving last) and answers the new revision', async () => {
    const { projectId, given } = givenProject();
    const changed = await given.when(
      patch(
        projectId,
        { name: 'Artemis', description: 'Again', visibility: 'open', archived: true },
        owner,
      ),
    );
    changed
      .thenAnswers(200, { id: projectId, revision: 5, position: expect.stringMatching(/^p:/) })
      .thenAppends([
        {
          type: 'ProjectDetailsChanged',
          agg: projectId,
          rev: 3,
          actor: owner.userId,
          data: { name: 'Artemis', description: 'Again' },
        },
        {
          type: 'ProjectVisibilityChanged',
          rev: 4,
          data: { from: 'private', to: 'open' },
        },
        { type: 'ProjectArchived', rev: 5, data: {} },
      ]);
    expect(changed.answer.headers.get('etag')).toBe('"5"');
  });

  it('appends nothing for a change that changes nothing and answers the current revision', async () => {
    const { projectId, given } = givenProject();
    const first = await given.when(patch(projectId, { name: 'Apollo' }, owner));
    first
      .thenAnswers(200, { id: projectId, revision: 2, position: expect.any(String) })
      .thenAppends([]);
  });

  it('is for owners and admins: 403 for an editor or a viewer, 404 for an outsider, nothing appended', async () => {
    const { projectId, given, stream } = givenProject();
    (await given.when(patch(projectId, { name: 'Mine' }, editor)))
      .thenFails(403, 'forbidden')
      .thenAppends([]);
    (await spec.given(stream).when(patch(projectId, { name: 'Mine' }, viewer)))
      .thenFails(403, 'forbidden')
      .thenAppends([]);
    const hidden = await spec.given(stream).when(patch(projectId, { name: 'Mine' }, outsider));
    hidden.thenFails(404, 'not-found').thenAppends([]);
    expect(hidden.answer.body.detail).toBe('No project with this id.');
    (await spec.given(stream).when(patch(projectId, { name: 'By admin' }, admin)))
      .thenAnswers(200)
      .thenAppends([
        { type: 'ProjectDetailsChanged', actor: admin.userId, data: { name: 'By admin' } },
      ]);
    for (const id of [newId(), 'not-a-uuid']) {
      (await spec.when(patch(id, { name: 'x' }, admin)))
        .thenFails(404, 'not-found')
        .thenAppends([]);
    }
  });

  it('keeps an archived project read-only (409) until a restore, which may bring changes after it', async () => {
    const { projectId, given, stream } = givenProject([{ type: 'ProjectArchived', data: {} }]);
    (await given.when(patch(projectId, { name: 'x' }, owner)))
      .thenFails(409, 'project-archived')
      .thenAppends([]);
    (await spec.given(stream).when(patch(projectId, { archived: true }, owner)))
      .thenFails(409, 'project-archived')
      .thenAppends([]);
    // The order of refusals: who cannot see it 404, who may not 403, then archived.
    (await spec.given(stream).when(patch(projectId, { archived: false }, outsider)))
      .thenFails(404, 'not-found')
      .thenAppends([]);
    (await spec.given(stream).when(patch(projectId, { archived: false }, editor)))
      .thenFails(403, 'forbidden')
      .thenAppends([]);
    (await spec.given(stream).when(patch(projectId, { archived: false, name: 'Back' }, owner)))
      .thenAnswers(200)
      .thenAppends([
        { type: 'ProjectRestored', rev: 4, data: {} },
        { type: 'ProjectDetailsChanged', rev: 5, data: { name: 'Back' } },
      ]);
  });

  it('honours If-Match: a stale revision is 412 and appends nothing', async () => {
    const { projectId, given, stream } = givenProject();
    (await given.when(patch(projectId, { name: 'One' }, owner, { 'if-match': '"2"' })))
      .thenAnswers(200)
      .thenAppends([{ type: 'ProjectDetailsChanged', rev: 3 }]);
    const stale = await spec
      .given(stream)
      .when(patch(projectId, { name: 'Two' }, owner, { 'if-match': '"2"' }));
    stale.thenFails(412, 'precondition-failed').thenAppends([]);
    expect(stale.answer.body.currentRevision).toBe(3);
  });

  it('replays an Idempotency-Key', async () => {
    const { projectId, given, stream } = givenProject();
    const request = patch(projectId, { description: 'once' }, owner, { 'idempotency-key': 'pp-1' });
    const first = await given.when(request);
    first
      .thenAnswers(200)
      .thenAppends([{ type: 'ProjectDetailsChanged', data: { description: 'once' } }]);
    (await spec.given(stream).when(request)).thenAnswers(200, first.answer.body).thenAppends([]);
  });

  it('refuses unknown fields (400)', async () => {
    const { projectId, given } = givenProject();
    (await given.when(patch(projectId, { ownerId: outsider.userId }, owner)))
      .thenFails(400, 'validation')
      .thenAppends([]);
  });
});

describe('PUT /projects/:id/members/:userId and POST /projects/:id/members', () => {
  const put = (projectId: string, userId: string, role: string, who: User) => ({
    method: 'PUT',
    path: `/projects/${projectId}/members/${userId}`,
    body: { role },
    token: who.token,
  });
  const byEmail = (projectId: string, email: string, role: string, who: User) => ({
    method: 'POST',
    path: `/projects/${projectId}/members`,
    body: { email, role },
    token: who.token,
  });

  it('adds a member (200), changes a role, and appends nothing for the same role', async () => {
    const { projectId, given, stream } = givenProject();
    const added = await given.when(put(projectId, newcomer.userId, 'editor', owner));
    added
      .thenAnswers(200, {
        id: projectId,
        userId: newcomer.userId,
        revision: 3,
        position: expect.stringMatching(/^p:/),
      })
      .thenAppends([
        {
          type: 'MemberAdded',
          agg: projectId,
          rev: 3,
          actor: owner.userId,
          data: { userId: newcomer.userId, role: 'editor' },
        },
      ]);
    (await spec.given(stream).when(put(projectId, newcomer.userId, 'editor', owner)))
      .thenAnswers(200, {
        id: projectId,
        userId: newcomer.userId,
        revision: 3,
        position: added.answer.body.position,
      })
      .thenAppends([]);
    (await spec.given(stream).when(put(projectId, newcomer.userId, 'viewer', admin)))
      .thenAnswers(200)
      .thenAppends([
        {
          type: 'MemberRoleChanged',
          actor: admin.userId,
          data: { userId: newcomer.userId, from: 'editor', to: 'viewer' },
        },
      ]);
  });

  it('adds by e-mail (normalized), and answers 422 unknown-email for an e-mail nobody registered', async () => {
    const { projectId, given, stream } = givenProject();
    (await given.when(byEmail(projectId, `  ${newcomer.email.toUpperCase()} `, 'viewer', owner)))
      .thenAnswers(200, {
        id: projectId,
        userId: newcomer.userId,
        revision: 3,
        position: expect.any(String),
      })
      .thenAppends([{ type: 'MemberAdded', data: { userId: newcomer.userId, role: 'viewer' } }]);
    (await spec.given(stream).when(byEmail(projectId, 'nobody@example.com', 'viewer', owner)))
      .thenFails(422, 'unknown-email')
      .thenAppends([]);
    (await spec.given(stream).when(byEmail(projectId, 'not-an-email', 'viewer', owner)))
      .thenFails(400, 'validation')
      .thenAppends([]);
  });

  it('answers 422 unknown-user for an id nobody registered', async () => {
    const { projectId, given, stream } = givenProject();
    (await given.when(put(projectId, newId(), 'viewer', owner)))
      .thenFails(422, 'unknown-user')
      .thenAppends([]);
    (await spec.given(stream).when(put(projectId, 'not-a-uuid', 'viewer', owner)))
      .thenFails(422, 'unknown-user')
      .thenAppends([]);
    (await spec.given(stream).when(put(projectId, newcomer.userId, 'admin', owner)))
      .thenFails(400, 'validation')
      .thenAppends([]);
  });

  it('answers 404 and 403 before telling whether a user or an e-mail exists', async () => {
    const { projectId, given, stream } = givenProject();
    const hiddenRequests = [
      put(projectId, newId(), 'viewer', outsider),
      put(projectId, newcomer.userId, 'viewer', outsider),
      byEmail(projectId, 'nobody@example.com', 'viewer', outsider),
      byEmail(projectId, newcomer.email, 'viewer', outsider),
    ];
    for (const [i, request] of hiddenRequests.entries()) {
      const hidden = await (i === 0 ? given : spec.given(stream)).when(request);
      hidden.thenFails(404, 'not-found').thenAppends([]);
      expect(hidden.answer.body.detail).toBe('No project with this id.');
    }
    for (const who of [editor, viewer]) {
      for (const request of [
        put(projectId, newId(), 'viewer', who),
        byEmail(projectId, 'nobody@example.com', 'viewer', who),
        put(projectId, newcomer.userId, 'viewer', who),
      ]) {
        (await spec.given(stream).when(request)).thenFails(403, 'forbidden').thenAppends([]);
      }
    }
  });

  it('refuses to demote the last owner (409 last-owner); with a second owner it is fine', async () => {
    const { projectId, given, stream } = givenProject();
    (await given.when(put(projectId, owner.userId, 'editor', owner)))
      .thenFails(409, 'last-owner')
      .thenAppends([]);
    (await spec.given(stream).when(put(projectId, owner.userId, 'viewer', admin)))
      .thenFails(409, 'last-owner')
      .thenAppends([]);
    (await spec.given(stream).when(put(projectId, editor.userId, 'owner', owner)))
      .thenAnswers(200)
      .thenAppends([
        { type: 'MemberRoleChanged', data: { userId: editor.userId, from: 'editor', to: 'owner' } },
      ]);
    (await spec.given(stream).when(put(projectId, owner.userId, 'editor', editor)))
      .thenAnswers(200)
      .thenAppends([
        { type: 'MemberRoleChanged', data: { userId: owner.userId, from: 'owner', to: 'editor' } },
      ]);
  });

  it(`refuses member ${MAX_PROJECT_MEMBERS + 1} (409 member-limit)`, async () => {
    const crowd: ProjectEvent[] = Array.from({ length: MAX_PROJECT_MEMBERS - 3 }, () => ({
      type: 'MemberAdded',
      data: { userId: newId(), role: 'viewer' },
    }));
    const { projectId, given } = givenProject(crowd);
    (await given.when(put(projectId, newcomer.userId, 'viewer', owner)))
      .thenFails(409, 'member-limit')
      .thenAppends([]);
  });

  it('keeps an archived project read-only (409), after 404 and 403', async () => {
    const { projectId, given, stream } = givenProject([{ type: 'ProjectArchived', data: {} }]);
    (await given.when(put(projectId, newcomer.userId, 'viewer', owner)))
      .thenFails(409, 'project-archived')
      .thenAppends([]);
    (await spec.given(stream).when(byEmail(projectId, newcomer.email, 'viewer', admin)))
      .thenFails(409, 'project-archived')
      .thenAppends([]);
    (await spec.given(stream).when(put(projectId, newcomer.userId, 'viewer', viewer)))
      .thenFails(403, 'forbidden')
      .thenAppends([]);
    (await spec.given(stream).when(put(projectId, newcomer.userId, 'viewer', outsider)))
      .thenFails(404, 'not-found')
      .thenAppends([]);
  });
});

describe('DELETE /projects/:id/members/:userId', () => {
  const remove = (projectId: string, userId: string, who: User, headers = {}) => ({
    method: 'DELETE',
    path: `/projects/${projectId}/members/${userId}`,
    token: who.token,
    headers,
  });

  it('lets an owner or an admin remove a member: 204, one MemberRemoved naming who removed', async () => {
    const { projectId, given, stream } = givenProject();
    const removed = await given.when(remove(projectId, editor.userId, owner));
    removed.thenAnswers(204).thenAppends([
      {
        type: 'MemberRemoved',
        agg: projectId,
        rev: 3,
        actor: owner.userId,
        data: { userId: editor.userId, by: owner.userId },
      },
    ]);
    expect(removed.answer.text).toBe('');
    expect(removed.answer.headers.get('etag')).toBe('"3"');
    expect(removed.answer.headers.get('x-event-position')).toMatch(/^p:/);
    (await spec.given(stream).when(remove(projectId, viewer.userId, admin)))
      .thenAnswers(204)
      .thenAppends([{ type: 'MemberRemoved', data: { userId: viewer.userId, by: admin.userId } }]);
  });

  it('lets a member leave', async () => {
    const { projectId, given } = givenProject();
    (await given.when(remove(projectId, viewer.userId, viewer))).thenAnswers(204).thenAppends([
      {
        type: 'MemberRemoved',
        actor: viewer.userId,
        data: { userId: viewer.userId, by: viewer.userId },
      },
    ]);
  });

  it('refuses the last owner, leaving or removed (409 last-owner)', async () => {
    const { projectId, given, stream } = givenProject();
    (await given.when(remove(projectId, owner.userId, owner)))
      .thenFails(409, 'last-owner')
      .thenAppends([]);
    (await spec.given(stream).when(remove(projectId, owner.userId, admin)))
      .thenFails(409, 'last-owner')
      .thenAppends([]);
  });

  it('answers 403 to a member removing another, 404 to an outsider, and 404 for a non-member', async () => {
    const { projectId, given, stream } = givenProject();
    (await given.when(remove(projectId, viewer.userId, editor)))
      .thenFails(403, 'forbidden')
      .thenAppends([]);
    (await spec.given(stream).when(remove(projectId, viewer.userId, outsider)))
      .thenFails(404, 'not-found')
      .thenAppends([]);
    (await spec.given(stream).when(remove(projectId, outsider.userId, outsider)))
      .thenFails(404, 'not-found')
      .thenAppends([]);
    const notMember = await spec.given(stream).when(remove(projectId, newcomer.userId, owner));
    notMember.thenFails(404, 'not-found').thenAppends([]);
    expect(notMember.answer.body.detail).toBe('This user is not a member of the project.');
  });

  it('keeps an archived project read-only: even a leave is 409', async () => {
    const { projectId, given } = givenProject([{ type: 'ProjectArchived', data: {} }]);
    (await given.when(remove(projectId, viewer.userId, viewer)))
      .thenFails(409, 'project-archived')
      .thenAppends([]);
  });

  it('honours If-Match and Idempotency-Key', async () => {
    const { projectId, given, stream } = givenProject();
    (await given.when(remove(projectId, viewer.userId, owner, { 'if-match': '"1"' })))
      .thenFails(412, 'precondition-failed')
      .thenAppends([]);
    const first = await spec
      .given(stream)
      .when(remove(projectId, viewer.userId, owner, { 'idempotency-key': 'rm-1' }));
    first.thenAnswers(204).thenAppends([{ type: 'MemberRemoved' }]);
    const again = await spec
      .given(stream)
      .when(remove(projectId, viewer.userId, owner, { 'idempotency-key': 'rm-1' }));
    again.thenAnswers(204).thenAppends([]);
    expect(again.answer.headers.get('etag')).toBe(first.answer.headers.get('etag'));
  });
});

describe('the General project', () => {
  it('is managed by site admins only; members of the site work in it as editors', async () => {
    const patch = (who: User) => ({
      method: 'PATCH',
      path: `/projects/${GENERAL_PROJECT_ID}`,
      body: { description: `by ${who.userId}` },
      token: who.token,
    });
    (await spec.when(patch(owner))).thenFails(403, 'forbidden').thenAppends([]);
    (await spec.when(patch(admin)))
      .thenAnswers(200)
      .thenAppends([{ type: 'ProjectDetailsChanged', agg: GENERAL_PROJECT_ID }]);
  });

  it('is created exactly once by command-services starting side by side', async () => {
    const fresh = testKeys(1);
    const clients = Array.from({ length: 5 }, () => createRedis(testRedisConfig()));
    try {
      const created = await Promise.all(
        clients.map((client) => bootstrapGeneralProject({ ...deps(), redis: client, keys: fresh })),
      );
      expect(created.filter(Boolean)).toHaveLength(1);
      const entries = (await redis.xrange(fresh.projectLog, '-', '+')) as [string, string[]][];
      expect(entries.map(([, fields]) => fieldsToRecord(fields))).toEqual([
        expect.objectContaining({
          type: 'ProjectCreated',
          agg: GENERAL_PROJECT_ID,
          rev: '0',
          actor: 'system',
          data: JSON.stringify({
            name: 'General',
            description: '',
            visibility: 'open',
            ownerId: 'system',
          }),
        }),
      ]);
      // A later start finds it there.
      expect(await bootstrapGeneralProject({ ...deps(), keys: fresh })).toBe(false);
      expect(await readRevisionCount(redis, fresh.projectStream(GENERAL_PROJECT_ID))).toBe(1);
    } finally {
      await Promise.all(clients.map((client) => client.quit()));
    }
  });
});

describe('/openapi.json', () => {
  it('documents every project route with its answers, generated from the contracts', async () => {
    const { paths } = (await api.get('/openapi.json')).body;
    const statuses = (path: string, method: string) =>
      Object.keys(paths[path][method].responses).map(Number);
    expect(statuses('/projects', 'post')).toEqual([201, 400, 401, 409, 413, 422]);
    expect(statuses('/projects/{id}', 'patch')).toEqual([
      200, 400, 401, 403, 404, 409, 412, 413, 422,
    ]);
    for (const [path, method] of [
      ['/projects/{id}/members/{userId}', 'put'],
      ['/projects/{id}/members', 'post'],
    ]) {
      expect(statuses(path!, method!)).toEqual([200, 400, 401, 403, 404, 409, 412, 413, 422]);
      expect(
        Object.keys(
          paths[path!][method!].responses['200'].content['application/json'].schema.properties,
        ).sort(),
      ).toEqual(['id', 'position', 'revision', 'userId']);
    }
    expect(statuses('/projects/{id}/members/{userId}', 'delete')).toEqual([
      204, 401, 403, 404, 409, 412, 422,
    ]);
    expect(
      paths['/projects'].post.requestBody.content['application/json'].schema.properties.visibility
        .enum,
    ).toEqual(['private', 'open']);
    expect(
      paths['/projects/{id}/members'].post.requestBody.content[
        'application/json'
      ].schema.required.sort(),
    ).toEqual(['email', 'role']);
    expect(
      paths['/tasks'].post.requestBody.content['application/json'].schema.properties,
    ).toHaveProperty('projectId');
    expect(statuses('/tasks', 'post')).toEqual([201, 400, 401, 403, 404, 409, 413, 422]);
  });
});
