import { randomBytes } from 'node:crypto';
import { newId } from '@tasksync/contracts';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiRequest, ExpectedEvent } from '../api-spec';
import { expectProblem, type JsonAnswer, readEventsOf, waitFor } from '../support';
import { concretePath, documentedRoutes, OPENAPI_DOCUMENTS, routeLabel, validBody } from './routes';
import {
  type FeedClient,
  type Member,
  redis,
  type ServiceName,
  type System,
  startSystem,
  type Team,
} from './system';

afterAll(() => redis.quit());
let sys: System;
beforeEach(async () => {
  sys = await startSystem();
});
afterEach(async () => {
  await sys.stop();
});

/** An owner's task in the open General project assigned to another member, and a third member. */
const ownerAssigneeStranger = async () => {
  const [owner, assignee, stranger] = [
    await sys.register('owner'),
    await sys.register('assignee'),
    await sys.register('stranger'),
  ];
  const task = await sys.createTask(owner.token, { assigneeId: assignee.userId });
  return { owner, assignee, stranger, task, stream: sys.keys.taskStream(task.id) };
};

/** A command request, directly to the command-service and through the front door. */
const everyWay = (request: ApiRequest) =>
  (
    [
      ['command', ''],
      ['door', ''],
    ] as const
  ).map(([via, prefix]) => ({ via, request: { ...request, path: `${prefix}${request.path}` } }));

/**
 * A write by someone it does not belong to, directly and through the front
 * door: `status` (403 forbidden unless said otherwise), and nothing appended
 * to any log or to the streams given.
 */
const refusedEverywhere = async (
  given: string | string[],
  request: ApiRequest,
  status = 403,
  slug = 'forbidden',
) => {
  for (const { via, request: sent } of everyWay(request)) {
    (await sys.spec[via].given(...[given].flat()).when(sent))
      .thenFails(status, slug)
      .thenAppends([]);
  }
};

/** Request headers to try one after the other. */
const headerSets = (...sets: Record<string, string>[]) => sets;

/** What an answer shows of itself, every part a caller could tell two answers apart by. */
const shown = (answer: JsonAnswer) => ({
  status: answer.status,
  contentType: answer.headers.get('content-type'),
  etag: answer.headers.get('etag'),
  eventPosition: answer.headers.get('x-event-position'),
  location: answer.headers.get('location'),
  body: answer.body,
});

/**
 * A write naming something the caller may not see: directly and through the
 * board, answered exactly as the same request naming an id nobody has (404),
 * and nothing appended to any log or to the streams given (design §10: the
 * existence of what one may not see is not revealed).
 */
const hiddenEverywhere = async (
  given: string[],
  request: ApiRequest,
  unknownPath: string,
  label = `${request.method} ${request.path}`,
) => {
  for (const { via, request: sent } of everyWay(request)) {
    const hidden = await sys.spec[via].given(...given).when(sent);
    const unknown = await sys.spec[via].given(...given).when({ ...sent, path: unknownPath });
    expect({ label, via, ...shown(hidden.answer) }).toEqual({
      label,
      via,
      ...shown(unknown.answer),
    });
    hidden.thenFails(404, 'not-found').thenAppends([]);
    unknown.thenAppends([]);
  }
};

/** A write that is allowed: this status and exactly these new events. */
const allowed = async (
  given: string[],
  request: ApiRequest,
  status: number,
  events: ExpectedEvent[],
) => (await sys.spec.command.given(...given).when(request)).thenAnswers(status).thenAppends(events);

/** Reads a task or a profile as `who`, once the read model has every event so far. */
const readAsOf = (path: string, who: { token: string }) => sys.readCaughtUp(path, who);

/** What the owner and a stranger read of one path: the same 200 answer (General is open, design §10). */
const expectSharedRead = async (owner: Member, stranger: Member, path: string) => {
  const [asOwner, asStranger] = [await readAsOf(path, owner), await readAsOf(path, stranger)];
  expect({ path, status: asStranger.status }).toEqual({ path, status: 200 });
  expect(asStranger.body).toEqual(asOwner.body);
};

/**
 * A read of something `who` may not see, directly and through the front door:
 * exactly the answer for an id nobody has (404), X-Read-Position included,
 * both read at the same model state.
 */
const expectHiddenRead = async (
  who: { token: string },
  path: string,
  unknownPath: string,
  label = path,
) => {
  for (const [via, prefix] of [
    ['query', ''],
    ['door', ''],
  ] as const) {
    const headers = { 'x-min-position': await sys.headPositions() };
    const hidden = await sys.api[via].get(`${prefix}${path}`, { token: who.token, headers });
    const unknown = await sys.api[via].get(`${prefix}${unknownPath}`, {
      token: who.token,
      headers,
    });
    expectProblem(hidden, 404, 'not-found');
    expect(hidden.headers.get('x-read-position')).toMatch(/^\w+:\d+-\d+/);
    expect({ label, via, ...shown(hidden), read: hidden.headers.get('x-read-position') }).toEqual({
      label,
      via,
      ...shown(unknown),
      read: unknown.headers.get('x-read-position'),
    });
  }
};

/** Every stream of a team's project and tasks: what a refused write must leave as it was. */
const teamStreams = (team: Team) => [
  team.projectStream,
  ...Object.values(team.tasks).map((task) => sys.keys.taskStream(task.id)),
];

/** A change of one task by method (PATCH or PUT), checked for every role of §10's table. */
const taskChangeCheck = (method: 'PATCH' | 'PUT') => async () => {
  // The open General project: anyone works in it as an editor, so another's task is 403.
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
    await refusedEverywhere(stream, { method, path, token: stranger.token, ...attempt });
  }
  // The same request from one who may: the refusals above were about who asked.
  await allowed([stream], { method, path, token: assignee.token, body: { title: 'x' } }, 200, [
    { type: 'TaskDetailsChanged', agg: task.id, actor: assignee.userId },
  ]);

  // A private project: those outside it, the removed member included, are told nothing.
  const team = await sys.privateTeam();
  const streams = teamStreams(team);
  const { owners, assigned, editors, formers } = team.tasks;
  for (const [who, target] of [
    [team.outsider, owners],
    [team.outsider, editors],
    [team.former, formers],
  ] as const) {
    for (const attempt of attempts) {
      await hiddenEverywhere(
        streams,
        { method, path: `/tasks/${target.id}`, token: who.token, ...attempt },
        `/tasks/${sys.unknownTaskId(target.id)}`,
      );
    }
    // A stale If-Match must not tell them the task exists, nor its revision.
    await hiddenEverywhere(
      streams,
      {
        method,
        path: `/tasks/${target.id}`,
        token: who.token,
        body: { title: 'stale' },
        headers: { 'if-match': '"7"' },
      },
      `/tasks/${sys.unknownTaskId(target.id)}`,
    );
  }
  // A viewer changes nothing; an editor only what they created or are assigned.
  for (const target of [owners, assigned, editors]) {
    await refusedEverywhere(streams, {
      method,
      path: `/tasks/${target.id}`,
      token: team.viewer.token,
      body: { priority: 'low' },
    });
  }
  await refusedEverywhere(streams, {
    method,
    path: `/tasks/${owners.id}`,
    token: team.editor.token,
    body: { priority: 'low' },
  });
  for (const [who, target] of [
    [team.editor, assigned],
    [team.editor, editors],
    [team.owner, editors],
    [sys.admin, owners],
  ] as const) {
    await allowed(
      streams,
      {
        method,
        path: `/tasks/${target.id}`,
        token: who.token,
        body: { title: `by ${who.userId}` },
      },
      200,
      [{ type: 'TaskDetailsChanged', agg: target.id, actor: who.userId }],
    );
  }
};

/**
 * Every route that takes an object id, and how it keeps one member's id from
 * serving another. The tests below are made from the services' OpenAPI
 * documents, not from this table: a newly documented id route gets a test that
 * fails until its check is written here.
 */
const OBJECT_CHECKS: Record<string, { proves: string; check: () => Promise<void> }> = {
  'command PATCH /tasks/{id}': {
    proves:
      'hides a private project’s task from outsiders and removed members (404 as an unknown id, If-Match and keys too); 403 for a viewer and for an editor’s change of another’s task; the assignee, the creator, the owner and an admin may',
    check: taskChangeCheck('PATCH'),
  },
  'command PUT /tasks/{id}': {
    proves: 'the same as PATCH for the replacement kept from the original TaskSync',
    check: taskChangeCheck('PUT'),
  },
  'command DELETE /tasks/{id}': {
    proves:
      'hides a private task from outsiders and removed members (404); 403 for a viewer and for an editor who did not create it; its creator, the owner and an admin may',
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
      await allowed([stream], { method: 'DELETE', path, token: owner.token }, 204, [
        { type: 'TaskDeleted', agg: task.id, actor: owner.userId },
      ]);

      const team = await sys.privateTeam();
      const streams = teamStreams(team);
      const { owners, assigned, editors, formers } = team.tasks;
      for (const [who, target] of [
        [team.outsider, owners],
        [team.former, formers],
      ] as const) {
        for (const headers of headerSets({}, { 'if-match': '"0"' }, { 'if-match': '"7"' })) {
          await hiddenEverywhere(
            streams,
            { method: 'DELETE', path: `/tasks/${target.id}`, token: who.token, headers },
            `/tasks/${sys.unknownTaskId(target.id)}`,
          );
        }
      }
      await refusedEverywhere(streams, {
        method: 'DELETE',
        path: `/tasks/${editors.id}`,
        token: team.viewer.token,
      });
      // Assigned, not its creator: the editor may change it, not delete it.
      await refusedEverywhere(streams, {
        method: 'DELETE',
        path: `/tasks/${assigned.id}`,
        token: team.editor.token,
      });
      for (const [who, target] of [
        [team.editor, editors],
        [team.owner, formers],
        [sys.admin, owners],
      ] as const) {
        await allowed(
          streams,
          { method: 'DELETE', path: `/tasks/${target.id}`, token: who.token },
          204,
          [{ type: 'TaskDeleted', agg: target.id, actor: who.userId }],
        );
      }
      // Deleted: still 404 to an outsider, never the 410 that would say it was there.
      await hiddenEverywhere(
        streams,
        { method: 'DELETE', path: `/tasks/${owners.id}`, token: team.outsider.token },
        `/tasks/${sys.unknownTaskId(owners.id)}`,
      );
    },
  },
  'command POST /tasks/{id}/comments': {
    proves:
      'lets whoever sees a task comment, a viewer too, but only as itself; hides a private task from outsiders and removed members (404)',
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
      expect((await readEventsOf(redis, stream)).map((e) => [e.type, e.actor, e.data])).toEqual([
        ['TaskCreated', owner.userId, expect.objectContaining({ createdBy: owner.userId })],
        ['CommentAdded', stranger.userId, data],
      ]);

      const team = await sys.privateTeam();
      const streams = teamStreams(team);
      const { owners, formers } = team.tasks;
      for (const [who, target] of [
        [team.outsider, owners],
        [team.former, formers],
      ] as const) {
        for (const headers of headerSets({}, { 'if-match': '"7"' }, { 'idempotency-key': 'c-1' })) {
          await hiddenEverywhere(
            streams,
            {
              method: 'POST',
              path: `/tasks/${target.id}/comments`,
              token: who.token,
              body: { text: 'let me in' },
              headers,
            },
            `/tasks/${sys.unknownTaskId(target.id)}/comments`,
          );
        }
      }
      await allowed(
        streams,
        {
          method: 'POST',
          path: `/tasks/${owners.id}/comments`,
          token: team.viewer.token,
          body: { text: 'a viewer may comment' },
        },
        201,
        [{ type: 'CommentAdded', agg: owners.id, actor: team.viewer.userId }],
      );
    },
  },
  'command PATCH /projects/{id}': {
    proves:
      'hides a private project from outsiders and removed members (404, If-Match too); 403 for a viewer and an editor (details, visibility, archive); its owner and an admin may',
    check: async () => {
      const team = await sys.privateTeam();
      const streams = [team.projectStream];
      const path = `/projects/${team.project.id}`;
      const unknownPath = `/projects/${newId()}`;
      const changes = [{ name: 'Taken over' }, { visibility: 'open' }, { archived: true }];
      for (const who of [team.outsider, team.former]) {
        for (const body of changes) {
          for (const headers of headerSets({}, { 'if-match': '"4"' }, { 'if-match': '"9"' })) {
            await hiddenEverywhere(
              streams,
              { method: 'PATCH', path, token: who.token, body, headers },
              unknownPath,
            );
          }
        }
      }
      for (const who of [team.viewer, team.editor]) {
        for (const body of changes) {
          await refusedEverywhere(streams, { method: 'PATCH', path, token: who.token, body });
        }
      }
      await allowed(
        streams,
        { method: 'PATCH', path, token: team.owner.token, body: changes[0] },
        200,
        [{ type: 'ProjectDetailsChanged', agg: team.project.id, actor: team.owner.userId }],
      );
      await allowed(
        streams,
        { method: 'PATCH', path, token: sys.admin.token, body: { description: 'by an admin' } },
        200,
        [{ type: 'ProjectDetailsChanged', agg: team.project.id, actor: sys.admin.userId }],
      );
    },
  },
  'command PUT /projects/{id}/members/{userId}': {
    proves:
      'lets nobody outside a private project join it or learn of it (404, themselves included); 403 for a viewer or an editor adding or promoting anyone, themselves too; its owner and an admin may',
    check: async () => {
      const team = await sys.privateTeam();
      const streams = [team.projectStream];
      const { id } = team.project;
      const put = (
        who: { token: string },
        member: { userId: string },
        role: string,
        headers = {},
      ) => ({
        method: 'PUT',
        path: `/projects/${id}/members/${member.userId}`,
        token: who.token,
        body: { role },
        headers,
      });
      for (const [who, member] of [
        [team.outsider, team.outsider],
        [team.outsider, team.viewer],
        [team.former, team.former],
      ] as const) {
        for (const headers of headerSets({}, { 'if-match': '"4"' }, { 'if-match': '"9"' })) {
          await hiddenEverywhere(
            streams,
            put(who, member, 'owner', headers),
            `/projects/${newId()}/members/${member.userId}`,
          );
        }
      }
      // An id nobody has is refused as the project, before the user is looked up.
      await hiddenEverywhere(
        streams,
        {
          ...put(team.outsider, team.outsider, 'viewer'),
          path: `/projects/${id}/members/${newId()}`,
        },
        `/projects/${newId()}/members/${newId()}`,
      );
      for (const who of [team.viewer, team.editor]) {
        for (const [member, role] of [
          [who, 'owner'],
          [team.outsider, 'viewer'],
          [team.viewer, 'editor'],
        ] as const) {
          await refusedEverywhere(streams, put(who, member, role));
        }
      }
      await allowed(streams, put(team.owner, team.outsider, 'viewer'), 200, [
        { type: 'MemberAdded', agg: id, data: { userId: team.outsider.userId, role: 'viewer' } },
      ]);
      await allowed(streams, put(sys.admin, team.viewer, 'editor'), 200, [
        {
          type: 'MemberRoleChanged',
          agg: id,
          data: { userId: team.viewer.userId, from: 'viewer', to: 'editor' },
        },
      ]);
    },
  },
  'command POST /projects/{id}/members': {
    proves:
      'the same by e-mail: 404 for outsiders and removed members whether the e-mail is registered or not (no 422 that would tell), 403 for a viewer or an editor; its owner may',
    check: async () => {
      const team = await sys.privateTeam();
      const streams = [team.projectStream];
      const { id } = team.project;
      const nobody = `nobody-${randomBytes(4).toString('hex')}@example.com`;
      const add = (who: Member, email: string, role = 'owner') => ({
        method: 'POST',
        path: `/projects/${id}/members`,
        token: who.token,
        body: { email, role },
      });
      for (const who of [team.outsider, team.former]) {
        for (const email of [who.email, team.viewer.email, nobody]) {
          await hiddenEverywhere(streams, add(who, email), `/projects/${newId()}/members`);
        }
      }
      for (const who of [team.viewer, team.editor]) {
        for (const email of [who.email, team.outsider.email, nobody]) {
          await refusedEverywhere(streams, add(who, email));
        }
      }
      await allowed(streams, add(team.owner, team.outsider.email, 'viewer'), 200, [
        { type: 'MemberAdded', agg: id, data: { userId: team.outsider.userId, role: 'viewer' } },
      ]);
    },
  },
  'command DELETE /projects/{id}/members/{userId}': {
    proves:
      'hides a private project’s members from outsiders and removed members (404); 403 for a viewer or an editor removing another; a member may leave, the owner may remove',
    check: async () => {
      const team = await sys.privateTeam();
      const streams = [team.projectStream];
      const { id } = team.project;
      const remove = (who: { token: string }, member: { userId: string }, headers = {}) => ({
        method: 'DELETE',
        path: `/projects/${id}/members/${member.userId}`,
        token: who.token,
        headers,
      });
      for (const [who, member] of [
        [team.outsider, team.editor],
        [team.outsider, team.owner],
        [team.outsider, team.outsider],
        [team.former, team.viewer],
        [team.former, team.former],
      ] as const) {
        for (const headers of headerSets({}, { 'if-match': '"4"' }, { 'if-match': '"9"' })) {
          await hiddenEverywhere(
            streams,
            remove(who, member, headers),
            `/projects/${newId()}/members/${member.userId}`,
          );
        }
      }
      for (const [who, member] of [
        [team.viewer, team.editor],
        [team.editor, team.viewer],
        [team.editor, team.owner],
      ] as const) {
        await refusedEverywhere(streams, remove(who, member));
      }
      await allowed(streams, remove(team.viewer, team.viewer), 204, [
        {
          type: 'MemberRemoved',
          agg: id,
          data: { userId: team.viewer.userId, by: team.viewer.userId },
        },
      ]);
      await allowed(streams, remove(team.owner, team.editor), 204, [
        {
          type: 'MemberRemoved',
          agg: id,
          data: { userId: team.editor.userId, by: team.owner.userId },
        },
      ]);
      // Removed, the editor is an outsider like any other.
      await hiddenEverywhere(
        streams,
        remove(team.editor, team.owner),
        `/projects/${newId()}/members/${team.owner.userId}`,
      );
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
  'query GET /projects/{id}': {
    proves:
      'shows a private project to its members with each one’s access, to an admin; to outsiders and removed members exactly as an unknown id',
    check: async () => {
      const team = await sys.privateTeam();
      const path = `/projects/${team.project.id}`;
      for (const [who, access] of [
        [team.owner, 'owner'],
        [team.editor, 'editor'],
        [team.viewer, 'viewer'],
        [sys.admin, 'admin'],
      ] as const) {
        const answer = await readAsOf(path, who);
        expect({
          status: answer.status,
          name: answer.body.name,
          access: answer.body.access,
        }).toEqual({ status: 200, name: `Project ${team.tag}`, access });
      }
      for (const who of [team.outsider, team.former]) {
        await expectHiddenRead(who, path, `/projects/${newId()}`);
      }
    },
  },
  'query GET /projects/{id}/members': {
    proves:
      'lists a private project’s members to those who see it; to outsiders and removed members exactly as an unknown id',
    check: async () => {
      const team = await sys.privateTeam();
      const path = `/projects/${team.project.id}/members`;
      for (const who of [team.viewer, sys.admin]) {
        const answer = await readAsOf(path, who);
        expect(answer.status).toBe(200);
        expect(
          answer.body.items.map((m: { userId: string; role: string }) => [m.userId, m.role]),
        ).toEqual([
          [team.owner.userId, 'owner'],
          [team.editor.userId, 'editor'],
          [team.viewer.userId, 'viewer'],
        ]);
      }
      for (const who of [team.outsider, team.former]) {
        await expectHiddenRead(who, path, `/projects/${newId()}/members`);
      }
    },
  },
  'query GET /tasks/{id}': {
    proves:
      'shares a General task with every member, now and as of a position; a private one with its project’s members only: outsiders and removed members get an unknown id’s 404, asOf and deleted tasks included',
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

      const team = await sys.privateTeam();
      const { owners, formers } = team.tasks;
      const deleted = await sys.api.command.delete(`/tasks/${team.tasks.editors.id}`, {
        token: team.editor.token,
      });
      expect(deleted.status).toBe(204);
      for (const target of [owners, formers]) {
        const asOfs = ['', `?asOf=${target.position}`, `?asOf=${new Date().toISOString()}`];
        for (const asOf of asOfs) {
          const path = `/tasks/${target.id}${asOf}`;
          await expectSharedRead(team.owner, team.viewer, path);
          const unknownPath = `/tasks/${sys.unknownTaskId(target.id)}${asOf}`;
          for (const who of [team.outsider, team.former]) {
            await expectHiddenRead(who, path, unknownPath);
          }
        }
      }
      // A deleted task is 410 to its members, and not there at all to anyone else.
      const gone = `/tasks/${team.tasks.editors.id}`;
      expectProblem(await readAsOf(gone, team.viewer), 410, 'gone');
      await expectHiddenRead(
        team.outsider,
        gone,
        `/tasks/${sys.unknownTaskId(team.tasks.editors.id)}`,
      );
    },
  },
  'query GET /tasks/{id}/history': {
    proves:
      'shares a General task’s history with every member, a private one’s with its project’s members only; 404 as an unknown id otherwise',
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

      const team = await sys.privateTeam();
      for (const target of [team.tasks.owners, team.tasks.formers]) {
        const path = `/tasks/${target.id}/history`;
        await expectSharedRead(team.owner, team.viewer, path);
        for (const who of [team.outsider, team.former]) {
          await expectHiddenRead(who, path, `/tasks/${sys.unknownTaskId(target.id)}/history`);
        }
      }
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
/** Those naming a task or a project: an outsider to a private project must learn nothing from them. */
const projectScopedRoutes = objectRoutes.filter((route) =>
  /^\/(tasks|projects)\//.test(route.path),
);

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

  it('answers an outsider on every documented route naming a private project’s task, project or member exactly as for ids nobody has, appending nothing', async () => {
    expect(projectScopedRoutes.length).toBeGreaterThanOrEqual(10);
    const team = await sys.privateTeam();
    const task = team.tasks.owners;
    const ids = {
      task: task.id,
      user: team.outsider.userId,
      project: team.project.id,
      member: team.editor.userId,
    };
    const unknownIds = { ...ids, task: sys.unknownTaskId(task.id), project: newId() };
    const streams = teamStreams(team);
    for (const route of projectScopedRoutes) {
      const label = routeLabel(route);
      const path = concretePath(route.path, ids);
      const unknownPath = concretePath(route.path, unknownIds);
      if (route.service === 'query') {
        await expectHiddenRead(team.outsider, path, unknownPath, label);
        continue;
      }
      expect(route.service, label).toBe('command');
      for (const headers of headerSets(
        {},
        { 'if-match': '"0"' },
        { 'if-match': '"99"' },
        { 'idempotency-key': 'probe' },
      )) {
        await hiddenEverywhere(
          streams,
          {
            method: route.method,
            path,
            token: team.outsider.token,
            body: validBody(route, team.outsider.email),
            headers,
          },
          unknownPath,
          label,
        );
      }
    }
  });

  it('treats a private project’s id in a body as in a path: creating or moving a task into it is an unknown project’s 404 to outsiders, 403 to viewers; moving out is for who may delete', async () => {
    const team = await sys.privateTeam();
    const streams = teamStreams(team);
    const { id: projectId } = team.project;
    const unknownProject = newId();
    const own = await sys.createTask(team.outsider.token, { title: 'in General' });
    const ownStream = sys.keys.taskStream(own.id);
    for (const [method, path, body, given] of [
      ['POST', '/tasks', { title: 'planted', projectId }, streams],
      ['POST', '/tasks', { title: 'planted', projectId, assigneeId: team.owner.userId }, streams],
      ['PATCH', `/tasks/${own.id}`, { projectId }, [...streams, ownStream]],
      ['PUT', `/tasks/${own.id}`, { projectId, title: 'moved' }, [...streams, ownStream]],
    ] as const) {
      const request = { method, path, token: team.outsider.token, body };
      const unknownBody = { ...body, projectId: unknownProject };
      for (const { via, request: sent } of everyWay(request)) {
        const hidden = await sys.spec[via].given(...given).when(sent);
        const unknown = await sys.spec[via].given(...given).when({ ...sent, body: unknownBody });
        expect({ path, via, ...shown(hidden.answer) }).toEqual({
          path,
          via,
          ...shown(unknown.answer),
        });
        hidden.thenFails(404, 'not-found').thenAppends([]);
      }
    }
    // A viewer creates nothing; an editor moves out only what they created.
    await refusedEverywhere(streams, {
      method: 'POST',
      path: '/tasks',
      token: team.viewer.token,
      body: { title: 'from a viewer', projectId },
    });
    const elsewhere = await sys.createProject(team.editor.token, { visibility: 'private' });
    for (const [who, task] of [
      [team.viewer, team.tasks.editors],
      [team.editor, team.tasks.assigned],
    ] as const) {
      await refusedEverywhere(streams, {
        method: 'PATCH',
        path: `/tasks/${task.id}`,
        token: who.token,
        body: { projectId: elsewhere.id },
      });
    }
    await allowed(
      streams,
      {
        method: 'PATCH',
        path: `/tasks/${team.tasks.editors.id}`,
        token: team.editor.token,
        body: { projectId: elsewhere.id },
      },
      200,
      [{ type: 'TaskMoved', data: { from: projectId, to: elsewhere.id } }],
    );
    // An assignee must see the project: the owner cannot hand a task to an outsider.
    await refusedEverywhere(
      streams,
      {
        method: 'PATCH',
        path: `/tasks/${team.tasks.owners.id}`,
        token: team.owner.token,
        body: { assigneeId: team.outsider.userId },
      },
      422,
      'assignee-cannot-see-project',
    );
  });

  it('stops a removed member’s reads once the projector has applied the removal, and their feed at project-left, while the others’ go on', async () => {
    const [owner, leaver, stayer] = [
      await sys.register('owner'),
      await sys.register('leaver'),
      await sys.register('stayer'),
    ];
    const project = await sys.createProject(owner.token, { visibility: 'private' });
    await sys.addMember(owner, project.id, leaver, 'editor');
    await sys.addMember(owner, project.id, stayer, 'viewer');
    const before = await sys.createTask(leaver.token, { projectId: project.id, title: 'Before' });
    const reads = [
      `/tasks/${before.id}`,
      `/tasks/${before.id}/history`,
      `/tasks/${before.id}?asOf=${before.position}`,
      `/projects/${project.id}`,
      `/projects/${project.id}/members`,
      `/tasks?projectId=${project.id}`,
      `/stats?projectId=${project.id}`,
    ];
    const unknown = (path: string) =>
      path.replaceAll(before.id, sys.unknownTaskId(before.id)).replaceAll(project.id, newId());
    for (const path of reads) {
      expect({ path, status: (await readAsOf(path, leaver)).status }).toEqual({
        path,
        status: 200,
      });
    }
    const [leaverFeed, stayerFeed] = [
      await sys.liveFeed(leaver.token),
      await sys.liveFeed(stayer.token),
    ];
    const comment = await sys.api.command.post(
      `/tasks/${before.id}/comments`,
      { text: 'seen by both' },
      { token: owner.token },
    );
    for (const feed of [leaverFeed, stayerFeed]) {
      await waitFor(() => feed.events.find((e) => e.position === comment.body.position));
    }
    // What a board that had all that holds, to resume from later.
    const sinceComment = await sys.headPositions();

    const removal = await sys.removeMember(owner, project.id, leaver);
    // Once the read model has applied the removal, every read is an unknown id's 404.
    for (const path of reads) {
      const answer = await sys.api.query.get(path, {
        token: leaver.token,
        headers: { 'x-min-position': removal },
      });
      expectProblem(answer, 404, 'not-found');
      await expectHiddenRead(leaver, path, unknown(path));
    }
    const list = await readAsOf('/tasks?limit=200', leaver);
    expect(list.body.items.map((t: { id: string }) => t.id)).not.toContain(before.id);
    const projects = await readAsOf('/projects', leaver);
    expect(projects.body.items.map((p: { id: string }) => p.id)).not.toContain(project.id);
    // The stayer still reads it all.
    for (const path of reads) {
      expect({ path, status: (await readAsOf(path, stayer)).status }).toEqual({
        path,
        status: 200,
      });
    }

    // The feed: project-left at the removal, then nothing of the project, whatever happens in it.
    const after = await sys.createTask(owner.token, { projectId: project.id, title: 'After' });
    const later = await sys.api.command.post(
      `/tasks/${before.id}/comments`,
      { text: 'after the removal' },
      { token: owner.token },
    );
    const renamed = await sys.api.command.patch(
      `/projects/${project.id}`,
      { name: 'Renamed' },
      { token: owner.token },
    );
    // A task of the open General project after all that: once the leaver has it, they would
    // have had everything before it (one order across the logs, design §10).
    const sentinel = await sys.createTask(owner.token, { title: 'General news' });
    await waitFor(() => leaverFeed.events.find((e) => e.aggregateId === sentinel.id));
    await waitFor(() => stayerFeed.events.find((e) => e.aggregateId === sentinel.id));

    const ofProject = new Set([project.id, before.id, after.id]);
    const concerns = (message: FeedClient['received'][number]) => {
      const payload = message.payload as { aggregateId?: string; projectId?: string };
      return ofProject.has(payload.aggregateId ?? '') || ofProject.has(payload.projectId ?? '');
    };
    const sawOfProject = (feed: FeedClient) =>
      feed.received
        .filter(concerns)
        .map(({ name, payload }) => [
          name,
          (payload as { type?: string }).type ?? null,
          (payload as { position: string }).position,
        ]);
    expect(sawOfProject(leaverFeed)).toEqual([
      ['event', 'CommentAdded', comment.body.position],
      ['project-left', null, removal],
    ]);
    // Resuming from before the removal replays by the same rule: project-left, then nothing of it.
    const resumed = sys.connectFeed({ token: leaver.token, since: sinceComment });
    await waitFor(() => resumed.events.find((e) => e.aggregateId === sentinel.id));
    expect(sawOfProject(resumed)).toEqual([['project-left', null, removal]]);
    expect(stayerFeed.received.filter((m) => m.name.startsWith('project-'))).toEqual([]);
    expect(
      stayerFeed.events
        .filter((e) => ofProject.has(e.aggregateId))
        .map((e) => [e.type, e.position]),
    ).toEqual([
      ['CommentAdded', comment.body.position],
      ['MemberRemoved', removal],
      ['TaskCreated', after.position],
      ['CommentAdded', later.body.position],
      ['ProjectDetailsChanged', renamed.body.position],
    ]);
  });

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
