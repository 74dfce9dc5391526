import { compareEntryIds, newId } from '@tasksync/contracts';
import {
  createLogger,
  createTokenService,
  duplicateRedis,
  readLastEntryId,
} from '@tasksync/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenCommandService, startReadSide } from '../../test/in-process';
import {
  appendUserRegistered,
  client,
  connectTestRedis,
  expectProblem,
  testKeys,
} from '../../test/support';

const SECRET = 'query-test-secret-query-test-secret-query';
const redis = connectTestRedis();
const keys = testKeys(1);
const tokens = createTokenService({ secret: SECRET, ttlSeconds: 3600 });
const logger = createLogger({ name: 'query-test', level: 'silent' });
const closers: (() => Promise<unknown> | unknown)[] = [];
let commands: ReturnType<typeof client>;
let queries: ReturnType<typeof client>;
const alice = { userId: newId(), role: 'member' as const };
const bob = { userId: newId(), role: 'member' as const };
const admin = { userId: newId(), role: 'admin' as const };
const token = (who: { userId: string; role: 'member' | 'admin' }) => tokens.sign(who).token;

beforeAll(async () => {
  for (const [who, email] of [
    [alice, 'alice@example.com'],
    [bob, 'bob@example.com'],
    [admin, 'admin@example.com'],
  ] as const) {
    await appendUserRegistered(redis, keys, { userId: who.userId, email, role: who.role });
  }
  const commandServer = await listenCommandService({ redis, keys, tokens, logger });
  const readSide = await startReadSide({ redis, keys, tokens, logger }, { blockMs: 100 });
  commands = client(commandServer.url);
  queries = client(readSide.url);
  closers.push(commandServer.close, readSide.close);
  // Tasks go to the General project, which members see once the model has it (design §10).
  const general = await readLastEntryId(redis, keys.projectLog);
  const ready = await queries.get('/projects', {
    token: token(alice),
    headers: { 'x-min-position': `p:${general}` },
  });
  expect(ready.status).toBe(200);
});
afterAll(async () => {
  for (const close of closers) await close();
  await redis.quit();
});

const create = async (body: Record<string, unknown>, who = alice) => {
  const answer = await commands.post('/tasks', body, { token: token(who) });
  expect(answer.status).toBe(201);
  return answer.body as { id: string; position: string; revision: number };
};
const after = (position: string) => ({ 'x-min-position': position });

describe('GET /tasks/:id', () => {
  it('sees the caller’s own write with X-Min-Position, with comments, ETag and X-Read-Position', async () => {
    const task = await create({ title: 'Read me', labels: ['a'] });
    const comment = await commands.post(
      `/tasks/${task.id}/comments`,
      { text: 'first' },
      { token: token(bob) },
    );
    const answer = await queries.get(`/tasks/${task.id}`, {
      token: token(alice),
      headers: after(comment.body.position),
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      id: task.id,
      title: 'Read me',
      status: 'pending',
      labels: ['a'],
      createdBy: alice.userId,
      revision: 1,
      commentCount: 1,
      comments: [
        {
          id: comment.body.commentId,
          authorId: bob.userId,
          text: 'first',
          createdAt: expect.any(String),
        },
      ],
    });
    expect(answer.headers.get('etag')).toBe('"1"');
    expect(answer.headers.get('x-read-position')).toMatch(/t\d+:\d+-\d+/);
    const again = await queries.get(`/tasks/${task.id}`, {
      token: token(alice),
      headers: { 'if-none-match': '"1"' },
    });
    expect(again.status).toBe(304);
  });

  it('answers 404, 410, 401 and 400 as the design says', async () => {
    const missing = await queries.get(`/tasks/${newId()}`, { token: token(alice) });
    expectProblem(missing, 404, 'not-found');
    // A 404 says at which model state it was decided, so a client can wait for more.
    expect(missing.headers.get('x-read-position')).toMatch(
      /^id:\d+-\d+,p:\d+-\d+(,t\d+:\d+-\d+)+$/,
    );
    // One position per log of the layout, applied or not (design §2).
    expect(
      missing.headers
        .get('x-read-position')!
        .split(',')
        .map((position) => position.split(':')[0]),
    ).toEqual(
      keys
        .logs()
        .map((log) => log.name)
        .sort(),
    );
    const task = await create({ title: 'Doomed' });
    const deleted = await commands.delete(`/tasks/${task.id}`, { token: token(alice) });
    const gone = await queries.get(`/tasks/${task.id}`, {
      token: token(alice),
      headers: after(deleted.headers.get('x-event-position')!),
    });
    expectProblem(gone, 410, 'gone');
    expect(gone.headers.get('x-read-position')?.split(',')).toContain(
      deleted.headers.get('x-event-position'),
    );
    expectProblem(await queries.get(`/tasks/${task.id}`), 401, 'unauthorized');
    expectProblem(await queries.get('/tasks?limit=0', { token: token(alice) }), 400, 'validation');
    expectProblem(
      await queries.get('/tasks?limit=201', { token: token(alice) }),
      400,
      'validation',
    );
    expectProblem(
      await queries.get('/tasks?sort=random', { token: token(alice) }),
      400,
      'validation',
    );
    expectProblem(await queries.get('/tasks?cursor=garbage', { token: token(alice) }), 400);
    expectProblem(
      await queries.get('/tasks', { token: token(alice), headers: { 'x-min-position': 'soon' } }),
      400,
    );
  });

  it('answers 400, never 5xx, for inputs that cannot be served', async () => {
    const task = await create({ title: 'edge cases' });
    const nul = await queries.get('/tasks?q=%00', { token: token(alice) });
    expect(nul.status).toBe(200);
    expectProblem(
      await queries.get('/tasks', { token: token(alice), headers: { 'x-min-position': 't7:1-0' } }),
      400,
    );
    expectProblem(await queries.get(`/tasks/${task.id}?asOf=id:1-0`, { token: token(alice) }), 400);
    const asOf = await queries.get(`/tasks/${task.id}?asOf=${task.position}`, {
      token: token(alice),
    });
    expect(asOf.status).toBe(200);
    expect(asOf.headers.get('x-read-position')).toMatch(/t\d+:\d+-\d+/);
  });

  it('answers 503 projection-behind with Retry-After for a position it cannot reach in time', async () => {
    const answer = await queries.get('/tasks', {
      token: token(alice),
      headers: { 'x-min-position': 't0:99999999999999-0', 'x-max-wait-ms': '100' },
    });
    expectProblem(answer, 503, 'projection-behind');
    expect(answer.headers.get('retry-after')).toBe('1');
  });

  it('folds the task as it was at a position or time (asOf)', async () => {
    const task = await create({ title: 'v1' });
    const changed = await commands.patch(
      `/tasks/${task.id}`,
      { title: 'v2', status: 'in-progress' },
      { token: token(alice) },
    );
    const before = await queries.get(`/tasks/${task.id}?asOf=${task.position}`, {
      token: token(alice),
    });
    expect(before.body).toMatchObject({ title: 'v1', status: 'pending', revision: 0 });
    const now = await queries.get(
      `/tasks/${task.id}?asOf=${encodeURIComponent(new Date().toISOString())}`,
      { token: token(alice) },
    );
    expect(now.body).toMatchObject({
      title: 'v2',
      status: 'in-progress',
      revision: changed.body.revision,
    });
    expectProblem(
      await queries.get(`/tasks/${task.id}?asOf=2000-01-01T00:00:00Z`, { token: token(alice) }),
      404,
    );
  });

  it('lists the history with positions, oldest first, in pages', async () => {
    const task = await create({ title: 'h' });
    await commands.patch(`/tasks/${task.id}`, { status: 'in-progress' }, { token: token(alice) });
    const last = await commands.patch(
      `/tasks/${task.id}`,
      { status: 'completed' },
      { token: token(alice) },
    );
    const first = await queries.get(`/tasks/${task.id}/history?limit=2`, {
      token: token(alice),
      headers: after(last.body.position),
    });
    expect(
      first.body.items.map((i: { type: string; revision: number }) => [i.type, i.revision]),
    ).toEqual([
      ['TaskCreated', 0],
      ['TaskStatusChanged', 1],
    ]);
    expect(first.body.items[0].position).toBe(task.position);
    const second = await queries.get(
      `/tasks/${task.id}/history?limit=2&cursor=${first.body.nextCursor}`,
      { token: token(alice) },
    );
    expect(second.body).toEqual({
      items: [
        expect.objectContaining({
          type: 'TaskStatusChanged',
          revision: 2,
          data: { from: 'in-progress', to: 'completed' },
          actor: alice.userId,
        }),
      ],
      nextCursor: null,
    });
  });
});

describe('X-Read-Position', () => {
  it('names every log of the layout on every answer, 0-0 for a log nothing was applied of', async () => {
    // A layout of its own with more task logs than tasks: one of them stays empty.
    const fresh = testKeys(2);
    const registered = await appendUserRegistered(redis, fresh, {
      userId: alice.userId,
      email: 'a@example.com',
    });
    expect(registered.outcome).toBe('appended');
    const commandServer = await listenCommandService({ redis, keys: fresh, tokens, logger });
    const readSide = await startReadSide({ redis, keys: fresh, tokens, logger });
    closers.push(commandServer.close, readSide.close);
    const created = await client(commandServer.url).post(
      '/tasks',
      { title: 'The only task' },
      { token: token(alice) },
    );
    expect(created.status).toBe(201);
    const taskLog = created.body.position.split(':')[0];
    const reads = client(readSide.url);
    // Both writes applied; each log is projected on its own.
    const entryId = registered.outcome === 'appended' ? registered.entryId : '';
    const general = await readLastEntryId(redis, fresh.projectLog);
    const options = {
      token: token(alice),
      headers: after(`${created.body.position},id:${entryId},p:${general}`),
    };
    const answers = [
      await reads.get(`/tasks/${created.body.id}`, options),
      await reads.get('/tasks', options),
      await reads.get('/stats', options),
      await reads.get(`/tasks/${newId()}`, options),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 404]);
    for (const answer of answers) {
      const positions = answer.headers.get('x-read-position')!.split(',');
      expect(positions.map((position) => position.split(':')[0])).toEqual(
        fresh
          .logs()
          .map((log) => log.name)
          .sort(),
      );
      for (const position of positions) {
        const [log, entryId] = position.split(':');
        // The project log holds the General project, which the command-service created at start.
        if (log === taskLog || log === 'id' || log === 'p') expect(entryId).not.toBe('0-0');
        else expect(entryId).toBe('0-0');
      }
    }
    // What a read reports, a client sends back: the empty log's 0-0 is reached at once.
    const echoed = await reads.get('/tasks', {
      token: token(alice),
      headers: {
        'X-Min-Position': answers[1]!.headers.get('x-read-position')!,
        'X-Max-Wait-Ms': '100',
      },
    });
    expect(echoed.status).toBe(200);
    expect(echoed.body.items.map((task: { id: string }) => task.id)).toEqual([created.body.id]);
  });
});

describe('GET /tasks', () => {
  it('filters by status, assignee (me), creator, label, priority, text and due dates, and sorts', async () => {
    const label = `l-${newId().slice(-6)}`;
    const a = await create({
      title: 'Alpha kangaroo',
      labels: [label],
      priority: 'low',
      dueDate: '2026-12-01',
      assigneeId: bob.userId,
    });
    const b = await create(
      { title: 'Beta', labels: [label], priority: 'urgent', dueDate: '2026-12-20' },
      bob,
    );
    const c = await create({
      title: 'Gamma kangaroo',
      labels: [label],
      priority: 'high',
      status: 'in-progress',
    });
    const ids = async (query: string, who = alice) =>
      (
        await queries.get(`/tasks?label=${label}&${query}`, {
          token: token(who),
          headers: after(c.position),
        })
      ).body.items.map((t: { id: string }) => t.id);
    expect(await ids('sort=priority')).toEqual([a.id, c.id, b.id]);
    expect(await ids('sort=-priority')).toEqual([b.id, c.id, a.id]);
    expect(await ids('status=in-progress')).toEqual([c.id]);
    expect(await ids('assigneeId=me', bob)).toEqual([a.id]);
    expect(await ids('createdBy=me&sort=createdAt', bob)).toEqual([b.id]);
    expect(await ids('priority=urgent')).toEqual([b.id]);
    expect(await ids('q=kangaroo&sort=createdAt')).toEqual([a.id, c.id]);
    expect(await ids('q=%22kangaroo')).toHaveLength(2);
    expect(await ids('dueBefore=2026-12-10')).toEqual([a.id]);
    expect(await ids('dueAfter=2026-12-10')).toEqual([b.id]);
    expect(await ids('sort=dueDate')).toEqual([a.id, b.id, c.id]);
  });

  it('pages through every task that existed at the start exactly once while tasks are being created', async () => {
    const label = `page-${newId().slice(-6)}`;
    let last = '';
    for (let i = 0; i < 30; i++)
      last = (await create({ title: `p${i}`, labels: [label] })).position;
    const existing = new Set(
      (
        await queries.get(`/tasks?label=${label}&limit=200`, {
          token: token(alice),
          headers: after(last),
        })
      ).body.items.map((t: { id: string }) => t.id),
    );
    expect(existing.size).toBe(30);
    let creating = true;
    const writer = (async () => {
      while (creating) await create({ title: 'newcomer', labels: [label] });
    })();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await queries.get(
        `/tasks?label=${label}&limit=7${cursor ? `&cursor=${cursor}` : ''}`,
        { token: token(alice) },
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((t: { id: string }) => t.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    creating = false;
    await writer;
    const seenExisting = seen.filter((id) => existing.has(id));
    expect(seenExisting).toHaveLength(30);
    expect(new Set(seenExisting).size).toBe(30);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('never answers older than the caller’s own write under concurrent writes and reads', async () => {
    const results = await Promise.all(
      Array.from({ length: 25 }, async (_, i) => {
        const task = await create({ title: `ryw ${i}` });
        const read = await queries.get(`/tasks/${task.id}`, {
          token: token(alice),
          headers: after(task.position),
        });
        return read.status;
      }),
    );
    expect(results).toEqual(Array(25).fill(200));
  });
});

describe('announced checkpoints', () => {
  it('never answers older than the checkpoint announced before the request began, cached or not', async () => {
    // Listen as any client could: the projector announces each checkpoint after its commit.
    const listener = duplicateRedis(redis);
    const announced = new Map<string, string>();
    listener.on('message', (_channel: string, position: string) => {
      const [log, entryId] = position.split(/:(.*)/s) as [string, string];
      const known = announced.get(log);
      if (!known || compareEntryIds(entryId, known) > 0) announced.set(log, entryId);
    });
    await listener.subscribe(keys.checkpointChannel('projector'));
    const label = `announced-${newId().slice(-6)}`;
    let writing = true;
    const created: { id: string; log: string; entryId: string }[] = [];
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const task = await create({ title: `announced ${i}`, labels: [label] });
        const [log, entryId] = task.position.split(/:(.*)/s) as [string, string];
        created.push({ id: task.id, log, entryId });
      }
    })();
    const stale: string[] = [];
    let checked = 0;
    const reader = async (url: string) => {
      while (checked < 300) {
        const before = new Map(announced);
        const answer = await queries.get(url, { token: token(alice) });
        expect(answer.status).toBe(200);
        const read = new Map(
          answer.headers
            .get('x-read-position')!
            .split(',')
            .map((p) => p.split(/:(.*)/s) as [string, string]),
        );
        for (const [log, entryId] of before) {
          const at = read.get(log);
          if (!at || compareEntryIds(at, entryId) < 0)
            stale.push(`${url}: read ${log}:${at} after ${log}:${entryId} was announced`);
        }
        // The body too: the newest task whose creation was announced is on the first page.
        const newest = created.findLast((t) => {
          const announcedEntry = before.get(t.log);
          return announcedEntry !== undefined && compareEntryIds(t.entryId, announcedEntry) <= 0;
        });
        if (
          answer.body.items &&
          newest &&
          !answer.body.items.some((t: { id: string }) => t.id === newest.id)
        )
          stale.push(`${url}: task ${newest.id} was announced before the request but is missing`);
        checked++;
      }
    };
    await Promise.all([
      reader(`/tasks?label=${label}`),
      reader(`/tasks?label=${label}&sort=-createdAt`),
      reader('/stats'),
    ]);
    writing = false;
    await writer;
    listener.disconnect();
    expect(announced.size).toBeGreaterThan(0);
    expect(checked).toBeGreaterThanOrEqual(300);
    expect(stale).toEqual([]);
  });
});

describe('answer cache', () => {
  it('serves a repeated list from Redis, and never an answer older than the checkpoint', async () => {
    const label = `cache-${newId().slice(-6)}`;
    const first = await create({ title: 'cached one', labels: [label] });
    const url = `/tasks?label=${label}`;
    const miss = await queries.get(url, { token: token(alice), headers: after(first.position) });
    expect(miss.headers.get('x-cache')).toBe('miss');
    const hit = await queries.get(url, { token: token(alice) });
    // No write came in between: same checkpoint, same key, an answer from Redis.
    expect(hit.headers.get('x-read-position')).toBe(miss.headers.get('x-read-position'));
    expect(hit.headers.get('x-cache')).toBe('hit');
    expect(hit.text).toBe(miss.text);
    const second = await create({ title: 'cached two', labels: [label] });
    const fresh = await queries.get(url, { token: token(alice), headers: after(second.position) });
    expect(fresh.body.items.map((t: { id: string }) => t.id)).toEqual([second.id, first.id]);
  });

  it('keeps answers that depend on the caller apart', async () => {
    const label = `mine-${newId().slice(-6)}`;
    const task = await create({ title: 'for bob', labels: [label], assigneeId: bob.userId });
    const forBob = await queries.get(`/tasks?label=${label}&assigneeId=me`, {
      token: token(bob),
      headers: after(task.position),
    });
    const forAlice = await queries.get(`/tasks?label=${label}&assigneeId=me`, {
      token: token(alice),
    });
    expect(forBob.body.items).toHaveLength(1);
    expect(forAlice.body.items).toHaveLength(0);
  });
});

describe('users and stats', () => {
  it('shows e-mails only to admins and oneself', async () => {
    const own = await queries.get(`/users/${alice.userId}`, { token: token(alice) });
    expect(own.body.user).toMatchObject({ id: alice.userId, email: 'alice@example.com' });
    const other = await queries.get(`/users/${alice.userId}`, { token: token(bob) });
    expect(other.body.user).not.toHaveProperty('email');
    const byAdmin = await queries.get('/users?limit=200', { token: token(admin) });
    expect(byAdmin.body.items.every((u: { email?: string }) => typeof u.email === 'string')).toBe(
      true,
    );
    const byMember = await queries.get('/users?limit=200', { token: token(bob) });
    expect(byMember.body.items.filter((u: { email?: string }) => u.email !== undefined)).toEqual([
      expect.objectContaining({ id: bob.userId }),
    ]);
    expectProblem(await queries.get(`/users/${newId()}`, { token: token(bob) }), 404);
  });

  it('counts tasks by status and by assignee', async () => {
    const task = await create({ title: 'counted', assigneeId: admin.userId });
    const stats = await queries.get('/stats', {
      token: token(alice),
      headers: after(task.position),
    });
    expect(Object.keys(stats.body.byStatus)).toEqual(['pending', 'in-progress', 'completed']);
    expect(stats.body.byAssignee).toEqual(
      expect.arrayContaining([{ assigneeId: admin.userId, count: 1 }]),
    );
  });

  it('serves /ready with the read model open and a generated /openapi.json', async () => {
    expect((await queries.get('/ready')).body).toEqual({
      status: 'ready',
      checks: { redis: true, readModel: true },
    });
    const openapi = (await queries.get('/openapi.json')).body;
    expect(openapi.paths['/tasks'].get.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining([
        'status',
        'assigneeId',
        'q',
        'sort',
        'limit',
        'cursor',
        'X-Min-Position',
      ]),
    );
  });
});
