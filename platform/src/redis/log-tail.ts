import {
  compareEntryIds,
  decodeEvent,
  fieldsToRecord,
  formatPosition,
  type KeyLayout,
  type StoredEvent,
} from '@tasksync/contracts';
import type { Logger } from '../logger';
import { duplicateRedis, type RedisClient } from './client';
import { type RawEntry, readLastEntryId } from './readers';

/** An entry of a log as the tail hands it on: decoded, or why it could not be. */
export type LogEntry = { entryId: string; event: StoredEvent } | { entryId: string; error: string };

export interface LogTailOptions<Prepared = undefined> {
  redis: RedisClient;
  keys: KeyLayout;
  logger: Logger;
  /**
   * Logs whose entries decide how others are handled (the notifier's project
   * and identity logs: who may see what). Their entries and every other log's
   * are handed on in one order, by entry-id time (`mergedLogOrder`); logs not
   * named here are ordered only against these, not against each other.
   */
  stateLogs?: readonly string[];
  /** Where to start following a log (its last entry already handled); by default its last entry now. */
  from?: Readonly<Record<string, string>>;
  /**
   * Awaited before a batch is handed on (to look up what dispatching it needs);
   * nothing is handed on meanwhile, and what it returns goes to `onEntries`.
   */
  prepare?: (log: string, entries: LogEntry[]) => Promise<Prepared> | Prepared;
  /** Called in order, synchronously, for each batch of one log; `position(log)` already includes it. */
  onEntries: (log: string, entries: LogEntry[], prepared: Prepared) => void;
  batchSize?: number;
  blockMs?: number;
  /**
   * How long an entry waits at most for another log's clock to pass its time.
   * Only skewed clocks across cluster nodes come near it; past it, the order
   * between those logs is arrival order.
   */
  maxOrderWaitMs?: number;
}

/** `0-0` when the log is empty: every entry id is above it. */
const EMPTY = '0-0';

export const decodeEntries = (entries: RawEntry[]): LogEntry[] =>
  entries.map(([entryId, fields]) => {
    try {
      return { entryId, event: decodeEvent(entryId, fieldsToRecord(fields)) };
    } catch (error) {
      return { entryId, error: String(error) };
    }
  });

const timeOf = (entryId: string) => BigInt(entryId.slice(0, entryId.indexOf('-')));
const sequenceOf = (entryId: string) => BigInt(entryId.slice(entryId.indexOf('-') + 1));

/**
 * The order in which entries of several logs are handed on when `stateLogs`
 * are given: by the time part of the entry id, and within one millisecond the
 * state logs first (in the order named), then the others. Entries of two
 * logs that are not state logs are never compared by the tail; this order
 * only makes a merge of them deterministic.
 */
export const mergedLogOrder = (stateLogs: readonly string[]) => {
  const rank = (log: string) => {
    const index = stateLogs.indexOf(log);
    return index < 0 ? stateLogs.length : index;
  };
  return (a: { log: string; entryId: string }, b: { log: string; entryId: string }): number => {
    const [aTime, bTime] = [timeOf(a.entryId), timeOf(b.entryId)];
    if (aTime !== bTime) return aTime < bTime ? -1 : 1;
    const byRank = rank(a.log) - rank(b.log);
    if (byRank !== 0) return byRank;
    const [aSeq, bSeq] = [sequenceOf(a.entryId), sequenceOf(b.entryId)];
    if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
    return a.log < b.log ? -1 : a.log > b.log ? 1 : 0;
  };
};

/**
 * Reads a log past an entry together with its node's clock, atomically: once
 * the reply holds the log's end, every entry the log ever gets later has a
 * time at or after that clock reading, so every time before it is settled.
 */
const READ_WITH_TIME = `
local time = redis.call('TIME')
local entries = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', tonumber(ARGV[2]))
return {time[1], time[2], entries}
`;

interface Queued {
  entry: LogEntry;
  time: bigint;
  sequence: bigint;
}

interface FollowedLog {
  name: string;
  key: string;
  /** Place in the merged order within a millisecond: state logs first. */
  rank: number;
  /** The last entry read from Redis, buffered or handed on. */
  read: string;
  /** Every entry this log will ever have with a time up to here has been read. */
  settledTime: bigint;
  /** The last entry handed on. */
  position: string;
  /** Read, not yet handed on, in order. */
  buffer: Queued[];
}

/**
 * Follows every log from its end with XREAD BLOCK, one connection per log (the
 * logs live in different cluster slots), and hands each batch on in order.
 * `position(log)` is the last entry handed on: everything up to it has been
 * dispatched, nothing after it. A client catching up reads up to exactly that
 * point and then joins the live rooms within the same turn of the event loop,
 * which is what makes its delivery gapless and duplicate-free.
 *
 * With `stateLogs`, one sequencer hands entries on across logs in
 * `mergedLogOrder`: an entry waits until every log it is ordered against has
 * been read up to its time. A log with nothing buffered proves that by a read
 * with its node's clock (READ_WITH_TIME), so an entry appended in the current
 * millisecond waits for the next one. That makes the order the same on every
 * notifier and in a replay from the logs.
 *
 * No consumer group: every notifier instance needs every entry (a group would
 * split them), and where a client resumes is the client's own position, not
 * the notifier's, so a restarted notifier owes nothing to anyone.
 */
export const startLogTail = async <Prepared = undefined>(options: LogTailOptions<Prepared>) => {
  const { redis, keys, logger } = options;
  const stateLogs = options.stateLogs ?? [];
  const batchSize = options.batchSize ?? 500;
  const maxOrderWaitMs = options.maxOrderWaitMs ?? 2_000;
  let stopped = false;
  let waiters: (() => void)[] = [];
  let wakeSequencer: (() => void) | undefined;
  const connections: RedisClient[] = [];

  const logs: FollowedLog[] = [];
  for (const { name, key } of keys.logs()) {
    const start = options.from?.[name] ?? (await readLastEntryId(redis, key)) ?? EMPTY;
    const index = stateLogs.indexOf(name);
    logs.push({
      name,
      key,
      rank: index < 0 ? stateLogs.length : index,
      read: start,
      settledTime: timeOf(start) - 1n,
      position: start,
      buffer: [],
    });
  }
  const byName = new Map(logs.map((log) => [log.name, log]));
  const stateRanks = stateLogs.length;
  /** Two logs the sequencer orders against each other: any pair with a state log in it. */
  const ordered = (a: FollowedLog, b: FollowedLog) =>
    a !== b && (a.rank < stateRanks || b.rank < stateRanks);

  const before = (a: Queued, aLog: FollowedLog, b: Queued, bLog: FollowedLog) => {
    if (a.time !== b.time) return a.time < b.time;
    if (aLog.rank !== bLog.rank) return aLog.rank < bLog.rank;
    if (a.sequence !== b.sequence) return a.sequence < b.sequence;
    return aLog.name < bLog.name;
  };

  /** Whether `other` has read every entry that comes before `entry` of `log`. */
  const settledFor = (other: FollowedLog, log: FollowedLog, entry: Queued) =>
    other.settledTime >= (other.rank < log.rank ? entry.time : entry.time - 1n);

  const accept = (log: FollowedLog, raw: RawEntry[]) => {
    // Two readers feed a log (its XREAD and the sequencer's reads): keep what is new.
    let first = 0;
    while (first < raw.length && compareEntryIds(raw[first]![0], log.read) <= 0) first++;
    if (first === raw.length) return;
    for (const entry of decodeEntries(raw.slice(first))) {
      log.buffer.push({
        entry,
        time: timeOf(entry.entryId),
        sequence: sequenceOf(entry.entryId),
      });
    }
    log.read = raw[raw.length - 1]![0];
    const readTime = timeOf(log.read) - 1n;
    if (readTime > log.settledTime) log.settledTime = readTime;
    wakeSequencer?.();
  };

  /** Reads what `log` has past its read position, and how far its time is settled. */
  const readSettled = async (log: FollowedLog) => {
    const [seconds, micros, raw] = (await redis.eval(
      READ_WITH_TIME,
      1,
      log.key,
      `(${log.read}`,
      batchSize,
    )) as [string, string, RawEntry[]];
    accept(log, raw);
    const now = BigInt(seconds) * 1000n + BigInt(micros) / 1000n;
    if (raw.length < batchSize && now - 1n > log.settledTime) log.settledTime = now - 1n;
  };

  const follow = async (log: FollowedLog, connection: RedisClient) => {
    let failures = 0;
    while (!stopped) {
      try {
        const reply = (await connection.xread(
          'COUNT',
          batchSize,
          'BLOCK',
          options.blockMs ?? 5_000,
          'STREAMS',
          log.key,
          log.read,
        )) as [string, RawEntry[]][] | null;
        failures = 0;
        const entries = reply?.[0]?.[1];
        if (!entries?.length || stopped) continue;
        accept(log, entries);
      } catch (error) {
        if (stopped) return;
        failures++;
        if (failures === 1)
          logger.warn({ err: error, log: log.name }, 'cannot read the log; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** failures, 2_000)));
      }
    }
  };

  /** The buffered entry first in the merged order, and its log. */
  const nextHead = () => {
    let head: { log: FollowedLog; entry: Queued } | undefined;
    for (const log of logs) {
      const entry = log.buffer[0];
      if (entry && (!head || before(entry, log, head.entry, head.log))) head = { log, entry };
    }
    return head;
  };

  /** Whether `entry` of `log` may go now: no log ordered against it can still have an earlier one. */
  const mayGo = (log: FollowedLog, entry: Queued) =>
    logs.every((other) => {
      if (!ordered(other, log)) return true;
      const next = other.buffer[0];
      return next ? before(entry, log, next, other) : settledFor(other, log, entry);
    });

  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  /**
   * Yields until this host's clock shows the next millisecond: under a
   * millisecond, where a timer would take at least one whole.
   */
  const nextMillisecond = async () => {
    const now = Date.now();
    while (Date.now() === now) await new Promise((resolve) => setImmediate(resolve));
  };

  const sequence = async () => {
    let failures = 0;
    let waiting: { entryId: string; since: number } | undefined;
    while (!stopped) {
      const head = nextHead();
      if (!head) {
        await new Promise<void>((resolve) => {
          wakeSequencer = resolve;
        });
        wakeSequencer = undefined;
        continue;
      }
      const { log } = head;
      let entries: LogEntry[];
      let prepared: Prepared;
      try {
        const unsettled = logs.filter(
          (other) =>
            ordered(other, log) && other.buffer.length === 0 && !settledFor(other, log, head.entry),
        );
        if (unsettled.length) {
          const entryId = head.entry.entry.entryId;
          if (waiting?.entryId !== entryId) waiting = { entryId, since: Date.now() };
          if (Date.now() - waiting.since <= maxOrderWaitMs) {
            // Redis's clock is most often this host's: while that is still in the
            // entry's millisecond, no read can settle it; wait for the next one first.
            if (BigInt(Date.now()) === head.entry.time) await nextMillisecond();
            await Promise.all(unsettled.map(readSettled));
            // The clock has not left this entry's millisecond yet: look again in the next.
            if (unsettled.every((other) => other.buffer.length === 0)) await pause(1);
            continue;
          }
          logger.warn(
            { log: log.name, entryId, behind: unsettled.map((other) => other.name) },
            'a log’s clock stays behind this entry’s time; handing it on in arrival order',
          );
          for (const other of unsettled) other.settledTime = head.entry.time;
        }
        const run: Queued[] = [];
        for (const entry of log.buffer) {
          if (run.length === batchSize || !mayGo(log, entry)) break;
          run.push(entry);
        }
        entries = run.map((queued) => queued.entry);
        prepared = (await options.prepare?.(log.name, entries)) as Prepared;
        failures = 0;
      } catch (error) {
        if (stopped) return;
        failures++;
        if (failures === 1) {
          logger.warn({ err: error, log: log.name }, 'cannot hand entries on; retrying');
        }
        await pause(Math.min(100 * 2 ** failures, 2_000));
        continue;
      }
      if (stopped) return;
      // The position moves in the same synchronous step as the entries are handed on.
      log.buffer.splice(0, entries.length);
      log.position = entries[entries.length - 1]!.entryId;
      try {
        options.onEntries(log.name, entries, prepared);
      } catch (error) {
        logger.error({ err: error, log: log.name }, 'handing entries on failed');
      }
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake();
    }
  };

  const loops = logs.map((log) => {
    const connection = duplicateRedis(redis);
    connections.push(connection);
    return follow(log, connection);
  });
  const sequencer = sequence();

  return {
    logs: () => logs.map((log) => log.name),
    /** The last entry id dispatched for a log; undefined for a log this layout lacks. */
    position: (log: string) => byName.get(log)?.position,
    /** Every log's position, as `X-Read-Position` writes them. */
    positions: () => logs.map((log) => formatPosition(log.name, log.position)).join(','),
    /** Resolves after the next dispatched batch, or after `ms`. */
    nextBatch: (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
    stop: async () => {
      stopped = true;
      for (const connection of connections) connection.disconnect();
      wakeSequencer?.();
      await Promise.allSettled([...loops, sequencer]);
      for (const wake of waiters) wake();
    },
  };
};

export type LogTail = Awaited<ReturnType<typeof startLogTail>>;
