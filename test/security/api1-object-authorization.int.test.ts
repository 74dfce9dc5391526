import { newId } from '@tasksync/contracts';
import { readStream } from '@tasksync/platform';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectProblem, waitFor } from '../support';
import { documentedRoutes, OPENAPI_DOCUMENTS, routeLabel } from './routes';
import { type Member, redis, type ServiceName, type System, startSystem } from './system';

afterAll(() => redis.quit());
let sys: System;
beforeEach(async () => {
  sys = await startSystem();
});
afterEach(async () => {
  await sys.stop();
});

/** An owner's task assigned to another member, and a stranger to both. */
const ownerAssigneeStranger = async () => {
  const [owner, assignee, stranger] = [
    await sys.register('owner'),
    await sys.register('assignee'),
    await sys.register('stranger'),
  ];
  const task = await sys.createTask(owner.token, { assigneeId: assignee.userId });
  return { owner, assignee, stranger, task, stream: sys.keys.taskStream(task.id) };
};

/**
 * A write by someone it does not belong to, directly and through the board's
 * proxy: 403 forbidden, and nothing appended to any log or to the task's stream.
 */
const refusedEverywhere = async (
  stream: string,
  request: {
    method: string;
    path: string;
    token: string;
    body?: unknown;
    headers?: Record<string, string>;
  },
) => {
  for (const [via, prefix] of [
    ['command', ''],
    ['board', '/api/command'],
  ] as const) {
    (
      await sys.spec[via].given(stream).when({
        ...request,
        path: `${prefix}${request.path}`,
        headers: { ...request.headers },
      })
    )
      .thenFails(403, 'forbidden')
      .thenAppends([]);
  }
};

/** Reads a task or a profile as `who`, once the read model has every event so far. */
const readAsOf = async (path: string, who: { token: string }) =>
  sys.api.query.get(path, {
    token: who.token,
    headers: { 'x-min-position': await sys.headPositions() },
  });

/** What the owner and a stranger read of one path: the same 200 answer (one board, design §6–7). */
const expectSharedRead = async (owner: Member, stranger: Member, path: string) => {
  const [asOwner, asStranger] = [await readAsOf(path, owner), await readAsOf(path, stranger)];
  expect({ path, status: asStranger.status }).toEqual({ path, status: 200 });
  expect(asStranger.body).toEqual(asOwner.body);
};

/**
 * Every route that takes an object id, and how it keeps one member's id from
 * serving another. The tests below are made from the services' OpenAPI
 * documents, not from this table: a newly documented id route gets a test that
 * fails until its check is written here.
 */
const OBJECT_CHECKS: Record<string, { proves: string; check: () => Promise<void> }> = {
  'command PATCH /tasks/{id}': {
    proves: 'refuses another member’s change with 403, appending nothing; the assignee may',
    check: async () => {
      const { assignee, stranger, task, stream } = await ownerAssigneeStranger();
      const path = `/tasks/${task.id}`;
      const attempts: { body: object; headers?: Record<string, string> }[] = [
        { body: { title: 'mine now' } },
        { body: { assigneeId: stranger.userId } },
        { body: { status: 'in-progress' } },
        { body: { title: 'with the right ETag' }, headers: { 'if-match': '"0"' } },
        { body: { title: 'with a key' }, headers: { 'idempotency-key': 'bola-1' } },
      ];
      for (const attempt of attempts) {
        await refusedEverywhere(stream, {
          method: 'PATCH',
          path,
          token: stranger.token,
          ...attempt,
        });
      }
      // The same request from one who may: the refusals above were about who asked.
      (
        await sys.spec.command
          .given(stream)
          .when({ method: 'PATCH', path, token: assignee.token, body: { title: 'x' } })
      )
        .thenAnswers(200)
        .thenAppends([{ type: 'TaskDetailsChanged', agg: task.id, actor: assignee.userId }]);
    },
  },
  'command PUT /tasks/{id}': {
    proves: 'refuses another member’s replacement with 403, appending nothing; the assignee may',
    check: async () => {
      const { assignee, stranger, task, stream } = await ownerAssigneeStranger();
      const path = `/tasks/${task.id}`;
      await refusedEverywhere(stream, {
        method: 'PUT',
        path,
        token: stranger.token,
        body: { title: 'replaced' },
      });
      (
        await sys.spec.command
          .given(stream)
          .when({ method: 'PUT', path, token: assignee.token, body: { title: 'x' } })
      )
        .thenAnswers(200)
        .thenAppends([{ type: 'TaskDetailsChanged', agg: task.id, actor: assignee.userId }]);
    },
  },
  'command DELETE /tasks/{id}': {
    proves: 'refuses deletion by a stranger and by the assignee with 403; the owner may',
    check: async () => {
      const { owner, assignee, stranger, task, stream } = await ownerAssigneeStranger();
      const path = `/tasks/${task.id}`;
      await refusedEverywhere(stream, { method: 'DELETE', path, token: stranger.token });
      await refusedEverywhere(stream, {
        method: 'DELETE',
        path,
        token: stranger.token,
        headers: { 'if-match': '"0"' },
      });
      // The assignee may change the task, but only its creator or an admin may delete it.
      await refusedEverywhere(stream, { method: 'DELETE', path, token: assignee.token });
      (await sys.spec.command.given(stream).when({ method: 'DELETE', path, token: owner.token }))
        .thenAnswers(204)
        .thenAppends([{ type: 'TaskDeleted', agg: task.id, actor: owner.userId }]);
    },
  },
  'command POST /tasks/{id}/comments': {
    proves: 'lets any member comment on any task (design §3: "user"), but only as itself',
    check: async () => {
      const [owner, stranger] = [await sys.register('owner'), await sys.register('stranger')];
      const task = await sys.createTask(owner.token);
      const stream = sys.keys.taskStream(task.id);
      const comment = (body: object) => ({
        method: 'POST',
        path: `/tasks/${task.id}/comments`,
        token: stranger.token,
        body,
      });
      for (const smuggled of [{ authorId: owner.userId }, { actor: owner.userId }]) {
        (await sys.spec.command.given(stream).when(comment({ text: 'as the owner', ...smuggled })))
          .thenFails(400, 'validation')
          .thenAppends([]);
      }
      const added = await sys.spec.command.given(stream).when(comment({ text: 'from a stranger' }));
      const data = {
        commentId: added.answer.body.commentId,
        text: 'from a stranger',
        authorId: stranger.userId,
      };
      added
        .thenAnswers(201)
        .thenAppends([{ type: 'CommentAdded', agg: task.id, actor: stranger.userId, data }]);
      expect((await readStream(redis, stream)).map((e) => [e.type, e.actor, e.data])).toEqual([
        ['TaskCreated', owner.userId, expect.objectContaining({ createdBy: owner.userId })],
        ['CommentAdded', stranger.userId, data],
      ]);
    },
  },
  'identity PATCH /users/{id}/role': {
    proves: 'refuses a member changing another user’s role with 403, appending nothing',
    check: async () => {
      const [member, other] = [await sys.register('member'), await sys.register('other')];
      for (const role of ['member', 'admin']) {
        for (const target of [other.userId, sys.admin.userId]) {
          (
            await sys.spec.identity.given(sys.keys.userStream(target)).when({
              method: 'PATCH',
              path: `/users/${target}/role`,
              token: member.token,
              body: { role },
            })
          )
            .thenFails(403, 'forbidden')
            .thenAppends([]);
        }
      }
    },
  },
  'query GET /tasks/{id}': {
    proves: 'shares every task with every member to read, now and as of a position; 404 otherwise',
    check: async () => {
      const [owner, stranger] = [await sys.register('owner'), await sys.register('stranger')];
      const task = await sys.createTask(owner.token, { title: 'Shared' });
      const changed = await sys.api.command.patch(
        `/tasks/${task.id}`,
        { status: 'in-progress' },
        { token: owner.token },
      );
      expect(changed.status).toBe(200);
      await expectSharedRead(owner, stranger, `/tasks/${task.id}`);
      await expectSharedRead(owner, stranger, `/tasks/${task.id}?asOf=${task.position}`);
      for (const path of [`/tasks/${newId()}`, '/tasks/1']) {
        expectProblem(await readAsOf(path, stranger), 404, 'not-found');
      }
    },
  },
  'query GET /tasks/{id}/history': {
    proves: 'shares every task’s history with every member to read; 404 otherwise',
    check: async () => {
      const [owner, stranger] = [await sys.register('owner'), await sys.register('stranger')];
      const task = await sys.createTask(owner.token, { title: 'Shared' });
      const changed = await sys.api.command.patch(
        `/tasks/${task.id}`,
        { status: 'in-progress' },
        { token: owner.token },
      );
      expect(changed.status).toBe(200);
      await expectSharedRead(owner, stranger, `/tasks/${task.id}/history`);
      expectProblem(await readAsOf(`/tasks/${newId()}/history`, stranger), 404, 'not-found');
    },
  },
  'query GET /users/{id}': {
    proves: 'shows another user’s public profile but not their e-mail; 404 otherwise',
    check: async () => {
      const [owner, stranger] = [await sys.register('owner'), await sys.register('stranger')];
      const profile = async (who: { token: string }, of: Member) =>
        (await readAsOf(`/users/${of.userId}`, who)).body.user;
      expect(await profile(stranger, owner)).toEqual({
        id: owner.userId,
        name: 'owner',
        role: 'member',
        createdAt: expect.any(String),
      });
      expect(await profile(owner, owner)).toEqual({
        id: owner.userId,
        name: 'owner',
        role: 'member',
        createdAt: expect.any(String),
        email: owner.email,
      });
      expect((await profile(sys.admin, owner)).email).toBe(owner.email);
      for (const path of [`/users/${newId()}`, '/users/not-an-id']) {
        expectProblem(await readAsOf(path, stranger), 404, 'not-found');
      }
    },
  },
};

/** Routes whose path names an object: an id another member could put there. */
const objectRoutes = documentedRoutes().filter((route) => route.path.includes('{'));

describe('API1 broken object level authorization', () => {
  it('has a check for every documented route that takes an object id, and none for another', async () => {
    expect(objectRoutes.map(routeLabel).sort()).toEqual(Object.keys(OBJECT_CHECKS).sort());
    // The documents the routes were read from are the ones the services serve.
    for (const service of Object.keys(OPENAPI_DOCUMENTS) as ServiceName[]) {
      expect((await sys.api[service].get('/openapi.json')).body).toEqual(
        OPENAPI_DOCUMENTS[service](),
      );
    }
  });

  for (const route of objectRoutes) {
    const label = routeLabel(route);
    const covered = OBJECT_CHECKS[label];
    it(`${label}: ${covered?.proves ?? 'has an object-level authorization check'}`, async () => {
      expect(covered, `no object-level authorization check for ${label}`).toBeDefined();
      await covered!.check();
    });
  }

  it('never hands another member the stored answer of an Idempotency-Key the owner used', async () => {
    const [owner, stranger] = [await sys.register('owner'), await sys.register('stranger')];
    const task = await sys.createTask(owner.token);
    const request = (who: Member) => ({
      method: 'PATCH',
      path: `/tasks/${task.id}`,
      body: { priority: 'urgent' },
      token: who.token,
      headers: { 'idempotency-key': 'shared-key' },
    });
    const stream = sys.keys.taskStream(task.id);
    (await sys.spec.command.given(stream).when(request(owner)))
      .thenAnswers(200)
      .thenAppends([{ type: 'TaskDetailsChanged', agg: task.id, data: { priority: 'urgent' } }]);
    const replayed = await sys.spec.command.given(stream).when(request(stranger));
    replayed.thenFails(403, 'forbidden').thenAppends([]);
    expect(replayed.answer.headers.get('idempotent-replayed')).toBeNull();
  });

  it('sends an assigned notice to the assignee only, not to other members on the feed', async () => {
    const [owner, assignee, stranger] = [
      await sys.register('owner'),
      await sys.register('assignee'),
      await sys.register('stranger'),
    ];
    const [assigneeFeed, strangerFeed] = [
      await sys.liveFeed(assignee.token),
      await sys.liveFeed(stranger.token),
    ];
    const task = await sys.createTask(owner.token);
    await sys.api.command.patch(
      `/tasks/${task.id}`,
      { assigneeId: assignee.userId },
      { token: owner.token },
    );
    for (const feedClient of [assigneeFeed, strangerFeed]) {
      await waitFor(() => feedClient.events.find((e) => e.type === 'TaskAssigned'));
    }
    await waitFor(() => assigneeFeed.assigned[0]);
    expect(assigneeFeed.assigned.map((notice) => notice.taskId)).toEqual([task.id]);
    expect(strangerFeed.assigned).toEqual([]);
  });
});
