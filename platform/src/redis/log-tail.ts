import {
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

export interface LogTailOptions {
  redis: RedisClient;
  keys: KeyLayout;
  logger: Logger;
  /** Called in log order, synchronously, for each batch read from one log. */
  onEntries: (log: string, entries: LogEntry[]) => void;
  batchSize?: number;
  blockMs?: number;
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

/**
 * Follows every log from its end with XREAD BLOCK, one connection per log (the
 * logs live in different cluster slots), and hands each batch on in order.
 * `position(log)` is the last entry handed on: everything up to it has been
 * dispatched, nothing after it. A client catching up reads up to exactly that
 * point and then joins the live rooms within the same turn of the event loop,
 * which is what makes its delivery gapless and duplicate-free.
 *
 * No consumer group: every notifier instance needs every entry (a group would
 * split them), and where a client resumes is the client's own position, not
 * the notifier's, so a restarted notifier owes nothing to anyone.
 */
export const startLogTail = async (options: LogTailOptions) => {
  const { redis, keys, logger } = options;
  const positions = new Map<string, string>();
  let stopped = false;
  let waiters: (() => void)[] = [];
  const connections: RedisClient[] = [];

  for (const log of keys.logs()) {
    positions.set(log.name, (await readLastEntryId(redis, log.key)) ?? EMPTY);
  }

  const follow = async (log: { name: string; key: string }, connection: RedisClient) => {
    let failures = 0;
    while (!stopped) {
      try {
        const reply = (await connection.xread(
          'COUNT',
          options.batchSize ?? 500,
          'BLOCK',
          options.blockMs ?? 5_000,
          'STREAMS',
          log.key,
          positions.get(log.name)!,
        )) as [string, RawEntry[]][] | null;
        failures = 0;
        const entries = reply?.[0]?.[1];
        if (!entries?.length || stopped) continue;
        positions.set(log.name, entries[entries.length - 1]![0]);
        options.onEntries(log.name, decodeEntries(entries));
        const woken = waiters;
        waiters = [];
        for (const wake of woken) wake();
      } catch (error) {
        if (stopped) return;
        failures++;
        if (failures === 1)
          logger.warn({ err: error, log: log.name }, 'cannot read the log; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** failures, 2_000)));
      }
    }
  };

  const loops = keys.logs().map((log) => {
    const connection = duplicateRedis(redis);
    connections.push(connection);
    return follow(log, connection);
  });

  return {
    logs: () => [...positions.keys()],
    /** The last entry id dispatched for a log; undefined for a log this layout lacks. */
    position: (log: string) => positions.get(log),
    /** Every log's position, as `X-Read-Position` writes them. */
    positions: () => [...positions].map(([log, entryId]) => formatPosition(log, entryId)).join(','),
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
      await Promise.allSettled(loops);
      for (const wake of waiters) wake();
    },
  };
};

export type LogTail = Awaited<ReturnType<typeof startLogTail>>;
