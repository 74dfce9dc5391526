import { randomBytes } from 'node:crypto';
import {
  compareEntryIds,
  JWT_AUDIENCE,
  JWT_ISSUER,
  type KeyLayout,
  type NewEvent,
  newId,
} from '@tasksync/contracts';
import { taskCreated } from '@tasksync/contracts/testing';
import { appendToStream, createTokenService, type RedisClient } from '@tasksync/platform';
import { io as connectClient, type Socket } from 'socket.io-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startNotifier as startInProcess } from '../../../test/in-process';
import {
  appendUserRegistered,
  capturingLogger,
  connectTestRedis,
  forgedTokens,
  testKeys,
  waitFor,
} from '../../../test/support';
import type { AssignedNotice, EventMessage } from './messages';

const redis: RedisClient = connectTestRedis();
const secret = randomBytes(32).toString('base64url');
const tokens = createTokenService({ secret, ttlSeconds: 600 });
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});
afterAll(() => redis.quit());

/** A notifier in this process: the real feed, Socket.IO and HTTP app on port 0. */
const startNotifier = async (
  keys: KeyLayout,
  options: { maxReplay?: number; connectTimeoutMs?: number } = {},
) => {
  const { logger } = capturingLogger('warn');
  const notifier = await startInProcess(
    { redis, keys, tokens, logger },
    { origins: ['http://allowed.example'], ...options },
  );
  stops.push(notifier.close);
  return notifier;
};

interface Received {
  socket: Socket;
  events: EventMessage[];
  assigned: AssignedNotice[];
  /** The `live` or `resync` message, once it came. */
  state: { live?: { position: string }; resync?: { reason: string; position: string } };
}

const connect = (
  url: string,
  auth: Record<string, unknown>,
  extra: { extraHeaders?: Record<string, string> } = {},
): Received => {
  const socket = connectClient(url, {
    auth,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...extra,
  });
  const received: Received = { socket, events: [], assigned: [], state: {} };
  socket.on('event', (message: EventMessage) => received.events.push(message));
  socket.on('assigned', (notice: AssignedNotice) => received.assigned.push(notice));
  socket.on('live', (message: { position: string }) => {
    received.state.live = message;
  });
  socket.on('resync', (message: { reason: string; position: string }) => {
    received.state.resync = message;
  });
  stops.push(async () => {
    socket.disconnect();
  });
  return received;
};

const connectLive = async (url: string, auth: Record<string, unknown>) => {
  const received = connect(url, auth);
  await waitFor(() => received.state.live ?? received.state.resync, { message: 'live' });
  return received;
};

/** The handshake refusal a client sees as `connect_error`. */
const refusalOf = (url: string, auth: Record<string, unknown>, headers?: Record<string, string>) =>
  new Promise<Error & { data?: { status: number; detail: string } }>((resolve, reject) => {
    const { socket } = connect(url, auth, headers ? { extraHeaders: headers } : {});
    socket.on('connect', () => reject(new Error('the handshake was accepted')));
    socket.on('connect_error', resolve);
  });

const member = () => {
  const userId = newId();
  return { userId, token: tokens.sign({ userId, role: 'member' }).token };
};

const taskEvent = (type: string, data: unknown, actor: string): NewEvent =>
  ({
    id: newId(),
    type,
    data,
    at: new Date().toISOString(),
    actor,
    corr: 'test',
  }) as NewEvent;

/** Appends as the command-service does: to the task's stream and its partition's log. */
const append = async (
  keys: KeyLayout,
  taskId: string,
  revision: number | 'none',
  events: NewEvent[],
) => {
  const result = await appendToStream(redis, {
    streamKey: keys.taskStream(taskId),
    logKey: keys.taskLog(keys.partitionOf(taskId)),
    aggregateId: taskId,
    expectedRevision: revision,
    events,
  });
  if (result.outcome !== 'appended') throw new Error(`append: ${result.outcome}`);
  return `t${keys.partitionOf(taskId)}:${result.entryId}`;
};

const created = (actor: string, title: string) =>
  taskEvent('TaskCreated', taskCreated(actor, { title }).data, actor);

const createTasks = async (keys: KeyLayout, actor: string, count: number) => {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const taskId = newId();
    await append(keys, taskId, 'none', [created(actor, `task ${i}`)]);
    ids.push(taskId);
  }
  return ids;
};

const positionsOf = (events: EventMessage[]) => events.map((event) => event.position);

const sentinels = new Set<string>();

/**
 * Appends one more task to every partition and waits until each client has
 * them: a client sends its events in order, so by then any duplicate of an
 * earlier one would have arrived too. The sentinels are then dropped.
 */
const settle = async (keys: KeyLayout, actor: string, clients: Received[]) => {
  const ids = new Map<number, string>();
  while (ids.size < keys.partitions) {
    const id = newId();
    if (!ids.has(keys.partitionOf(id))) ids.set(keys.partitionOf(id), id);
  }
  for (const id of ids.values()) {
    sentinels.add(id);
    await append(keys, id, 'none', [created(actor, 'sentinel')]);
  }
  for (const client of clients) {
    await waitFor(() =>
      [...ids.values()].every((id) => client.events.some((e) => e.aggregateId === id))
        ? true
        : undefined,
    );
    client.events = client.events.filter((event) => !sentinels.has(event.aggregateId));
  }
};

describe('notifier live feed', () => {
  it('delivers 30 created tasks as 30 events, once each, with the message shape of §7', async () => {
    const keys = testKeys(2);
    const notifier = await startNotifier(keys);
    const { userId, token } = member();
    const client = await connectLive(notifier.url, { token });
    expect(client.state.resync).toBeUndefined();

    const ids = await createTasks(keys, userId, 30);
    await settle(keys, userId, [client]);

    expect(client.events.map((event) => event.aggregateId).sort()).toEqual([...ids].sort());
    expect(new Set(positionsOf(client.events)).size).toBe(30);
    const first = client.events.find((event) => event.aggregateId === ids[0])!;
    expect(first).toEqual({
      position: expect.stringMatching(/^t\d+:\d+-\d+$/),
      type: 'TaskCreated',
      aggregateId: ids[0],
      revision: 0,
      at: expect.any(String),
      actor: userId,
      data: expect.objectContaining({ title: 'task 0', status: 'pending' }),
    });
  });

  it('keeps each task’s events in revision order', async () => {
    const keys = testKeys(2);
    const notifier = await startNotifier(keys);
    const { userId, token } = member();
    const client = await connectLive(notifier.url, { token });
    const ids = await createTasks(keys, userId, 5);
    await Promise.all(
      ids.map(async (taskId) => {
        for (let revision = 0; revision < 6; revision++) {
          const [from, to] = revision % 2 ? ['in-progress', 'pending'] : ['pending', 'in-progress'];
          await append(keys, taskId, revision, [
            taskEvent('TaskStatusChanged', { from, to }, userId),
          ]);
        }
      }),
    );
    await waitFor(() => (client.events.length >= 35 ? true : undefined));
    for (const taskId of ids) {
      const revisions = client.events
        .filter((event) => event.aggregateId === taskId)
        .map((event) => event.revision);
      expect(revisions).toEqual([0, 1, 2, 3, 4, 5, 6]);
    }
  });

  it('refuses a missing, forged, expired or malformed handshake with connect_error', async () => {
    const keys = testKeys();
    const notifier = await startNotifier(keys);
    const { userId } = member();

    const missing = await refusalOf(notifier.url, {});
    expect(missing.message).toBe('unauthorized');
    expect(missing.data?.status).toBe(401);

    const forged = createTokenService({ secret: `${secret}x`, ttlSeconds: 600 }).sign({
      userId,
      role: 'member',
    }).token;
    expect((await refusalOf(notifier.url, { token: forged })).data).toEqual({
      status: 401,
      detail: 'The token is not valid.',
    });

    const expired = (await forgedTokens(userId)).expired(secret);
    expect((await refusalOf(notifier.url, { token: expired })).data).toEqual({
      status: 401,
      detail: 'The token has expired.',
    });

    const badSince = await refusalOf(notifier.url, { token: member().token, since: 'yesterday' });
    expect(badSince.message).toBe('bad-handshake');
    expect(badSince.data?.status).toBe(400);
    expect(badSince.data?.detail).toMatch(/^since: "yesterday" is not a position/);
    // In the form, but past Redis's 64-bit entry ids: refused too, not replayed.
    const pastIds = await refusalOf(notifier.url, {
      token: member().token,
      since: 't0:0-99999999999999999999',
    });
    expect({ message: pastIds.message, status: pastIds.data?.status }).toEqual({
      message: 'bad-handshake',
      status: 400,
    });
  });

  it('closes a connection that has not joined within the connect timeout (no handshake, or a refused one)', async () => {
    const notifier = await startNotifier(testKeys(), { connectTimeoutMs: 300 });
    const polling = `${notifier.url}/socket.io/?EIO=4&transport=polling`;
    const open = async () => {
      const answer = await fetch(polling);
      expect(answer.status).toBe(200);
      return `${polling}&sid=${JSON.parse((await answer.text()).slice(1)).sid}`;
    };
    const silent = await open();
    const refused = await open();
    // A Socket.IO CONNECT with a forged token: refused, and the session stays unjoined.
    const connect = await fetch(refused, {
      method: 'POST',
      body: `40${JSON.stringify({ token: 'forged' })}`,
    });
    expect(connect.status).toBe(200);
    for (const session of [silent, refused]) {
      // A poll waits for what the server sends next; the last thing is engine.io's close
      // packet ("1"), after the connect_error for the refused one.
      await waitFor(
        async () => ((await (await fetch(session)).text()).endsWith('1') ? true : undefined),
        { timeoutMs: 5_000, message: 'the close packet' },
      );
      expect((await fetch(session)).status).toBe(400);
    }
  });

  it('ends a connection when its token expires, and one that sends a frame over 16 KB', async () => {
    const keys = testKeys();
    const notifier = await startNotifier(keys);
    const { userId } = member();
    const shortLived = createTokenService({ secret, ttlSeconds: 60 }).sign({
      userId,
      role: 'member',
    }).token;
    // A token that expires two seconds from now (jsonwebtoken counts from its own clock).
    const expiring = (await import('jsonwebtoken')).default.sign(
      { role: 'member', exp: Math.floor(Date.now() / 1000) + 2 },
      secret,
      { subject: userId, issuer: JWT_ISSUER, audience: JWT_AUDIENCE },
    );
    const expired = await connectLive(notifier.url, { token: expiring });
    const told = new Promise((resolve) => expired.socket.once('expired', resolve));
    const reason = new Promise((resolve) => expired.socket.once('disconnect', resolve));
    expect(await told).toEqual({ detail: 'The token has expired.' });
    expect(await reason).toBe('io server disconnect');

    const flooding = await connectLive(notifier.url, { token: shortLived });
    const cut = new Promise((resolve) => flooding.socket.once('disconnect', resolve));
    flooding.socket.emit('anything', 'x'.repeat(17_000));
    expect(await cut).toBe('transport close');
  });

  it('admits browsers only from allowed origins, its own always', async () => {
    const keys = testKeys();
    const notifier = await startNotifier(keys);
    const { token } = member();
    const foreign = await refusalOf(notifier.url, { token }, { origin: 'http://evil.example' });
    expect(foreign.message).toMatch(/websocket error|xhr poll error|Forbidden/i);

    for (const origin of ['http://allowed.example', notifier.url]) {
      const client = connect(notifier.url, { token }, { extraHeaders: { origin } });
      await waitFor(() => client.state.live, { message: `a connection from ${origin}` });
    }
  });

  it('replays exactly the 10 events a client missed with since, then live ones', async () => {
    const keys = testKeys(2);
    const notifier = await startNotifier(keys);
    const { userId, token } = member();
    const first = await connectLive(notifier.url, { token });
    await createTasks(keys, userId, 5);
    await waitFor(() => (first.events.length === 5 ? true : undefined));
    first.socket.disconnect();

    const since = [...new Map(first.events.map((e) => [e.position.split(':')[0], e.position]))]
      .map(([, position]) => position)
      .join(',');
    const missed = await createTasks(keys, userId, 10);
    const again = connect(notifier.url, { token, since });
    await waitFor(() => again.state.live, { message: 'live after the replay' });
    expect(again.events.map((event) => event.aggregateId).sort()).toEqual([...missed].sort());

    const later = await createTasks(keys, userId, 3);
    await settle(keys, userId, [again]);
    expect(again.events.map((event) => event.aggregateId).sort()).toEqual(
      [...missed, ...later].sort(),
    );
    expect(new Set(positionsOf(again.events)).size).toBe(13);
  });

  it('has neither a gap nor a duplicate when events keep coming during the replay', async () => {
    const keys = testKeys(2);
    const notifier = await startNotifier(keys);
    const { userId, token } = member();
    const before = await createTasks(keys, userId, 40);
    const since = keys
      .logs()
      .filter((log) => log.name !== 'id')
      .map((log) => `${log.name}:0-0`)
      .join(',');
    let writing = true;
    const during: string[] = [];
    const writer = (async () => {
      while (writing) during.push(...(await createTasks(keys, userId, 1)));
    })();
    const clients = await Promise.all(
      Array.from({ length: 5 }, () => connectLive(notifier.url, { token, since })),
    );
    writing = false;
    await writer;
    const all = [...before, ...during].sort();
    await settle(keys, userId, clients);
    for (const client of clients) {
      expect(client.events.map((event) => event.aggregateId).sort()).toEqual(all);
    }
  });

  it('replays a log that since does not name from its start; no since is live from now', async () => {
    const keys = testKeys(2);
    const notifier = await startNotifier(keys);
    const { userId, token } = member();
    const before = await createTasks(keys, userId, 6);
    const fresh = await connectLive(notifier.url, { token, since: '' });
    // Once fresh has them all, the feed has dispatched them: a client from now is past them.
    await waitFor(() => (fresh.events.length === 6 ? true : undefined));
    const now = await connectLive(notifier.url, { token });
    const after = await createTasks(keys, userId, 2);
    await settle(keys, userId, [fresh, now]);
    expect(fresh.events.map((event) => event.aggregateId).sort()).toEqual(
      [...before, ...after].sort(),
    );
    expect(now.events.map((event) => event.aggregateId).sort()).toEqual([...after].sort());
  });

  it('tells a client to resync when its position cannot be served, then goes live', async () => {
    const keys = testKeys(1);
    const notifier = await startNotifier(keys, { maxReplay: 5 });
    const { userId, token } = member();
    const watcher = await connectLive(notifier.url, { token });
    await createTasks(keys, userId, 8);
    // The feed's position must be past the creations, or a client connecting now
    // is only a few events behind it, replayed, and rightly never told to resync.
    await settle(keys, userId, [watcher]);

    const behind = await connectLive(notifier.url, { token, since: 't0:0-0' });
    expect(behind.state.resync).toEqual({
      reason: 'too-far-behind',
      position: notifier.positions(),
    });
    const ahead = await connectLive(notifier.url, { token, since: `t0:${Date.now() + 60_000}-0` });
    expect(ahead.state.resync?.reason).toBe('unknown-position');
    const unknownLog = await connectLive(notifier.url, { token, since: 't7:1-0' });
    expect(unknownLog.state.resync?.reason).toBe('unknown-log');

    const [taskId] = await createTasks(keys, userId, 1);
    for (const client of [behind, ahead, unknownLog]) {
      await waitFor(() => client.events.find((event) => event.aggregateId === taskId));
    }
  });

  it('sends a task room only its task, the assignee an assigned notice, and profiles without e-mail', async () => {
    const keys = testKeys(2);
    const notifier = await startNotifier(keys);
    const owner = member();
    const assignee = member();
    const board = await connectLive(notifier.url, { token: owner.token });
    const [watched, other] = await createTasks(keys, owner.userId, 2);
    // The rooms are joined once the feed is past both creations: a room joined
    // earlier rightly receives its task's TaskCreated too.
    for (const taskId of [watched, other]) {
      await waitFor(() => board.events.find((event) => event.aggregateId === taskId));
    }
    const follower = await connectLive(notifier.url, { token: owner.token, tasks: [watched] });
    const assigneeClient = await connectLive(notifier.url, {
      token: assignee.token,
      tasks: [other],
    });

    for (const taskId of [watched!, other!]) {
      await append(keys, taskId, 0, [
        taskEvent('TaskAssigned', { assigneeId: assignee.userId, previous: null }, owner.userId),
      ]);
    }
    const createdAssigned = newId();
    await append(keys, createdAssigned, 'none', [
      taskEvent(
        'TaskCreated',
        { ...(created(owner.userId, 'born assigned').data as object), assigneeId: assignee.userId },
        owner.userId,
      ),
    ]);
    await appendUserRegistered(redis, keys, {
      userId: assignee.userId,
      email: 'secret@example.com',
    });

    await settle(keys, owner.userId, [board]);
    await waitFor(() => (assigneeClient.assigned.length >= 3 ? true : undefined));
    await waitFor(() => (follower.events.length >= 1 ? true : undefined));
    await waitFor(() => (assigneeClient.events.length >= 1 ? true : undefined));
    expect(follower.events.map((e) => [e.type, e.aggregateId])).toEqual([
      ['TaskAssigned', watched],
    ]);
    expect(assigneeClient.events.map((e) => [e.type, e.aggregateId])).toEqual([
      ['TaskAssigned', other],
    ]);
    expect(assigneeClient.assigned.map((notice) => notice.taskId).sort()).toEqual(
      [watched, other, createdAssigned].sort(),
    );
    expect(board.assigned).toEqual([]);
    const profile = board.events.find((event) => event.type === 'UserRegistered')!;
    expect(profile.data).toEqual({ name: 'U', role: 'member' });
    expect(JSON.stringify(board.events)).not.toContain('secret@example.com');
  });

  it('sends tasks in General (open) to everyone, a private project’s to its members and admins only', async () => {
    const keys = testKeys(2);
    const [owner, other] = [member(), member()];
    const adminId = newId();
    await appendUserRegistered(redis, keys, {
      userId: adminId,
      email: `${adminId}@example.com`,
      role: 'admin',
    });
    const admin = { userId: adminId, token: tokens.sign({ userId: adminId, role: 'admin' }).token };
    const projectId = newId();
    const project = {
      name: 'Secret',
      description: '',
      visibility: 'private',
      ownerId: owner.userId,
    };
    await appendToStream(redis, {
      streamKey: keys.projectStream(projectId),
      logKey: keys.projectLog,
      aggregateId: projectId,
      expectedRevision: 'none',
      events: [taskEvent('ProjectCreated', project, owner.userId)],
    });
    const notifier = await startNotifier(keys);
    const clients = [];
    for (const { token } of [owner, other, admin])
      clients.push(await connectLive(notifier.url, { token }));
    const general = await createTasks(keys, owner.userId, 3);
    const secret = newId();
    await append(keys, secret, 'none', [
      taskEvent('TaskCreated', taskCreated(owner.userId, { projectId }).data, owner.userId),
    ]);
    await settle(keys, owner.userId, clients);
    const [ofOwner, ofOther, ofAdmin] = clients.map((client) =>
      client.events.map((event) => event.aggregateId).sort(),
    );
    expect(ofOwner).toEqual([...general, secret].sort());
    expect(ofOther).toEqual([...general].sort());
    expect(ofAdmin).toEqual([...general, secret].sort());
  });

  it('delivers every event exactly once to clients of two notifiers side by side', async () => {
    const keys = testKeys(2);
    const [one, two] = [await startNotifier(keys), await startNotifier(keys)];
    const { userId, token } = member();
    const clients = [
      await connectLive(one.url, { token }),
      await connectLive(two.url, { token }),
      await connectLive(two.url, { token }),
    ];
    const ids = await createTasks(keys, userId, 20);
    await settle(keys, userId, clients);
    for (const client of clients) {
      expect(client.events.map((event) => event.aggregateId).sort()).toEqual([...ids].sort());
    }
  });

  it('sends a burst to a client in far fewer TCP writes than events', async () => {
    const keys = testKeys(1);
    const notifier = await startNotifier(keys);
    let writes = 0;
    notifier.io.engine.on('connection', (connection) => {
      const tcp = connection.transport.socket._socket as import('node:net').Socket & {
        _write: (...args: unknown[]) => void;
        _writev: (...args: unknown[]) => void;
      };
      for (const method of ['_write', '_writev'] as const) {
        const original = tcp[method].bind(tcp);
        tcp[method] = (...args: unknown[]) => {
          writes++;
          original(...args);
        };
      }
    });
    const { userId, token } = member();
    const client = await connectLive(notifier.url, { token });
    writes = 0;
    // 200 appends sent at once (auto-pipelined): the tail reads them in a batch or two.
    const ids = Array.from({ length: 200 }, () => newId());
    const positions = await Promise.all(
      ids.map((id) => append(keys, id, 'none', [created(userId, 'burst')])),
    );
    await waitFor(() => (client.events.length === 200 ? true : undefined));
    // In append order within each log (logs interleave freely: 4 of them on the cluster run).
    const byLog = (list: string[]) => {
      const logs = new Map<string, string[]>();
      for (const position of list) {
        const log = position.split(':')[0]!;
        logs.set(log, [...(logs.get(log) ?? []), position]);
      }
      return logs;
    };
    const received = byLog(positionsOf(client.events));
    for (const [log, appended] of byLog(positions)) {
      expect(received.get(log)).toEqual(
        appended.sort((a, b) => compareEntryIds(a.split(':')[1]!, b.split(':')[1]!)),
      );
    }
    expect(writes).toBeLessThan(20);
  });

  it('reports its connections and dispatched events in /metrics', async () => {
    const keys = testKeys(1);
    const notifier = await startNotifier(keys);
    const { userId, token } = member();
    const client = await connectLive(notifier.url, { token });
    await createTasks(keys, userId, 3);
    await waitFor(() => (client.events.length === 3 ? true : undefined));
    const metrics = await (await fetch(`${notifier.url}/metrics`)).text();
    expect(metrics).toMatch(/^tasksync_notifier_connections\{[^}]*\} 1$/m);
    const dispatched = [
      ...metrics.matchAll(/^tasksync_notifier_events_total\{[^}]*log="t\d+"[^}]*\} (\d+)$/gm),
    ].reduce((sum, [, count]) => sum + Number(count), 0);
    expect(dispatched).toBe(3);
    expect(metrics).toMatch(/^tasksync_notifier_delivery_lag_seconds_count\{[^}]*\} 3$/m);
    expect((await fetch(`${notifier.url}/ready`)).status).toBe(200);
  });
});
