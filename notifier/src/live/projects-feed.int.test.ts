import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  GENERAL_PROJECT_ID,
  type KeyLayout,
  newId,
  type ProjectRole,
  type Role,
  type Visibility,
} from '@tasksync/contracts';
import { taskCreated } from '@tasksync/contracts/testing';
import {
  appendToStream,
  createLogReader,
  createMetrics,
  createTokenService,
  type RedisClient,
} from '@tasksync/platform';
import { io as connectClient, type Socket } from 'socket.io-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startNotifier as startInProcess } from '../../../test/in-process';
import { capturingLogger, connectTestRedis, testKeys, waitFor } from '../../../test/support';
import { createSocketServer } from '../app';
import { startLiveFeed } from './feed';

const redis: RedisClient = connectTestRedis();
const secret = randomBytes(32).toString('base64url');
const tokens = createTokenService({ secret, ttlSeconds: 600 });
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});
afterAll(() => redis.quit());

const startNotifier = async (keys: KeyLayout) => {
  const { logger } = capturingLogger('warn');
  const notifier = await startInProcess({ redis, keys, tokens, logger }, { origins: [] });
  stops.push(notifier.close);
  return notifier;
};

/** A notifier holding the projects of only `taskCacheSize` tasks: the rest are read from streams. */
const startForgetfulNotifier = async (keys: KeyLayout, taskCacheSize: number) => {
  const { logger } = capturingLogger('warn');
  const metrics = createMetrics('notifier');
  const io = createSocketServer([]);
  const feed = await startLiveFeed({
    io,
    redis,
    keys,
    tokens,
    logger,
    metrics,
    maxReplay: 10_000,
    logReader: createLogReader({ redis, keys }),
    taskCacheSize,
  });
  const server = createServer();
  io.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  stops.push(async () => {
    await io.close();
    await feed.stop();
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    metrics: () => metrics.registry.metrics(),
  };
};

/** One event the test appended, with what the rule needs to know of it. */
interface Appended {
  /** Order of appending. */
  index: number;
  log: string;
  entryId: string;
  position: string;
  type: string;
  agg: string;
  revision: number;
  data: Record<string, unknown>;
  /** A task event's project(s) when it was appended: both for a move. */
  projects: string[];
}

/**
 * Appends events as the services do (aggregate stream and log, atomically)
 * and keeps every one, so the test can work out what each client must get.
 */
const createWorld = (keys: KeyLayout) => {
  const appended: Appended[] = [];
  const revisions = new Map<string, number>();
  const projectOf = new Map<string, string>();
  const append = async (
    stream: { key: string; log: string; logKey: string },
    agg: string,
    type: string,
    data: Record<string, unknown>,
    actor: string,
    projects: string[] = [],
  ) => {
    const revision = revisions.get(agg);
    const result = await appendToStream(redis, {
      streamKey: stream.key,
      logKey: stream.logKey,
      aggregateId: agg,
      expectedRevision: revision ?? 'none',
      events: [
        { id: newId(), type, data, at: new Date().toISOString(), actor, corr: 'test' } as never,
      ],
    });
    if (result.outcome !== 'appended') throw new Error(`append: ${result.outcome}`);
    revisions.set(agg, result.revision);
    const item: Appended = {
      index: appended.length,
      log: stream.log,
      entryId: result.entryId,
      position: `${stream.log}:${result.entryId}`,
      type,
      agg,
      revision: result.revision,
      data,
      projects,
    };
    appended.push(item);
    return item;
  };
  const project = (id: string) => ({
    key: keys.projectStream(id),
    log: 'p',
    logKey: keys.projectLog,
  });
  const user = (id: string) => ({ key: keys.userStream(id), log: 'id', logKey: keys.identityLog });
  const task = (id: string) => {
    const partition = keys.partitionOf(id);
    return { key: keys.taskStream(id), log: `t${partition}`, logKey: keys.taskLog(partition) };
  };
  const taskEvent = (taskId: string, type: string, data: Record<string, unknown>, actor: string) =>
    append(task(taskId), taskId, type, data, actor, [projectOf.get(taskId)!]);

  return {
    appended,
    projectOf,
    byPosition: (position: string) => appended.find((item) => item.position === position),
    createProject: async (ownerId: string, visibility: Visibility) => {
      const id = newId();
      await append(
        project(id),
        id,
        'ProjectCreated',
        { name: `project ${id.slice(-4)}`, description: '', visibility, ownerId },
        ownerId,
      );
      return id;
    },
    addMember: (projectId: string, userId: string, role: ProjectRole) =>
      append(project(projectId), projectId, 'MemberAdded', { userId, role }, 'system'),
    changeMemberRole: (projectId: string, userId: string, from: ProjectRole, to: ProjectRole) =>
      append(project(projectId), projectId, 'MemberRoleChanged', { userId, from, to }, 'system'),
    removeMember: (projectId: string, userId: string) =>
      append(project(projectId), projectId, 'MemberRemoved', { userId, by: userId }, userId),
    changeVisibility: (projectId: string, from: Visibility, to: Visibility) =>
      append(project(projectId), projectId, 'ProjectVisibilityChanged', { from, to }, 'system'),
    renameProject: (projectId: string, name: string) =>
      append(project(projectId), projectId, 'ProjectDetailsChanged', { name }, 'system'),
    register: (userId: string, role: Role) =>
      append(
        user(userId),
        userId,
        'UserRegistered',
        { email: `${userId}@example.com`, name: 'U', role },
        'system',
      ),
    changeSiteRole: (userId: string, from: Role, to: Role) =>
      append(user(userId), userId, 'UserRoleChanged', { from, to }, 'system'),
    createTask: async (projectId: string, actor: string, assigneeId: string | null = null) => {
      const id = newId();
      projectOf.set(id, projectId);
      const { data } = taskCreated(actor, { projectId, assigneeId, title: 'work' });
      return append(task(id), id, 'TaskCreated', data, actor, [projectId]);
    },
    changeStatus: (taskId: string, from: string, to: string, actor: string) =>
      taskEvent(taskId, 'TaskStatusChanged', { from, to }, actor),
    assign: (taskId: string, assigneeId: string | null, previous: string | null, actor: string) =>
      taskEvent(taskId, 'TaskAssigned', { assigneeId, previous }, actor),
    comment: (taskId: string, authorId: string) =>
      taskEvent(taskId, 'CommentAdded', { commentId: newId(), text: 'hm', authorId }, authorId),
    deleteTask: (taskId: string, actor: string) => taskEvent(taskId, 'TaskDeleted', {}, actor),
    moveTask: async (taskId: string, to: string, actor: string) => {
      const from = projectOf.get(taskId)!;
      projectOf.set(taskId, to);
      return append(task(taskId), taskId, 'TaskMoved', { from, to }, actor, [from, to]);
    },
  };
};
type World = ReturnType<typeof createWorld>;

/** The test's own reading of the merged order: entry-id time, then p, id, task logs. */
const mergedOrder = (items: readonly Appended[]) => {
  const rank = (log: string) => (log === 'p' ? 0 : log === 'id' ? 1 : 2);
  const parts = (entryId: string) => entryId.split('-').map(BigInt) as [bigint, bigint];
  return [...items].sort((a, b) => {
    const [[aMs, aSeq], [bMs, bSeq]] = [parts(a.entryId), parts(b.entryId)];
    if (aMs !== bMs) return aMs < bMs ? -1 : 1;
    if (rank(a.log) !== rank(b.log)) return rank(a.log) - rank(b.log);
    if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
    return a.log < b.log ? -1 : 1;
  });
};

interface Viewer {
  userId: string;
  claimsAdmin: boolean;
}

/**
 * What design §10 says a board client gets, worked out independently of the
 * feed: every event appended from `fromIndex` on, in merged order, judged by
 * who sees what at that point.
 */
const expectedFor = (world: World, viewer: Viewer, fromIndex: number) => {
  const projects = new Map<string, { visibility: Visibility; members: Set<string> }>([
    [GENERAL_PROJECT_ID, { visibility: 'open', members: new Set() }],
  ]);
  const roles = new Map<string, Role>();
  const sees = (projectId: string) => {
    if (viewer.claimsAdmin && roles.get(viewer.userId) === 'admin') return true;
    const project = projects.get(projectId);
    return !!project && (project.visibility === 'open' || project.members.has(viewer.userId));
  };
  const visibleNow = () => new Set([...projects.keys()].filter(sees));
  let initiallyVisible = visibleNow();
  const events: string[] = [];
  const notices: string[] = [];
  const assigned: string[] = [];
  for (const item of mergedOrder(world.appended)) {
    const live = item.index >= fromIndex;
    if (item.index === fromIndex) initiallyVisible = visibleNow();
    const before = visibleNow();
    const data = item.data as Record<string, string>;
    if (item.log === 'p') {
      const project = projects.get(item.agg);
      if (item.type === 'ProjectCreated') {
        projects.set(item.agg, {
          visibility: data.visibility as Visibility,
          members: new Set(data.ownerId === 'system' ? [] : [data.ownerId!]),
        });
      } else if (item.type === 'ProjectVisibilityChanged')
        project!.visibility = data.to as Visibility;
      else if (item.type === 'MemberAdded') project!.members.add(data.userId!);
      else if (item.type === 'MemberRemoved') project!.members.delete(data.userId!);
    } else if (item.log === 'id') {
      roles.set(item.agg, (item.type === 'UserRegistered' ? data.role : data.to) as Role);
    }
    const after = visibleNow();
    if (!live) continue;
    for (const projectId of [...after].filter((id) => !before.has(id)).sort()) {
      notices.push(`project-joined ${projectId} ${item.position}`);
    }
    for (const projectId of [...before].filter((id) => !after.has(id)).sort()) {
      notices.push(`project-left ${projectId} ${item.position}`);
    }
    const shown =
      item.log === 'id' || (item.log === 'p' ? sees(item.agg) : item.projects.some(sees));
    if (shown) events.push(item.position);
    const assignee =
      item.type === 'TaskAssigned' || item.type === 'TaskCreated' ? data.assigneeId : null;
    if (assignee === viewer.userId && sees(item.projects.at(-1)!)) assigned.push(item.position);
  }
  if (fromIndex >= world.appended.length) initiallyVisible = visibleNow();
  return { events, notices, assigned, initiallyVisible };
};

/** Everything one client was sent, in order, across reconnections. */
interface Received {
  kind: 'event' | 'project-joined' | 'project-left' | 'assigned';
  position: string;
  projectId?: string;
  aggregateId?: string;
  type?: string;
  revision?: number;
}

interface Client extends Viewer {
  name: string;
  token: string;
  socket?: Socket;
  received: Received[];
  /** The last position per log it holds: what it sends as `since` when it comes back. */
  latest: Map<string, string>;
  state: { live?: boolean; resync?: string };
}

const person = (name: string, role: Role = 'member'): Client => {
  const userId = newId();
  return {
    name,
    userId,
    claimsAdmin: role === 'admin',
    token: tokens.sign({ userId, role }).token,
    received: [],
    latest: new Map(),
    state: {},
  };
};

/** Connects (again, with `since` when it has positions) and waits for `live`. */
const connect = async (
  client: Client,
  url: string,
  options: { tasks?: string[]; since?: string } = {},
) => {
  const since = options.since ?? [...client.latest.values()].join(',');
  const socket = connectClient(url, {
    auth: {
      token: client.token,
      ...(client.latest.size || options.since !== undefined ? { since } : {}),
      ...(options.tasks ? { tasks: options.tasks } : {}),
    },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  client.socket = socket;
  client.state = {};
  const keep = (position: string) => {
    for (const part of position.split(',')) client.latest.set(part.split(':')[0]!, part);
  };
  socket.on(
    'event',
    (message: { position: string; type: string; aggregateId: string; revision: number }) => {
      client.received.push({ kind: 'event', ...message });
      keep(message.position);
    },
  );
  for (const kind of ['project-joined', 'project-left'] as const) {
    socket.on(kind, (notice: { projectId: string; position: string }) => {
      client.received.push({ kind, ...notice });
      keep(notice.position);
    });
  }
  socket.on('assigned', (notice: { taskId: string; position: string }) => {
    client.received.push({
      kind: 'assigned',
      position: notice.position,
      aggregateId: notice.taskId,
    });
  });
  socket.on('live', ({ position }: { position: string }) => {
    keep(position);
    client.state.live = true;
  });
  socket.on('resync', ({ reason }: { reason: string }) => {
    client.state.resync = reason;
  });
  stops.push(async () => {
    socket.disconnect();
  });
  await waitFor(() => client.state.live ?? client.state.resync, { message: `${client.name} live` });
  expect(client.state.resync).toBeUndefined();
  return client;
};

const disconnect = (client: Client) => {
  client.socket?.disconnect();
  client.socket = undefined;
};

/**
 * A task in General, which everyone sees, and every connected client has it:
 * both notifiers have dispatched everything appended before it.
 */
const barrier = async (world: World, clients: Client[]) => {
  const { agg } = await world.createTask(GENERAL_PROJECT_ID, clients[0]!.userId);
  for (const client of clients.filter((c) => c.socket)) {
    await waitFor(
      () =>
        client.received.some((r) => r.kind === 'event' && r.aggregateId === agg) ? true : undefined,
      { message: `${client.name} to get the barrier` },
    );
  }
};

const noticesOf = (client: Client) =>
  client.received
    .filter((r) => r.kind === 'project-joined' || r.kind === 'project-left')
    .map((r) => `${r.kind} ${r.projectId} ${r.position}`);

/**
 * The client got exactly what the rule says, once, each task in revision
 * order, and no event of a project outside a project-joined … project-left
 * span of its own.
 */
const expectExactly = (world: World, client: Client, fromIndex: number) => {
  const expected = expectedFor(world, client, fromIndex);
  const events = client.received.filter((r) => r.kind === 'event').map((r) => r.position);
  expect(events.length, `${client.name}: each event once`).toBe(new Set(events).size);
  expect([...events].sort(), `${client.name}: the events of what it saw`).toEqual(
    [...expected.events].sort(),
  );
  // Notices of one entry (a role change) come in any order; entries in merged order.
  const grouped = (list: string[]) => {
    const byPosition: string[][] = [];
    for (const notice of list) {
      const last = byPosition.at(-1);
      if (last && last[0]!.split(' ')[2] === notice.split(' ')[2]) last.push(notice);
      else byPosition.push([notice]);
    }
    return byPosition.map((group) => group.sort());
  };
  expect(grouped(noticesOf(client)), `${client.name}: project-joined / left`).toEqual(
    grouped(expected.notices),
  );
  expect(
    client.received
      .filter((r) => r.kind === 'assigned')
      .map((r) => r.position)
      .sort(),
    `${client.name}: assigned notices`,
  ).toEqual([...expected.assigned].sort());

  const visible = new Set(expected.initiallyVisible);
  const revisions = new Map<string, number>();
  for (const record of client.received) {
    if (record.kind === 'project-joined') visible.add(record.projectId!);
    if (record.kind === 'project-left') visible.delete(record.projectId!);
    if (record.kind !== 'event') continue;
    const item = world.byPosition(record.position)!;
    const projects = item.log === 'p' ? [item.agg] : item.projects;
    if (projects.length) {
      expect(
        projects.some((id) => visible.has(id)),
        `${client.name} got ${item.type} ${record.position} outside its projects`,
      ).toBe(true);
    }
    if (item.log.startsWith('t')) {
      expect(record.revision, `${client.name}: ${item.agg} in revision order`).toBeGreaterThan(
        revisions.get(item.agg) ?? -1,
      );
      revisions.set(item.agg, record.revision!);
    }
  }
  return expected;
};

/** A small deterministic generator (mulberry32), so a failure replays the same script. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
};

describe('live feed per project (design §10)', () => {
  it('sends a member added project-joined and then the project; removed, project-left and nothing more', async () => {
    const keys = testKeys(2);
    const world = createWorld(keys);
    const notifier = await startNotifier(keys);
    const [owner, guest, outsider] = [person('owner'), person('guest'), person('outsider')];
    const clients = [owner, guest, outsider];
    for (const client of clients) await connect(client, notifier.url);
    const start = world.appended.length;

    const projectId = await world.createProject(owner.userId, 'private');
    const { agg: before } = await world.createTask(projectId, owner.userId);
    await barrier(world, clients);
    await world.addMember(projectId, guest.userId, 'editor');
    await waitFor(() => noticesOf(guest).find((n) => n.startsWith(`project-joined ${projectId}`)));
    const { agg: during } = await world.createTask(projectId, owner.userId, guest.userId);
    await world.comment(before, guest.userId);
    await barrier(world, clients);
    await world.removeMember(projectId, guest.userId);
    await waitFor(() => noticesOf(guest).find((n) => n.startsWith(`project-left ${projectId}`)));
    await world.comment(during, owner.userId);
    await world.assign(during, guest.userId, guest.userId, owner.userId);
    await world.renameProject(projectId, 'renamed');
    await barrier(world, clients);

    for (const client of clients) expectExactly(world, client, start);
    const types = (client: Client) =>
      client.received
        .filter((r) => r.kind !== 'event' || r.aggregateId !== GENERAL_PROJECT_ID)
        .filter(
          (r) =>
            r.projectId === projectId ||
            world.byPosition(r.position)?.projects.includes(projectId) ||
            world.byPosition(r.position)?.agg === projectId,
        )
        .map((r) => (r.kind === 'event' ? r.type : r.kind));
    expect(types(guest)).toEqual([
      'project-joined',
      'MemberAdded',
      'TaskCreated',
      'assigned',
      'CommentAdded',
      'project-left',
    ]);
    expect(types(owner)).toEqual([
      'project-joined',
      'ProjectCreated',
      'TaskCreated',
      'MemberAdded',
      'TaskCreated',
      'CommentAdded',
      'MemberRemoved',
      'CommentAdded',
      'TaskAssigned',
      'ProjectDetailsChanged',
    ]);
    expect(types(outsider)).toEqual([]);
  });

  it('gives 10 clients on two notifiers exactly the events of the projects they saw, through 1,000 events, membership changes and resumes with since', async () => {
    const keys = testKeys(2);
    const world = createWorld(keys);
    const next = random(20_261_206);
    const admin = person('admin', 'admin');
    const users = Array.from({ length: 9 }, (_, i) => person(`u${i + 1}`));
    const [u1, u2, u3, u4, u5, u6, u7, u8, u9] = users as [Client, ...Client[]] as Client[];
    const clients = [admin, ...users];
    const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;

    // Before the notifiers start: the admin's registration and a private project
    // with a task, so the feed must fold both logs from their start and find
    // that task's project in its stream.
    await world.register(admin.userId, 'admin');
    await world.register(u9!.userId, 'member');
    const p1 = await world.createProject(u1!.userId, 'private');
    await world.addMember(p1, u2!.userId, 'editor');
    await world.addMember(p1, u3!.userId, 'viewer');
    const tasks = [(await world.createTask(p1, u1!.userId)).agg];
    const projects = [GENERAL_PROJECT_ID, p1];
    const deleted = new Set<string>();
    const [one, two] = [await startNotifier(keys), await startNotifier(keys)];
    const urls = [one.url, two.url];
    for (const [i, client] of clients.entries()) await connect(client, urls[i % 2]!);
    const start = world.appended.length;

    let taskEvents = 0;
    const round = async (count: number) => {
      for (let i = 0; i < count; i++, taskEvents++) {
        const live = tasks.filter((id) => !deleted.has(id));
        const roll = next();
        const actor = pick(clients).userId;
        if (roll < 0.25 || live.length < 5) {
          const assignee = next() < 0.3 ? pick(clients).userId : null;
          tasks.push((await world.createTask(pick(projects), actor, assignee)).agg);
        } else if (roll < 0.45) {
          await world.changeStatus(pick(live), 'pending', 'in-progress', actor);
        } else if (roll < 0.6) {
          await world.assign(pick(live), next() < 0.8 ? pick(clients).userId : null, null, actor);
        } else if (roll < 0.8) {
          await world.comment(pick(live), actor);
        } else if (roll < 0.94) {
          const taskId = pick(live);
          const to = pick(projects.filter((id) => id !== world.projectOf.get(taskId)));
          await world.moveTask(taskId, to, actor);
        } else {
          const taskId = pick(live);
          await world.deleteTask(taskId, actor);
          deleted.add(taskId);
        }
      }
    };
    const settle = () => barrier(world, clients);

    await round(100);
    const p2 = await world.createProject(u4!.userId, 'private');
    projects.push(p2);
    await settle();
    await round(100);
    await world.addMember(p2, u5!.userId, 'editor');
    await settle();
    await round(100);
    const p3 = await world.createProject(u7!.userId, 'open');
    projects.push(p3);
    await settle();
    await round(100);
    await world.removeMember(p1, u2!.userId);
    await settle();
    await round(100);
    const p4 = await world.createProject(u6!.userId, 'private');
    projects.push(p4);
    await world.changeVisibility(p2, 'private', 'open');
    await settle();
    await round(100);

    // Away across a change of their own: u5 is added to p4, u3 removed from p1;
    // each comes back to the other notifier with since.
    disconnect(u5!);
    disconnect(u3!);
    await round(50);
    await world.addMember(p4, u5!.userId, 'viewer');
    await world.removeMember(p1, u3!.userId);
    await round(50);
    await connect(u5!, two.url);
    await connect(u3!, one.url);
    await settle();

    await world.changeVisibility(p3, 'open', 'private');
    await world.changeMemberRole(p1, u1!.userId, 'owner', 'editor');
    await world.addMember(p3, u8!.userId, 'viewer');
    await settle();
    await round(100);
    await world.removeMember(p3, u8!.userId);
    const p5 = await world.createProject(u9!.userId, 'open');
    projects.push(p5);
    await settle();
    await round(200);
    await settle();

    expect(taskEvents).toBe(1_000);
    for (const client of clients) expectExactly(world, client, start);
    // u5 got p4's project-joined by replay and p4's events after it only; u3 p1's up to its removal.
    expect(noticesOf(u5!).filter((n) => n.includes(p4))).toEqual([
      expect.stringMatching(new RegExp(`^project-joined ${p4} p:`)),
    ]);
    expect(noticesOf(u3!).filter((n) => n.includes(p1))).toEqual([
      expect.stringMatching(new RegExp(`^project-left ${p1} p:`)),
    ]);
    // The outsider of the private projects: nothing of them but moves out or in.
    const privateOnly = u9!.received.filter((r) => {
      const { projects: of } = world.byPosition(r.position)!;
      return r.kind === 'event' && of.length > 0 && of.every((id) => id === p1 || id === p4);
    });
    expect(privateOnly).toEqual([]);
  });

  it('never sends an outsider anything of a private project: not live, not to a task follower, not an assigned notice, not by replay, whatever its token claims', async () => {
    const keys = testKeys(2);
    const world = createWorld(keys);
    const owner = person('owner');
    const outsider = person('outsider');
    // Its token says admin, the identity log says member: a member.
    const claimsAdmin = person('claims admin', 'admin');
    // The identity log says admin, its token (from before the promotion) member: a member.
    const staleToken = person('stale token');
    await world.register(claimsAdmin.userId, 'member');
    await world.register(staleToken.userId, 'admin');
    const projectId = await world.createProject(owner.userId, 'private');
    const other = await world.createProject(owner.userId, 'private');
    const { agg: taskId } = await world.createTask(projectId, owner.userId, outsider.userId);
    const { agg: generalTask } = await world.createTask(GENERAL_PROJECT_ID, owner.userId);
    // Started after all that, so it is folded from the logs, and clients are live from here.
    const notifier = await startNotifier(keys);
    const follower: Client = {
      ...outsider,
      name: 'outsider following the task',
      received: [],
      latest: new Map(),
    };
    const boards = [owner, outsider, claimsAdmin, staleToken];
    for (const client of boards) await connect(client, notifier.url);
    await connect(follower, notifier.url, { tasks: [taskId, generalTask] });
    const start = world.appended.length;

    await world.comment(taskId, owner.userId);
    await world.assign(taskId, outsider.userId, outsider.userId, owner.userId);
    await world.changeStatus(taskId, 'pending', 'in-progress', owner.userId);
    await world.createTask(projectId, owner.userId, outsider.userId);
    await world.addMember(projectId, newId(), 'viewer');
    await world.renameProject(projectId, 'still secret');
    await world.moveTask(taskId, other, owner.userId);
    await world.comment(taskId, owner.userId);
    await world.comment(generalTask, owner.userId);
    await barrier(world, boards);
    await waitFor(() =>
      follower.received.some((r) => r.kind === 'event' && r.aggregateId === generalTask)
        ? true
        : undefined,
    );
    // And everything again, replayed from the start of every log.
    const replaying: Client = { ...outsider, name: 'outsider replaying', received: [] };
    replaying.latest = new Map();
    await connect(replaying, notifier.url, { since: '' });

    const secret = (r: Received) => {
      const item = world.byPosition(r.position)!;
      const of = item.log === 'p' ? [item.agg] : item.projects;
      return (
        r.projectId === projectId ||
        r.projectId === other ||
        (of.length > 0 && of.every((id) => id === projectId || id === other))
      );
    };
    for (const client of [outsider, follower, claimsAdmin, staleToken, replaying]) {
      expect(client.received.filter(secret), client.name).toEqual([]);
    }
    expect(follower.received.map((r) => r.aggregateId)).toEqual([generalTask]);
    expect(replaying.received.filter((r) => r.kind === 'event').length).toBeGreaterThan(0);
    for (const client of boards) expectExactly(world, client, start);
    expectExactly(world, replaying, 0);
    expect(owner.received.filter(secret)).toHaveLength(8);
  });

  it('sends project-left when a project turns private or an admin is demoted, then nothing of it; project-joined when it opens or the role comes back', async () => {
    const keys = testKeys(2);
    const world = createWorld(keys);
    const admin = person('admin', 'admin');
    const owner = person('owner');
    const passerby = person('passer-by');
    await world.register(admin.userId, 'admin');
    const notifier = await startNotifier(keys);
    const clients = [admin, owner, passerby];
    for (const client of clients) await connect(client, notifier.url);
    const start = world.appended.length;

    const open = await world.createProject(owner.userId, 'open');
    const closed = await world.createProject(owner.userId, 'private');
    const { agg: inOpen } = await world.createTask(open, owner.userId);
    const { agg: inClosed } = await world.createTask(closed, owner.userId);
    await barrier(world, clients);
    await world.changeVisibility(open, 'open', 'private');
    await world.comment(inOpen, owner.userId);
    await world.comment(inClosed, owner.userId);
    await barrier(world, clients);
    await world.changeSiteRole(admin.userId, 'admin', 'member');
    await world.comment(inOpen, owner.userId);
    await world.comment(inClosed, owner.userId);
    await barrier(world, clients);
    await world.changeVisibility(open, 'private', 'open');
    await world.changeSiteRole(admin.userId, 'member', 'admin');
    await world.comment(inOpen, owner.userId);
    await world.comment(inClosed, owner.userId);
    await barrier(world, clients);

    for (const client of clients) expectExactly(world, client, start);
    const kinds = (client: Client) =>
      noticesOf(client).map((notice) => {
        const [kind, projectId] = notice.split(' ');
        return `${kind} ${projectId === open ? 'open' : 'closed'}`;
      });
    expect(kinds(passerby)).toEqual([
      'project-joined open',
      'project-left open',
      'project-joined open',
    ]);
    expect(kinds(admin)).toEqual([
      'project-joined open',
      'project-joined closed',
      // The demotion: the projects in the order they were created.
      'project-left open',
      'project-left closed',
      'project-joined open',
      'project-joined closed',
    ]);
    expect(kinds(owner)).toEqual(['project-joined open', 'project-joined closed']);
  });

  it('finds the project of a task it never saw created in the task’s stream, follows moves, and replays each event by the project of its moment', async () => {
    const keys = testKeys(2);
    const world = createWorld(keys);
    const [x, y, z] = [person('x'), person('y'), person('z')];
    const p = await world.createProject(x.userId, 'private');
    const q = await world.createProject(y.userId, 'private');
    // Created before the notifier: their creations are not in its memory.
    const { agg: a } = await world.createTask(p, x.userId);
    const { agg: b } = await world.createTask(p, x.userId);
    // Holding one task's project at a time: most events need their task's stream.
    const notifier = await startForgetfulNotifier(keys, 1);
    const clients = [x, y, z];
    for (const client of clients) await connect(client, notifier.url);
    const start = world.appended.length;

    await world.comment(a, x.userId);
    await world.comment(b, x.userId);
    await world.comment(a, x.userId);
    await world.moveTask(a, q, x.userId);
    await world.comment(a, y.userId);
    await world.comment(b, x.userId);
    const { agg: c } = await world.createTask(q, y.userId);
    await world.comment(b, x.userId);
    await world.moveTask(c, p, y.userId);
    await world.comment(c, x.userId);
    await world.comment(a, y.userId);
    await barrier(world, clients);

    for (const client of clients) expectExactly(world, client, start);
    const of = (client: Client, taskId: string) =>
      client.received
        .filter((r) => r.aggregateId === taskId && r.kind === 'event')
        .map((r) => r.type);
    expect(of(y, a)).toEqual(['TaskMoved', 'CommentAdded', 'CommentAdded']);
    expect(of(x, a)).toEqual(['CommentAdded', 'CommentAdded', 'TaskMoved']);
    expect(of(y, c)).toEqual(['TaskCreated', 'TaskMoved']);
    expect(of(x, c)).toEqual(['TaskMoved', 'CommentAdded']);
    expect(of(z, a)).toEqual([]);
    const reads = /^tasksync_notifier_task_project_reads_total\{[^}]*\} (\d+)$/m.exec(
      await notifier.metrics(),
    );
    expect(Number(reads?.[1])).toBeGreaterThanOrEqual(4);

    // The same, replayed from the start of every log to a client of y.
    const again: Client = { ...y, name: 'y replaying', received: [], latest: new Map() };
    await connect(again, notifier.url, { since: '' });
    expectExactly(world, again, 0);
    expect(of(again, a)).toEqual(['TaskMoved', 'CommentAdded', 'CommentAdded']);
  });
});
