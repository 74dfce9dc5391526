import { randomBytes } from 'node:crypto';
import { newId } from '@tasksync/contracts';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendUserRegistered, waitFor } from '../support';
import {
  expectSafeProblem,
  rawRequest,
  redis,
  type ServiceName,
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

describe('API4 unrestricted resource consumption', () => {
  /** A JSON body of exactly `size` bytes, padded in `field`. */
  const bodyOf = (size: number, fields: Record<string, unknown>, field: string) => {
    const bare = JSON.stringify({ ...fields, [field]: '' });
    const body = JSON.stringify({ ...fields, [field]: 'x'.repeat(size - Buffer.byteLength(bare)) });
    expect(Buffer.byteLength(body)).toBe(size);
    return body;
  };

  it('answers 413 for a body over 100 kB on every write, with or without Content-Length, and through the front door, appending nothing', async () => {
    const member = await sys.register('member');
    const task = await sys.createTask(member.token);
    const project = await sys.createProject(member.token);
    const writes: [ServiceName, string, string, Record<string, unknown>, string, string?][] = [
      [
        'identity',
        'POST',
        '/auth/register',
        { email: 'big@example.com', password: 'long-enough' },
        'name',
      ],
      ['identity', 'POST', '/auth/login', { email: member.email }, 'password'],
      ['identity', 'PATCH', `/users/${member.userId}/role`, {}, 'role', sys.admin.token],
      ['command', 'POST', '/tasks', { title: 'big' }, 'description', member.token],
      ['command', 'PATCH', `/tasks/${task.id}`, {}, 'description', member.token],
      ['command', 'PUT', `/tasks/${task.id}`, {}, 'description', member.token],
      ['command', 'POST', `/tasks/${task.id}/comments`, {}, 'text', member.token],
      ['command', 'POST', '/projects', { name: 'big' }, 'description', member.token],
      ['command', 'PATCH', `/projects/${project.id}`, {}, 'description', member.token],
      [
        'command',
        'PUT',
        `/projects/${project.id}/members/${sys.admin.userId}`,
        {},
        'role',
        member.token,
      ],
      [
        'command',
        'POST',
        `/projects/${project.id}/members`,
        { role: 'viewer' },
        'email',
        member.token,
      ],
    ];
    const streams = [
      sys.keys.taskStream(task.id),
      sys.keys.userStream(member.userId),
      sys.keys.projectStream(project.id),
    ];
    for (const [service, method, path, fields, field, token] of writes) {
      for (const [base, prefix] of [
        [sys.urls[service], ''],
        [sys.urls.door, ''],
      ] as const) {
        const send = (size: number, chunked = false) =>
          rawRequest(base, {
            method,
            path: `${prefix}${path}`,
            headers: {
              'content-type': 'application/json',
              ...(token ? { authorization: `Bearer ${token}` } : {}),
            },
            body: bodyOf(size, fields, field),
            chunked,
          });
        const refused = async (size: number, chunked: boolean, status: number, slug: string) => {
          const outcome = await sys.spec[service].given(...streams).when(() => send(size, chunked));
          expectSafeProblem(outcome.answer, status, slug);
          outcome.thenAppends([]);
        };
        await refused(102_401, false, 413, 'payload-too-large');
        await refused(102_401, true, 413, 'payload-too-large');
        await refused(2_000_000, true, 413, 'payload-too-large');
        // At the limit the body is read, and refused by its schema instead.
        await refused(102_400, false, 400, 'validation');
      }
    }
    // The login throttle counted none of those: the body was refused before the login.
    expect(
      (
        await sys.api.identity.post('/auth/login', {
          email: member.email,
          password: member.password,
        })
      ).status,
    ).toBe(200);
  });

  it('caps page sizes: 1 to 200 on every list, /projects too, 50 by default', async () => {
    const member = await sys.register('pager');
    const label = `page-${randomBytes(3).toString('hex')}`;
    const tasks = await Promise.all(
      Array.from({ length: 51 }, (_, i) =>
        sys.createTask(member.token, { title: `t${i}`, labels: [label] }),
      ),
    );
    await Promise.all(
      Array.from({ length: 51 }, () => {
        const userId = newId();
        return appendUserRegistered(redis, sys.keys, { userId, email: `${userId}@example.com` });
      }),
    );
    const after = { 'x-min-position': await sys.headPositions() };
    const get = (path: string) => sys.api.query.get(path, { token: member.token, headers: after });
    const firstPage = await get(`/tasks?label=${label}`);
    expect(firstPage.body.items).toHaveLength(50);
    const secondPage = await get(`/tasks?label=${label}&cursor=${firstPage.body.nextCursor}`);
    expect(secondPage.body).toEqual({ items: [expect.any(Object)], nextCursor: null });
    expect((await get(`/tasks?label=${label}&limit=200`)).body.items).toHaveLength(51);
    const users = await get('/users');
    expect(users.body.items).toHaveLength(50);
    expect(users.body.nextCursor).toEqual(expect.any(String));
    // The member's 51 projects and General: 52 to page through.
    await Promise.all(
      Array.from({ length: 51 }, (_, i) => sys.createProject(member.token, { name: `p${i}` })),
    );
    const fresh = { 'x-min-position': await sys.headPositions() };
    const projects = await sys.api.query.get('/projects', { token: member.token, headers: fresh });
    expect(projects.body.items).toHaveLength(50);
    const rest = await get(`/projects?cursor=${projects.body.nextCursor}`);
    expect(rest.body).toEqual({
      items: [expect.any(Object), expect.any(Object)],
      nextCursor: null,
    });
    expect((await get('/projects?limit=200')).body.items).toHaveLength(52);
    for (const list of ['/tasks', '/users', `/tasks/${tasks[0]!.id}/history`, '/projects']) {
      expect((await get(`${list}?limit=200`)).status).toBe(200);
      for (const limit of ['0', '201', '-1', '1000000', 'all', '1e3', '']) {
        expectSafeProblem(await get(`${list}?limit=${limit}`), 400, 'validation');
      }
    }
  });

  it('caps how long a read waits, how big a position list and a Socket.IO handshake may be', async () => {
    const member = await sys.register('member');
    const read = (headers: Record<string, string>) =>
      sys.api.query.get('/tasks', { token: member.token, headers });
    const position = await sys.headPositions();
    for (const wait of ['10001', '-1', '1e9', 'forever']) {
      expectSafeProblem(await read({ 'x-min-position': position, 'x-max-wait-ms': wait }), 400);
    }
    expect((await read({ 'x-min-position': position, 'x-max-wait-ms': '10000' })).status).toBe(200);
    expectSafeProblem(await read({ 'x-min-position': `${'t0:1-0,'.repeat(600)}t0:1-0` }), 400);

    const tooMany = await sys.refusedFeed({
      token: member.token,
      tasks: Array.from({ length: 101 }, () => newId()),
    });
    expect({ message: tooMany.message, status: tooMany.data?.status }).toEqual({
      message: 'bad-handshake',
      status: 400,
    });
    expect(tooMany.data?.detail).toMatch(/^tasks: /);
    const hugeToken = await sys.refusedFeed({ token: 'x'.repeat(8_193) });
    expect({ message: hugeToken.message, status: hugeToken.data?.status }).toEqual({
      message: 'bad-handshake',
      status: 400,
    });
    expect(hugeToken.data?.detail).toMatch(/^token: /);
  });

  it('cuts a WebSocket that sends a frame over 16 KB and refuses such a polling POST with 413', async () => {
    const member = await sys.register('member');
    const feedClient = await sys.liveFeed(member.token);
    feedClient.socket.emit('anything', 'x'.repeat(15_000));
    const task = await sys.createTask(member.token);
    await waitFor(() => feedClient.events.find((e) => e.aggregateId === task.id));
    expect(feedClient.socket.connected).toBe(true);
    const cut = new Promise((resolve) => feedClient.socket.once('disconnect', resolve));
    feedClient.socket.emit('anything', 'x'.repeat(17_000));
    expect(await cut).toBe('transport close');

    const open = await rawRequest(sys.urls.notifier, {
      path: '/socket.io/?EIO=4&transport=polling',
    });
    expect(open.status).toBe(200);
    const { sid, maxPayload } = JSON.parse(open.text.slice(1)) as {
      sid: string;
      maxPayload: number;
    };
    expect(maxPayload).toBe(16_384);
    const post = (body: string) =>
      rawRequest(sys.urls.notifier, {
        method: 'POST',
        path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`,
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
        body,
      });
    expect((await post(`4${'x'.repeat(16_384)}`)).status).toBe(413);
  });
});
