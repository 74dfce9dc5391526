import {
  compareEntryIds,
  isTaskEvent,
  type KeyLayout,
  type Position,
  PositionList,
} from '@tasksync/contracts';
import {
  decodeEntries,
  InvalidTokenError,
  type LogEntry,
  type Logger,
  type RedisClient,
  readLastEntryId,
  readLog,
  type ServiceMetrics,
  startLogTail,
  type TokenService,
} from '@tasksync/platform';
import { Gauge, Histogram } from 'prom-client';
import type { Server, Socket } from 'socket.io';
import { z } from 'zod';
import { appendedAtMs, assignedNotice, toMessage } from './messages';

const BOARD = 'board';
const taskRoom = (taskId: string) => `task:${taskId}`;
const userRoom = (userId: string) => `user:${userId}`;

/** Entries read per XRANGE while a client catches up. */
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

interface Follower {
  userId: string;
  /** Every task event and public profiles; otherwise only `tasks`. */
  board: boolean;
  tasks: Set<string>;
  since: Position[] | undefined;
}

interface Joining {
  socket: Socket;
  follower: Follower;
  /** Per log, the last entry id this client has been sent (or had no need of). */
  cursors: Map<string, string>;
  synced: Set<string>;
}

/** A refused handshake: the client's `connect_error` carries the message and `data`. */
const refusal = (status: 400 | 401, detail: string) =>
  Object.assign(new Error(status === 401 ? 'unauthorized' : 'bad-handshake'), {
    data: { status, detail },
  });

export interface LiveFeedOptions {
  io: Server;
  redis: RedisClient;
  keys: KeyLayout;
  tokens: TokenService;
  logger: Logger;
  metrics: ServiceMetrics;
  /** Past this many missed events a client is told to `resync` instead. */
  maxReplay: number;
}

/**
 * Every client gets every event it follows exactly once, per log in order
 * (design §7). Live events reach clients through Socket.IO rooms, encoded once
 * per event. A connecting client first replays what it missed from the logs,
 * outside the rooms, up to exactly the tail's position, and joins its rooms in
 * the same synchronous step: the tail dispatches nothing in between, so there
 * is neither a gap nor a duplicate at the seam.
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
  const lag = new Histogram({
    name: 'tasksync_notifier_delivery_lag_seconds',
    help: 'From the append in Redis to the live dispatch by this notifier',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  });

  /**
   * Clients replaying what they missed. A log is `synced` for a client once its
   * cursor met the tail's position in a synchronous step; from then on the
   * tail's batches of that log go to the client directly, until every log is
   * synced and the client joins its rooms. A client never needs all logs quiet
   * at once, which under steady writes might never happen.
   */
  const joining = new Set<Joining>();

  const dispatch = (log: string, entries: LogEntry[]) => {
    const now = Date.now();
    for (const entry of entries) {
      if ('error' in entry) {
        undecodable.inc({ log });
        logger.error({ log, entryId: entry.entryId, error: entry.error }, 'event not delivered');
        continue;
      }
      const { event } = entry;
      const rooms = isTaskEvent(event) ? [BOARD, taskRoom(event.agg)] : [BOARD];
      // One encoding for every socket in these rooms; a socket in several gets it once.
      io.to(rooms).emit('event', toMessage(log, event));
      const notice = assignedNotice(log, event);
      if (notice) io.to(userRoom(notice.assigneeId)).emit('assigned', notice);
      lag.observe(Math.max(0, now - appendedAtMs(entry.entryId)) / 1000);
    }
    for (const client of joining) {
      if (!client.synced.has(log)) continue;
      for (const entry of entries) deliver(client, log, entry);
    }
    dispatched.inc({ log }, entries.length);
  };

  const tail = await startLogTail({ redis, keys, logger, onEntries: dispatch });

  /** Sends one entry to one client, as the live path would have. */
  const deliver = (client: Joining, log: string, entry: LogEntry) => {
    client.cursors.set(log, entry.entryId);
    if ('error' in entry) return;
    const { socket, follower } = client;
    const { event } = entry;
    const follows = isTaskEvent(event)
      ? follower.board || follower.tasks.has(event.agg)
      : follower.board;
    if (follows) socket.emit('event', toMessage(log, event));
    const notice = assignedNotice(log, event);
    if (notice?.assigneeId === follower.userId) socket.emit('assigned', notice);
  };

  const goLive = (client: Joining) => {
    const { socket, follower } = client;
    const rooms = [userRoom(follower.userId)];
    if (follower.board) rooms.push(BOARD);
    for (const taskId of follower.tasks) rooms.push(taskRoom(taskId));
    // The in-memory adapter joins synchronously: no dispatch can slip in between.
    socket.join(rooms);
    joining.delete(client);
  };

  const resync = (client: Joining, reason: string) => {
    resyncs.inc({ reason });
    goLive(client);
    client.socket.emit('resync', { reason, position: tail.positions() });
  };

  /** Replays what the client missed, then joins the live rooms. */
  const catchUp = async (client: Joining) => {
    const { socket, follower, cursors, synced } = client;
    // `since` lists what the client has seen: a log it does not name, it has
    // seen nothing of, so that log replays from its start.
    if (follower.since) for (const log of cursors.keys()) cursors.set(log, '0-0');
    for (const { log, entryId } of follower.since ?? []) {
      if (!cursors.has(log)) return resync(client, 'unknown-log');
      cursors.set(log, entryId);
    }
    let count = 0;
    while (synced.size < cursors.size) {
      for (const [log, cursor] of cursors) {
        if (synced.has(log)) continue;
        if (socket.disconnected) return;
        const head = tail.position(log)!;
        const order = compareEntryIds(cursor, head);
        if (order === 0) {
          synced.add(log);
          continue;
        }
        if (order > 0) {
          // Ahead of the tail: either the tail is about to read that far, or
          // the position was never in this log (another Redis, a lost write).
          const last = await readLastEntryId(redis, keys.logKeyByName(log)!);
          if (!last || compareEntryIds(cursor, last) > 0) {
            return resync(client, 'unknown-position');
          }
          await tail.nextBatch(100);
          continue;
        }
        const entries = await readLog(redis, keys.logKeyByName(log)!, cursor, REPLAY_BATCH, head);
        count += entries.length;
        if (count > maxReplay) return resync(client, 'too-far-behind');
        for (const entry of decodeEntries(entries)) deliver(client, log, entry);
        replayed.inc(entries.length);
      }
    }
    if (socket.disconnected) return;
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
    socket.once('disconnect', () => clearTimeout(expiry));
    const client: Joining = {
      socket,
      follower,
      cursors: new Map(tail.logs().map((log) => [log, tail.position(log)!])),
      synced: new Set(),
    };
    joining.add(client);
    catchUp(client)
      .catch((error) => {
        logger.warn({ err: error }, 'cannot replay missed events; asking the client to resync');
        if (socket.connected) resync(client, 'replay-failed');
      })
      .finally(() => joining.delete(client));
  });

  return {
    /** Every log's position the feed has dispatched. */
    positions: () => tail.positions(),
    stop: () => tail.stop(),
  };
};
