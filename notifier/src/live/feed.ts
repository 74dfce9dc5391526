import {
  compareEntryIds,
  formatPosition,
  isProjectEvent,
  isTaskEvent,
  type KeyLayout,
  type Position,
  PositionList,
  type StoredEvent,
} from '@tasksync/contracts';
import {
  decodeEntries,
  InvalidTokenError,
  type LogEntry,
  type Logger,
  type LogReader,
  mergedLogOrder,
  type RedisClient,
  readLastEntryId,
  type ServiceMetrics,
  startLogTail,
  type TokenService,
} from '@tasksync/platform';
import { Gauge, Histogram } from 'prom-client';
import type { Server, Socket } from 'socket.io';
import { z } from 'zod';
import {
  type AccessState,
  changesAccess,
  createAccessHistory,
  createAccessState,
  type Viewer,
} from './access';
import { appendedAtMs, assignedNotice, type MembershipNotice, toMessage } from './messages';
import {
  createTaskProjects,
  followTaskEvent,
  type ProjectHistory,
  projectsOfTaskEvent,
} from './task-projects';

/** Every board socket (a client of every project it sees, not of chosen tasks). */
const BOARD = 'board';
/** Board sockets of site admins: they see every project. */
const ADMINS = 'admins';
const membersRoom = (projectId: string) => `members:${projectId}`;
const taskRoom = (taskId: string) => `task:${taskId}`;
const userRoom = (userId: string) => `user:${userId}`;

/** Entries read per XRANGE while a client catches up, and while the feed starts. */
const REPLAY_BATCH = 500;

/**
 * The handshake's `auth` (design §7): the token, where the client is (`since`),
 * and optionally the tasks it follows instead of the whole board.
 */
const Handshake = z.object({
  token: z.string().min(1).max(8_192),
  since: PositionList.optional(),
  tasks: z.array(z.uuid()).min(1).max(100).optional(),
});

interface Follower extends Viewer {
  /** Every project it sees, and public profiles; otherwise only `tasks`. */
  board: boolean;
  tasks: Set<string>;
  since: Position[] | undefined;
}

/** An entry as dispatched: for a task event, the project(s) it concerns. */
interface Dispatched {
  log: string;
  entry: LogEntry;
  projects: readonly string[];
}

interface Joining {
  socket: Socket;
  follower: Follower;
  /** Per log, the last entry id this client has been sent (or had no need of). */
  cursors: Map<string, string>;
  /** The feed's positions when the client came: replayed up to them, dispatched after. */
  replayTo: Map<string, string>;
  /** What the client sees, as of what it has been sent. */
  view: AccessState;
  /** Dispatched since the client came, to send it after its replay. */
  backlog: Dispatched[];
}

/** A refused handshake: the client's `connect_error` carries the message and `data`. */
const refusal = (status: 400 | 401, detail: string) =>
  Object.assign(new Error(status === 401 ? 'unauthorized' : 'bad-handshake'), {
    data: { status, detail },
  });

const followerOf = (socket: Socket) => (socket.data as { follower: Follower }).follower;

/** Whether someone sees a project there is: its events, its `project-joined`. */
const seesProject = (access: AccessState, viewer: Viewer, projectId: string) =>
  access.exists(projectId) && access.sees(viewer, projectId);

/** Whether a task event reaches someone: one of its projects is seen (or, of none known, admins). */
const seesAny = (access: AccessState, viewer: Viewer, projects: readonly string[]) =>
  projects.length === 0
    ? access.isAdmin(viewer)
    : projects.some((projectId) => access.sees(viewer, projectId));

export interface LiveFeedOptions {
  io: Server;
  redis: RedisClient;
  keys: KeyLayout;
  tokens: TokenService;
  logger: Logger;
  metrics: ServiceMetrics;
  /** Past this many missed events a client is told to `resync` instead. */
  maxReplay: number;
  /** The logs from any position: archived entries first, then Redis (design §11). */
  logReader: LogReader;
  /** Tasks whose project the feed keeps in memory (the rest are read by their index). */
  taskCacheSize?: number;
}

/**
 * Every client gets the events of exactly the projects it sees at the moment
 * of each event, once, per log in order (design §7, §10).
 *
 * Who sees what is folded from the project and identity logs, read from their
 * start when the feed starts and then followed by the tail, which hands every
 * log's entries on in one order by entry-id time (`mergedLogOrder`: within a
 * millisecond, project and identity entries first). A task event is thus
 * judged by the memberships and roles as of its append, the same on every
 * notifier and in a replay. Live events reach clients through Socket.IO
 * rooms, encoded once per event: `board` for open projects, `admins`, and
 * `members:<project>` for a private project's members.
 *
 * A project event goes to those who see the project after it: whoever starts
 * seeing it (creation, MemberAdded, a turn to open, a role gained) first gets
 * `project-joined`; whoever stops (MemberRemoved, a turn to private, a role
 * lost) gets `project-left` instead of the event, and nothing of the project
 * after it. A follower of single tasks gets their events while it sees the
 * task's project, without notices.
 *
 * A connecting client first replays what it missed from the logs, merged in
 * that same order, with its own view of who sees what evolving as the replay
 * passes the project and identity entries. What the feed dispatches
 * meanwhile waits in the client's backlog; the client takes it and joins its
 * rooms in one synchronous step, so there is neither a gap nor a duplicate at
 * the seam.
 */
export const startLiveFeed = async (options: LiveFeedOptions) => {
  const { io, redis, keys, tokens, logger, metrics, maxReplay } = options;
  const { registry } = metrics;
  new Gauge({
    name: 'tasksync_notifier_connections',
    help: 'Socket.IO clients connected to this notifier',
    registers: [registry],
    collect() {
      this.set(io.engine.clientsCount);
    },
  });
  const dispatched = metrics.counter(
    'tasksync_notifier_events_total',
    'Events dispatched live to this notifier’s clients',
    ['log'],
  );
  const replayed = metrics.counter(
    'tasksync_notifier_replayed_events_total',
    'Events replayed to reconnecting clients from the logs',
  );
  const resyncs = metrics.counter(
    'tasksync_notifier_resyncs_total',
    'Clients told to refetch because their position could not be served',
    ['reason'],
  );
  const undecodable = metrics.counter(
    'tasksync_notifier_undecodable_events_total',
    'Log entries no client was sent because they did not decode',
    ['log'],
  );
  const taskReads = metrics.counter(
    'tasksync_notifier_task_project_reads_total',
    'Task streams read for a task’s project the feed did not hold',
  );
  const lag = new Histogram({
    name: 'tasksync_notifier_delivery_lag_seconds',
    help: 'From the append in Redis to the live dispatch by this notifier',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  });

  const logName = (key: string) => keys.logs().find((log) => log.key === key)!.name;
  const projectLog = logName(keys.projectLog);
  const identityLog = logName(keys.identityLog);
  const stateLogs = [projectLog, identityLog];
  const order = mergedLogOrder(stateLogs);

  /** Who sees what as of the entries dispatched so far. */
  const directory = createAccessState();
  /** The same changes kept in order, for the view of a client resuming from further back. */
  const history = createAccessHistory();
  const taskProjects = createTaskProjects({
    redis,
    keys,
    archive: options.logReader,
    capacity: options.taskCacheSize ?? 100_000,
  });
  /** Live board sockets by user: those a membership or role change joins to rooms or removes. */
  const boardSockets = new Map<string, Set<Socket>>();
  /** Clients replaying what they missed; they are in no room yet. */
  const joining = new Set<Joining>();

  const followAccess = (event: StoredEvent) => {
    if (!changesAccess(event)) return;
    directory.apply(event);
    history.record(event);
  };

  // Who sees what now: the project and identity logs from their start, up to
  // where the tail begins following them.
  const from: Record<string, string> = {};
  for (const log of stateLogs) {
    const key = keys.logKeyByName(log)!;
    const head = (await readLastEntryId(redis, key)) ?? '0-0';
    let after = '0-0';
    while (compareEntryIds(after, head) < 0) {
      const page = await options.logReader.readLogRange(key, after, REPLAY_BATCH, head);
      if (page.length === 0) break;
      for (const entry of decodeEntries(page)) {
        if ('event' in entry) followAccess(entry.event);
        else logger.error({ log, entryId: entry.entryId, error: entry.error }, 'entry not folded');
      }
      after = page[page.length - 1]![0];
    }
    from[log] = head;
  }

  /** The histories of a task log batch's tasks: held ones, and those read for events of unknown tasks. */
  const prepare = async (log: string, entries: LogEntry[]) => {
    const histories = new Map<string, ProjectHistory>();
    if (stateLogs.includes(log)) return histories;
    const unknown = new Set<string>();
    for (const entry of entries) {
      if (!('event' in entry) || !isTaskEvent(entry.event)) continue;
      const taskId = entry.event.agg;
      if (histories.has(taskId) || unknown.has(taskId)) continue;
      const held = taskProjects.get(taskId);
      if (held) histories.set(taskId, held);
      // A creation starts the history; anything else needs it from the stream.
      else if (entry.event.type !== 'TaskCreated') unknown.add(taskId);
    }
    await Promise.all(
      [...unknown].map(async (taskId) => {
        histories.set(taskId, (await taskProjects.read(taskId)).history);
        taskReads.inc();
      }),
    );
    return histories;
  };

  const membership = (projectId: string, position: string): MembershipNotice => ({
    projectId,
    position,
  });
  const audience = (projectId: string) =>
    directory.isOpen(projectId) ? [BOARD] : [ADMINS, membersRoom(projectId)];

  const dispatchTaskEvent = (log: string, event: StoredEvent, projects: readonly string[]) => {
    const rooms = new Set<string>(projects.length ? projects.flatMap(audience) : [ADMINS]);
    // Followers of single tasks are in no project room: each is checked.
    for (const socketId of io.sockets.adapter.rooms.get(taskRoom(event.agg)) ?? []) {
      const socket = io.sockets.sockets.get(socketId);
      if (socket && seesAny(directory, followerOf(socket), projects)) rooms.add(socketId);
    }
    // One encoding for every socket in these rooms; a socket in several gets it once.
    io.to([...rooms]).emit('event', toMessage(log, event));
    const notice = assignedNotice(log, event);
    if (!notice) return;
    const assignees = [...(io.sockets.adapter.rooms.get(userRoom(notice.assigneeId)) ?? [])].filter(
      (socketId) => {
        const socket = io.sockets.sockets.get(socketId);
        return socket && seesAny(directory, followerOf(socket), projects.slice(-1));
      },
    );
    if (assignees.length) io.to(assignees).emit('assigned', notice);
  };

  const dispatchProjectEvent = (log: string, event: StoredEvent) => {
    const projectId = event.agg;
    const position = formatPosition(log, event.entryId);
    const existed = directory.exists(projectId);
    const wasOpen = directory.isOpen(projectId);
    const data = event.data as { userId?: string; ownerId?: string };
    const affectedUser = data.userId ?? data.ownerId;
    const affected = [...((affectedUser && boardSockets.get(affectedUser)) || [])];
    const sawIt = affected.map((socket) => seesProject(directory, followerOf(socket), projectId));
    followAccess(event);
    for (const socket of affected) {
      if (directory.isMember(affectedUser!, projectId)) socket.join(membersRoom(projectId));
      else socket.leave(membersRoom(projectId));
    }
    const notice = membership(projectId, position);
    // An event of a project never created (none should be) reaches no one.
    if (!directory.exists(projectId)) return;
    if (!existed) {
      // A new project: whoever sees it now saw nothing of it before.
      io.to(audience(projectId)).emit('project-joined', notice);
    } else {
      const isOpen = directory.isOpen(projectId);
      if (isOpen !== wasOpen) {
        io.to(BOARD)
          .except([ADMINS, membersRoom(projectId)])
          .emit(isOpen ? 'project-joined' : 'project-left', notice);
      }
      affected.forEach((socket, i) => {
        const seesIt = seesProject(directory, followerOf(socket), projectId);
        if (seesIt !== sawIt[i]) socket.emit(seesIt ? 'project-joined' : 'project-left', notice);
      });
    }
    // A removed member got `project-left` instead: no event of the project after it.
    io.to(audience(projectId)).emit('event', toMessage(log, event));
  };

  const dispatchUserEvent = (log: string, event: StoredEvent) => {
    const sockets = [...(boardSockets.get(event.agg) ?? [])];
    const wasAdmin = sockets.map((socket) => directory.isAdmin(followerOf(socket)));
    followAccess(event);
    sockets.forEach((socket, i) => {
      const admin = directory.isAdmin(followerOf(socket));
      if (admin === wasAdmin[i]) return;
      if (admin) socket.join(ADMINS);
      else socket.leave(ADMINS);
      // Open projects and its own stay; every other one comes or goes with the role.
      for (const projectId of directory.projectIds()) {
        if (directory.isOpen(projectId) || directory.isMember(event.agg, projectId)) continue;
        const notice = membership(projectId, formatPosition(log, event.entryId));
        socket.emit(admin ? 'project-joined' : 'project-left', notice);
      }
    });
    io.to(BOARD).emit('event', toMessage(log, event));
  };

  const dispatch = (log: string, entries: LogEntry[], histories: Map<string, ProjectHistory>) => {
    const now = Date.now();
    for (const entry of entries) {
      let projects: readonly string[] = [];
      if ('error' in entry) {
        undecodable.inc({ log });
        logger.error({ log, entryId: entry.entryId, error: entry.error }, 'event not delivered');
      } else {
        const { event } = entry;
        if (isTaskEvent(event)) {
          const history = followTaskEvent(event, histories.get(event.agg));
          if (history) {
            histories.set(event.agg, history);
            taskProjects.put(event.agg, history);
          }
          projects = projectsOfTaskEvent(event, history);
          dispatchTaskEvent(log, event, projects);
        } else if (isProjectEvent(event)) {
          dispatchProjectEvent(log, event);
        } else {
          dispatchUserEvent(log, event);
        }
        lag.observe(Math.max(0, now - appendedAtMs(entry.entryId)) / 1000);
      }
      for (const client of joining) client.backlog.push({ log, entry, projects });
    }
    dispatched.inc({ log }, entries.length);
  };

  const tail = await startLogTail({
    redis,
    keys,
    logger,
    stateLogs,
    from,
    prepare,
    onEntries: dispatch,
  });

  /**
   * Sends one entry to one catching-up client as the live rooms would have:
   * the same rules, against the client's own view. An entry the client
   * already has (it is ahead in that log) changes the view without a word.
   */
  const deliver = (client: Joining, { log, entry, projects }: Dispatched) => {
    const { socket, follower, view, cursors } = client;
    const known = compareEntryIds(entry.entryId, cursors.get(log)!) <= 0;
    if (!known) cursors.set(log, entry.entryId);
    if ('error' in entry) return;
    const { event } = entry;
    const send = (name: string, payload: unknown) => {
      if (!known) socket.emit(name, payload);
    };
    const position = formatPosition(log, event.entryId);
    if (isProjectEvent(event)) {
      const projectId = event.agg;
      const sawIt = seesProject(view, follower, projectId);
      view.apply(event);
      const seesIt = seesProject(view, follower, projectId);
      if (!follower.board) return;
      if (seesIt !== sawIt) {
        send(seesIt ? 'project-joined' : 'project-left', membership(projectId, position));
      }
      if (seesIt) send('event', toMessage(log, event));
      return;
    }
    if (isTaskEvent(event)) {
      const seesIt = seesAny(view, follower, projects);
      if (seesIt && (follower.board || follower.tasks.has(event.agg))) {
        send('event', toMessage(log, event));
      }
      const notice = assignedNotice(log, event);
      if (notice?.assigneeId === follower.userId && seesAny(view, follower, projects.slice(-1))) {
        send('assigned', notice);
      }
      return;
    }
    const wasAdmin = view.isAdmin(follower);
    view.apply(event);
    if (!follower.board) return;
    if (view.isAdmin(follower) !== wasAdmin) {
      for (const projectId of view.projectIds()) {
        if (view.isOpen(projectId) || view.isMember(follower.userId, projectId)) continue;
        send(wasAdmin ? 'project-left' : 'project-joined', membership(projectId, position));
      }
    }
    send('event', toMessage(log, event));
  };

  const goLive = (client: Joining) => {
    const { socket, follower } = client;
    const rooms = [userRoom(follower.userId)];
    if (follower.board) {
      rooms.push(BOARD);
      if (directory.isAdmin(follower)) rooms.push(ADMINS);
      for (const projectId of directory.membershipsOf(follower.userId)) {
        rooms.push(membersRoom(projectId));
      }
      const sockets = boardSockets.get(follower.userId) ?? new Set();
      boardSockets.set(follower.userId, sockets.add(socket));
    }
    for (const taskId of follower.tasks) rooms.push(taskRoom(taskId));
    // The in-memory adapter joins synchronously: no dispatch can slip in between.
    socket.join(rooms);
    client.backlog = [];
    joining.delete(client);
  };

  const resync = (client: Joining, reason: string) => {
    resyncs.inc({ reason });
    goLive(client);
    client.socket.emit('resync', { reason, position: tail.positions() });
  };

  /** The tasks of a replayed page whose project is not known yet: held by the feed, or read. */
  const resolveTasks = async (entries: LogEntry[], histories: Map<string, ProjectHistory>) => {
    const unknown = new Set<string>();
    const creating = new Set<string>();
    for (const entry of entries) {
      if (!('event' in entry) || !isTaskEvent(entry.event)) continue;
      const taskId = entry.event.agg;
      if (histories.has(taskId) || creating.has(taskId)) continue;
      // The feed's history of a task has every change up to its position, past this entry.
      const held = taskProjects.get(taskId);
      if (held) histories.set(taskId, held);
      else if (entry.event.type === 'TaskCreated') creating.add(taskId);
      else unknown.add(taskId);
    }
    await Promise.all(
      [...unknown].map(async (taskId) => {
        const { history, readTo } = await taskProjects.read(taskId);
        taskReads.inc();
        histories.set(taskId, history);
        // Kept for the live feed only if no move of the task can have been dispatched after the read.
        const position = tail.position(logName(keys.taskLog(keys.partitionOf(taskId))));
        if (position && compareEntryIds(position, readTo) <= 0 && !taskProjects.get(taskId)) {
          taskProjects.put(taskId, history);
        }
      }),
    );
  };

  /**
   * Replays every log from the client's cursors up to where the feed was when
   * it came, merged in the tail's order. Resolves false when the client is
   * gone or too far behind.
   */
  const replay = async (client: Joining): Promise<'done' | 'gone' | 'too-far-behind'> => {
    const { socket, cursors, replayTo } = client;
    const histories = new Map<string, ProjectHistory>();
    const pages = [...replayTo]
      .filter(([log, to]) => compareEntryIds(cursors.get(log)!, to) < 0)
      .map(([log, to]) => ({
        log,
        to,
        after: cursors.get(log)!,
        entries: [] as LogEntry[],
        next: 0,
      }));
    let count = 0;
    for (;;) {
      const drained = pages.filter(
        (page) => page.next === page.entries.length && compareEntryIds(page.after, page.to) < 0,
      );
      if (drained.length) {
        await Promise.all(
          drained.map(async (page) => {
            const raw = await options.logReader.readLogRange(
              keys.logKeyByName(page.log)!,
              page.after,
              REPLAY_BATCH,
              page.to,
            );
            count += raw.length;
            replayed.inc(raw.length);
            page.entries = decodeEntries(raw);
            page.next = 0;
            // An empty read past `after` means nothing is left up to `to`.
            page.after = raw.length ? raw[raw.length - 1]![0] : page.to;
            await resolveTasks(page.entries, histories);
          }),
        );
        if (socket.disconnected) return 'gone';
        if (count + client.backlog.length > maxReplay) return 'too-far-behind';
        continue;
      }
      let first: (typeof pages)[number] | undefined;
      for (const page of pages) {
        const entry = page.entries[page.next];
        if (!entry) continue;
        const head = first?.entries[first.next];
        if (!head || order({ log: page.log, ...entry }, { log: first!.log, ...head }) < 0) {
          first = page;
        }
      }
      if (!first) return 'done';
      const entry = first.entries[first.next++]!;
      let projects: readonly string[] = [];
      if ('event' in entry && isTaskEvent(entry.event)) {
        const history = followTaskEvent(entry.event, histories.get(entry.event.agg));
        if (history) histories.set(entry.event.agg, history);
        projects = projectsOfTaskEvent(entry.event, history);
      }
      deliver(client, { log: first.log, entry, projects });
    }
  };

  /** Replays what the client missed, then sends the backlog and joins the live rooms. */
  const catchUp = async (client: Joining) => {
    const { socket, cursors, replayTo } = client;
    for (const [log, cursor] of cursors) {
      if (compareEntryIds(cursor, replayTo.get(log)!) <= 0) continue;
      // Ahead of the feed: either it is about to read that far (another
      // notifier was quicker), or the position was never in this log.
      const last = await readLastEntryId(redis, keys.logKeyByName(log)!);
      if (!last || compareEntryIds(cursor, last) > 0) return resync(client, 'unknown-position');
    }
    const outcome = await replay(client);
    if (outcome === 'gone') return;
    if (outcome === 'too-far-behind') return resync(client, outcome);
    // What the client is ahead in comes through the backlog: wait until the feed is past it.
    while ([...cursors].some(([log, cursor]) => compareEntryIds(cursor, tail.position(log)!) > 0)) {
      if (socket.disconnected) return;
      if (client.backlog.length > maxReplay) return resync(client, 'too-far-behind');
      await tail.nextBatch(100);
    }
    if (socket.disconnected) return;
    for (const item of client.backlog) deliver(client, item);
    goLive(client);
    socket.emit('live', { position: tail.positions() });
  };

  io.use((socket, next) => {
    const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
    if (typeof auth.token !== 'string' || auth.token === '') {
      return next(refusal(401, 'Send a token: io(url, { auth: { token } }).'));
    }
    const handshake = Handshake.safeParse(auth);
    if (!handshake.success) {
      const issue = handshake.error.issues[0]!;
      return next(refusal(400, `${issue.path.join('.')}: ${issue.message}`));
    }
    try {
      const { auth: identity, expiresAtMs } = tokens.verifyWithExpiry(handshake.data.token);
      const { tasks, since } = handshake.data;
      socket.data = {
        follower: {
          userId: identity.userId,
          claimsAdmin: identity.role === 'admin',
          board: !tasks,
          tasks: new Set(tasks),
          since,
        } satisfies Follower,
        expiresAtMs,
      };
      next();
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) return next(error as Error);
      next(refusal(401, error.message));
    }
  });

  io.on('connection', (socket) => {
    const { follower, expiresAtMs } = socket.data as { follower: Follower; expiresAtMs: number };
    // The token's authority ends at its expiry; the client logs in again and resumes.
    const expiry = setTimeout(
      () => {
        socket.emit('expired', { detail: 'The token has expired.' });
        socket.disconnect(true);
      },
      Math.min(Math.max(expiresAtMs - Date.now(), 0), 2 ** 31 - 1),
    );
    socket.once('disconnect', () => {
      clearTimeout(expiry);
      const sockets = boardSockets.get(follower.userId);
      sockets?.delete(socket);
      if (sockets?.size === 0) boardSockets.delete(follower.userId);
    });
    const replayTo = new Map(tail.logs().map((log) => [log, tail.position(log)!]));
    const cursors = new Map(replayTo);
    // `since` lists what the client has seen: a log it does not name, it has
    // seen nothing of, so that log replays from its start.
    if (follower.since) for (const log of cursors.keys()) cursors.set(log, '0-0');
    let unknownLog = false;
    for (const { log, entryId } of follower.since ?? []) {
      if (cursors.has(log)) cursors.set(log, entryId);
      else unknownLog = true;
    }
    const upTo = (log: string) => {
      const [cursor, to] = [cursors.get(log)!, replayTo.get(log)!];
      return compareEntryIds(cursor, to) < 0 ? cursor : to;
    };
    // The client's view as of what it has seen: in the same step as the
    // positions above, so every later change reaches it through the backlog.
    const view = follower.since
      ? history.viewAt(follower.userId, {
          project: upTo(projectLog),
          identity: upTo(identityLog),
        })
      : directory.viewOf(follower.userId);
    const client: Joining = { socket, follower, cursors, replayTo, view, backlog: [] };
    joining.add(client);
    if (unknownLog) return resync(client, 'unknown-log');
    catchUp(client)
      .catch((error) => {
        logger.warn({ err: error }, 'cannot replay missed events; asking the client to resync');
        if (socket.connected && joining.has(client)) resync(client, 'replay-failed');
      })
      .finally(() => joining.delete(client));
  });

  return {
    /** Every log's position the feed has dispatched. */
    positions: () => tail.positions(),
    stop: () => tail.stop(),
  };
};
