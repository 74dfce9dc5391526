import { GENERAL_PROJECT_ID } from '@tasksync/contracts';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiRequest, ExpectedEvent } from '../api-spec';
import { expectProblem, readEventsOf } from '../support';
import {
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

/** A command refused with this status, directly and through the front door, appending nothing. */
const refused = async (given: string[], request: ApiRequest, status: number, slug: string) => {
  for (const [via, prefix] of [
    ['command', ''],
    ['door', ''],
  ] as const) {
    (await sys.spec[via].given(...given).when({ ...request, path: `${prefix}${request.path}` }))
      .thenFails(status, slug)
      .thenAppends([]);
  }
};

const allowed = async (
  given: string[],
  request: ApiRequest,
  status: number,
  events: ExpectedEvent[],
) => (await sys.spec.command.given(...given).when(request)).thenAnswers(status).thenAppends(events);

/** Every function of managing a project (design §10: owners and admins only), as `who` asks it. */
const managing = (projectId: string, who: { token: string; userId: string }, others: Member[]) => {
  const [someone, owner] = others as [Member, Member];
  const path = `/projects/${projectId}`;
  return [
    { method: 'PATCH', path, body: { name: 'Taken over' } },
    { method: 'PATCH', path, body: { description: 'Ours now' } },
    { method: 'PATCH', path, body: { visibility: 'private' } },
    { method: 'PATCH', path, body: { visibility: 'open' } },
    { method: 'PATCH', path, body: { archived: true } },
    { method: 'PATCH', path, body: { archived: false } },
    { method: 'PUT', path: `${path}/members/${who.userId}`, body: { role: 'owner' } },
    { method: 'PUT', path: `${path}/members/${someone.userId}`, body: { role: 'editor' } },
    { method: 'POST', path: `${path}/members`, body: { email: someone.email, role: 'viewer' } },
    { method: 'DELETE', path: `${path}/members/${owner.userId}` },
  ].map((request) => ({ ...request, token: who.token }));
};

describe('API5 broken function level authorization', () => {
  it('lets only a project’s owners and site admins manage it: every setting and membership change is 403 for its editors and viewers and for anyone working in an open project', async () => {
    const team = await sys.privateTeam();
    const open = await sys.createProject(team.owner.token, { visibility: 'open' });
    await sys.addMember(team.owner, open.id, team.viewer, 'viewer');
    const streams = [team.projectStream, sys.keys.projectStream(open.id)];
    for (const [projectId, who] of [
      [team.project.id, team.editor],
      [team.project.id, team.viewer],
      [open.id, team.outsider],
      [open.id, team.viewer],
    ] as const) {
      for (const request of managing(projectId, who, [team.outsider, team.owner])) {
        await refused(streams, request, 403, 'forbidden');
      }
    }
    // Owners and admins may: archiving and restoring, and managing members.
    const path = `/projects/${team.project.id}`;
    await allowed(
      streams,
      { method: 'PATCH', path, token: team.owner.token, body: { archived: true } },
      200,
      [{ type: 'ProjectArchived', actor: team.owner.userId }],
    );
    await allowed(
      streams,
      { method: 'PATCH', path, token: sys.admin.token, body: { archived: false } },
      200,
      [{ type: 'ProjectRestored', actor: sys.admin.userId }],
    );
    await allowed(
      streams,
      {
        method: 'PUT',
        path: `${path}/members/${team.outsider.userId}`,
        token: sys.admin.token,
        body: { role: 'viewer' },
      },
      200,
      [
        {
          type: 'MemberAdded',
          actor: sys.admin.userId,
          data: { userId: team.outsider.userId, role: 'viewer' },
        },
      ],
    );
    await allowed(
      streams,
      {
        method: 'PUT',
        path: `/projects/${open.id}/members/${team.viewer.userId}`,
        token: team.owner.token,
        body: { role: 'owner' },
      },
      200,
      [
        {
          type: 'MemberRoleChanged',
          data: { userId: team.viewer.userId, from: 'viewer', to: 'owner' },
        },
      ],
    );
  });

  it('lets site admins, and no member, manage the General project (owner system)', async () => {
    const [member, other] = [await sys.register('member'), await sys.register('other')];
    const stream = sys.keys.projectStream(GENERAL_PROJECT_ID);
    const general = (await sys.readCaughtUp(`/projects/${GENERAL_PROJECT_ID}`, member)).body;
    expect({ name: general.name, ownerId: general.ownerId, access: general.access }).toEqual({
      name: 'General',
      ownerId: 'system',
      access: 'editor',
    });
    for (const request of managing(GENERAL_PROJECT_ID, member, [other, other])) {
      await refused([stream], request, 403, 'forbidden');
    }
    const path = `/projects/${GENERAL_PROJECT_ID}`;
    await allowed(
      [stream],
      { method: 'PATCH', path, token: sys.admin.token, body: { description: 'Everyone’s' } },
      200,
      [{ type: 'ProjectDetailsChanged', agg: GENERAL_PROJECT_ID, actor: sys.admin.userId }],
    );
    await allowed(
      [stream],
      {
        method: 'PUT',
        path: `${path}/members/${member.userId}`,
        token: sys.admin.token,
        body: { role: 'viewer' },
      },
      200,
      [{ type: 'MemberAdded', data: { userId: member.userId, role: 'viewer' } }],
    );
    // Owned by `system`, General has no last owner to keep: its members may leave.
    await allowed(
      [stream],
      { method: 'DELETE', path: `${path}/members/${member.userId}`, token: member.token },
      204,
      [{ type: 'MemberRemoved', data: { userId: member.userId, by: member.userId } }],
    );
  });

  it('keeps an archived project read-only for everyone, its owner included, until an owner or admin restores it', async () => {
    const team = await sys.privateTeam();
    const streams = [team.projectStream, team.taskStream(team.tasks.editors)];
    const path = `/projects/${team.project.id}`;
    const archived = await sys.api.command.patch(
      path,
      { archived: true },
      { token: team.owner.token },
    );
    expect(archived.status).toBe(200);
    // Its tasks are read-only to all who could change them, its settings to those who manage it.
    for (const who of [team.owner, team.editor, sys.admin]) {
      for (const request of [
        { method: 'POST', path: '/tasks', body: { title: 'late', projectId: team.project.id } },
        { method: 'PATCH', path: `/tasks/${team.tasks.editors.id}`, body: { title: 'late' } },
        {
          method: 'POST',
          path: `/tasks/${team.tasks.editors.id}/comments`,
          body: { text: 'late' },
        },
        { method: 'DELETE', path: `/tasks/${team.tasks.editors.id}` },
      ]) {
        await refused(streams, { ...request, token: who.token }, 409, 'project-archived');
      }
    }
    for (const who of [team.owner, sys.admin]) {
      for (const request of [
        { method: 'PATCH', path, body: { name: 'late' } },
        {
          method: 'PUT',
          path: `${path}/members/${team.outsider.userId}`,
          body: { role: 'viewer' },
        },
      ]) {
        await refused(streams, { ...request, token: who.token }, 409, 'project-archived');
      }
    }
    for (const who of [team.editor, team.viewer]) {
      await refused(
        streams,
        { method: 'PATCH', path, token: who.token, body: { archived: false } },
        403,
        'forbidden',
      );
    }
    await allowed(
      streams,
      { method: 'PATCH', path, token: team.owner.token, body: { archived: false } },
      200,
      [{ type: 'ProjectRestored' }],
    );
  });

  it('never lets a project lose its last owner: leaving, removal and demotion are 409, an admin’s too', async () => {
    const team = await sys.privateTeam();
    const streams = [team.projectStream];
    const members = `/projects/${team.project.id}/members`;
    const demote = (who: { token: string }, owner: Member, role = 'editor') => ({
      method: 'PUT',
      path: `${members}/${owner.userId}`,
      token: who.token,
      body: { role },
    });
    const remove = (who: { token: string }, owner: Member) => ({
      method: 'DELETE',
      path: `${members}/${owner.userId}`,
      token: who.token,
    });
    for (const request of [
      remove(team.owner, team.owner),
      remove(sys.admin, team.owner),
      demote(team.owner, team.owner, 'viewer'),
      demote(sys.admin, team.owner),
    ]) {
      await refused(streams, request, 409, 'last-owner');
    }
    // With a second owner, the first may leave; then the second is the last.
    await sys.addMember(team.owner, team.project.id, team.editor, 'owner');
    await allowed(streams, remove(team.owner, team.owner), 204, [
      { type: 'MemberRemoved', data: { userId: team.owner.userId, by: team.owner.userId } },
    ]);
    for (const request of [
      remove(team.editor, team.editor),
      demote(sys.admin, team.editor, 'viewer'),
    ]) {
      await refused(streams, request, 409, 'last-owner');
    }
  });

  it('takes a demoted admin’s sight of private projects away at once, though their token still says admin', async () => {
    const [deputy, owner] = [await sys.register('deputy'), await sys.register('owner')];
    await sys.api.identity.patch(
      `/users/${deputy.userId}/role`,
      { role: 'admin' },
      { token: sys.admin.token },
    );
    const adminToken = (
      await sys.api.identity.post('/auth/login', { email: deputy.email, password: deputy.password })
    ).body.token as string;
    const project = await sys.createProject(owner.token, { visibility: 'private' });
    const task = await sys.createTask(owner.token, { projectId: project.id });
    const asDeputy = { token: adminToken };
    const path = `/projects/${project.id}`;
    expect((await sys.readCaughtUp(path, asDeputy)).body.access).toBe('admin');
    const demoted = await sys.api.identity.patch(
      `/users/${deputy.userId}/role`,
      { role: 'member' },
      { token: sys.admin.token },
    );
    expect(demoted.status).toBe(200);
    expect(sys.tokens.verify(adminToken).role).toBe('admin');
    for (const read of [
      path,
      `${path}/members`,
      `/tasks/${task.id}`,
      `/tasks?projectId=${project.id}`,
    ]) {
      expectProblem(
        await sys.api.query.get(read, {
          token: adminToken,
          headers: { 'x-min-position': demoted.body.position },
        }),
        404,
        'not-found',
      );
    }
    const streams = [sys.keys.projectStream(project.id), sys.keys.taskStream(task.id)];
    for (const request of [
      { method: 'PATCH', path, body: { name: 'mine' } },
      { method: 'PUT', path: `${path}/members/${deputy.userId}`, body: { role: 'owner' } },
      { method: 'PATCH', path: `/tasks/${task.id}`, body: { title: 'mine' } },
    ]) {
      await refused(streams, { ...request, token: adminToken }, 404, 'not-found');
    }
  });

  it('lets only admins change roles: a member is 403 and appends nothing, an admin is 200 with one UserRoleChanged', async () => {
    const [member, other] = [await sys.register('member'), await sys.register('other')];
    const streams = [sys.keys.userStream(member.userId), sys.keys.userStream(other.userId)];
    for (const [target, role] of [
      [member, 'admin'],
      [other, 'admin'],
      [other, 'member'],
    ] as const) {
      for (const [via, prefix] of [
        ['identity', ''],
        ['door', ''],
      ] as const) {
        (
          await sys.spec[via].given(...streams).when({
            method: 'PATCH',
            path: `${prefix}/users/${target.userId}/role`,
            body: { role },
            token: member.token,
          })
        )
          .thenFails(403, 'forbidden')
          .thenAppends([]);
      }
    }
    const promoted = await sys.spec.identity.given(...streams).when({
      method: 'PATCH',
      path: `/users/${member.userId}/role`,
      body: { role: 'admin' },
      token: sys.admin.token,
    });
    promoted
      .thenAnswers(200, {
        user: {
          id: member.userId,
          name: 'member',
          role: 'admin',
          createdAt: expect.any(String),
          email: member.email,
        },
        position: expect.any(String),
      })
      .thenAppends([
        {
          type: 'UserRoleChanged',
          agg: member.userId,
          actor: sys.admin.userId,
          data: { from: 'member', to: 'admin' },
        },
      ]);
    expect(
      (await readEventsOf(redis, sys.keys.userStream(member.userId))).map((e) => [
        e.type,
        e.actor,
        e.data,
      ]),
    ).toEqual([
      ['UserRegistered', member.userId, { email: member.email, name: 'member', role: 'member' }],
      ['UserRoleChanged', sys.admin.userId, { from: 'member', to: 'admin' }],
    ]);
    const relogin = await sys.api.identity.post('/auth/login', {
      email: member.email,
      password: member.password,
    });
    expect(sys.tokens.verify(relogin.body.token)).toEqual({ userId: member.userId, role: 'admin' });
  });

  it('lets an admin, and no other member, change or delete someone else’s task', async () => {
    const [owner, member] = [await sys.register('owner'), await sys.register('member')];
    const task = await sys.createTask(owner.token);
    const command = sys.spec.command.given(sys.keys.taskStream(task.id));
    (
      await command.when({
        method: 'PATCH',
        path: `/tasks/${task.id}`,
        body: { title: 'x' },
        token: member.token,
      })
    )
      .thenFails(403, 'forbidden')
      .thenAppends([]);
    (await command.when({ method: 'DELETE', path: `/tasks/${task.id}`, token: member.token }))
      .thenFails(403, 'forbidden')
      .thenAppends([]);
    expect(
      (await sys.api.command.patch(`/tasks/${task.id}`, { title: 'x' }, { token: sys.admin.token }))
        .status,
    ).toBe(200);
    expect(
      (await sys.api.command.delete(`/tasks/${task.id}`, { token: sys.admin.token })).status,
    ).toBe(204);
  });

  it('takes admin rights away at once from a demoted admin whose token still says admin', async () => {
    const [deputy, owner] = [await sys.register('deputy'), await sys.register('owner')];
    await sys.api.identity.patch(
      `/users/${deputy.userId}/role`,
      { role: 'admin' },
      { token: sys.admin.token },
    );
    const adminToken = (
      await sys.api.identity.post('/auth/login', { email: deputy.email, password: deputy.password })
    ).body.token as string;
    const task = await sys.createTask(owner.token);
    // While an admin, the deputy may change others' tasks and read their e-mails.
    expect(
      (
        await sys.api.command.patch(
          `/tasks/${task.id}`,
          { priority: 'high' },
          { token: adminToken },
        )
      ).status,
    ).toBe(200);
    const demoted = await sys.api.identity.patch(
      `/users/${deputy.userId}/role`,
      { role: 'member' },
      { token: sys.admin.token },
    );
    expect(demoted.status).toBe(200);
    expect(sys.tokens.verify(adminToken).role).toBe('admin');
    const streams = [sys.keys.taskStream(task.id), sys.keys.userStream(owner.userId)];
    for (const [via, request] of [
      [
        'identity',
        { method: 'PATCH', path: `/users/${owner.userId}/role`, body: { role: 'admin' } },
      ],
      ['command', { method: 'PATCH', path: `/tasks/${task.id}`, body: { priority: 'low' } }],
      ['command', { method: 'DELETE', path: `/tasks/${task.id}` }],
    ] as const) {
      (await sys.spec[via].given(...streams).when({ ...request, token: adminToken }))
        .thenFails(403, 'forbidden')
        .thenAppends([]);
    }
    const profile = await sys.api.query.get(`/users/${owner.userId}`, {
      token: adminToken,
      headers: { 'x-min-position': demoted.body.position },
    });
    expect(Object.keys(profile.body.user).sort()).toEqual(PUBLIC_PROFILE);
    const list = await sys.api.query.get('/users', { token: adminToken });
    for (const user of list.body.items as { id: string }[]) {
      expect(Object.keys(user).sort()).toEqual(
        user.id === deputy.userId ? OWN_PROFILE : PUBLIC_PROFILE,
      );
    }
  });
});
