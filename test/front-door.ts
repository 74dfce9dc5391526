import { io as connectClient } from 'socket.io-client';
import { expect } from 'vitest';
import { concretePath, documentedRoutes, routeLabel, validBody } from './security/routes';
import { rawRequest, type System } from './security/system';
import { client, waitFor } from './support';

/*
 * What every front door (design §12) must show, the Node one and nginx alike:
 * each route of every OpenAPI document answers through it exactly as the
 * service answers it directly.
 */

/** What a comparison of two answers looks at: status, problem or body, and the headers clients read. */
const seen = (answer: Awaited<ReturnType<typeof rawRequest>>) => ({
  status: answer.status,
  type: answer.headers.get('content-type'),
  body: answer.text,
  etag: answer.headers.get('etag'),
  eventPosition: answer.headers.get('x-event-position'),
  location: answer.headers.get('location'),
});

/**
 * Every documented route, through the door and directly, compared by status,
 * media type, body and the headers clients read: refusals (no token, a broken
 * body), reads, and writes (through the door first, then directly with the
 * same Idempotency-Key, which the service answers exactly as the first).
 */
export const expectAnswersAsServices = async (door: string, sys: System) => {
  const member = await sys.register('member');
  const other = await sys.register('other');
  const task = await sys.createTask(member.token);
  const project = await sys.createProject(member.token);
  await sys.addMember(member, project.id, other, 'viewer');
  await sys.readCaughtUp('/tasks', member);
  const ids = { task: task.id, user: member.userId, project: project.id, member: other.userId };
  // Deletions last: the routes after them still find what they act on.
  const routes = documentedRoutes()
    .filter((route) => !['/health', '/ready', '/metrics', '/openapi.json'].includes(route.path))
    .sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
  expect(routes.length).toBe(26);
  let key = 0;
  for (const route of routes) {
    const label = routeLabel(route);
    const path = concretePath(route.path, ids);
    const both = async (headers: Record<string, string>, body?: string) => {
      const request = { method: route.method, path, headers, ...(body ? { body } : {}) };
      const through = await rawRequest(door, request);
      const direct = await rawRequest(sys.urls[route.service], request);
      return { through: seen(through), direct: seen(direct) };
    };
    const json = { 'content-type': 'application/json' };
    // Refusals: no token, and a body that is not valid.
    const bodyless = route.method === 'GET' || route.method === 'DELETE';
    const anonymous = await both(bodyless ? {} : json, bodyless ? undefined : '{"x":');
    expect({ label, ...anonymous.through }).toEqual({ label, ...anonymous.direct });
    if (!route.auth) continue;
    const auth = { authorization: `Bearer ${member.token}` };
    if (route.method === 'GET') {
      const read = await both(auth);
      expect(read.through.status, label).toBeLessThan(300);
      expect({ label, ...read.through }).toEqual({ label, ...read.direct });
      continue;
    }
    // A write, through the door first, then directly with the same Idempotency-Key:
    // the service answers the second exactly as it answered the first.
    const body = validBody(route, other.email);
    const idempotent = route.service === 'command';
    const write = await both(
      { ...auth, ...json, ...(idempotent ? { 'idempotency-key': `door-${key++}` } : {}) },
      body === undefined ? undefined : JSON.stringify(body),
    );
    if (idempotent)
      expect(write.through.status, `${label}: ${write.through.body}`).toBeLessThan(300);
    expect({ label, ...write.through }).toEqual({ label, ...write.direct });
  }
};

/**
 * A member's Socket.IO client connects through the door over a WebSocket and
 * gets the event of a task created through the door, exactly once.
 */
export const expectLiveFeedThrough = async (door: string, sys: System) => {
  const member = await sys.register('live');
  const socket = connectClient(door, {
    auth: { token: member.token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  try {
    const events: { type: string; aggregateId: string }[] = [];
    let live = false;
    socket.on('live', () => {
      live = true;
    });
    socket.on('event', (message: { type: string; aggregateId: string }) => events.push(message));
    await waitFor(() => (live ? true : undefined), { message: `live through ${door}` });
    const created = await client(door).post(
      '/tasks',
      { title: 'through the door' },
      { token: member.token },
    );
    expect(created.status).toBe(201);
    await waitFor(() => events.find((event) => event.aggregateId === created.body.id), {
      message: `the event through ${door}`,
    });
    expect(
      events.filter((event) => event.aggregateId === created.body.id).map((e) => e.type),
    ).toEqual(['TaskCreated']);
  } finally {
    socket.close();
  }
};

/** A registration through the door from `localAddress` (any of 127.0.0.0/8). */
export const registrationThrough =
  (door: string, label: string) => (n: number, localAddress: string) =>
    rawRequest(door, {
      method: 'POST',
      path: '/auth/register',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `${label}-${n}@example.com`, password: 'password-123' }),
      localAddress,
    });
