import { readStream } from '@tasksync/platform';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OWN_PROFILE, PUBLIC_PROFILE, redis, type System, startSystem } from './system';

afterAll(() => redis.quit());
let sys: System;
beforeEach(async () => {
  sys = await startSystem();
});
afterEach(async () => {
  await sys.stop();
});

describe('API5 broken function level authorization', () => {
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
        ['board', '/api/identity'],
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
      (await readStream(redis, sys.keys.userStream(member.userId))).map((e) => [
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
