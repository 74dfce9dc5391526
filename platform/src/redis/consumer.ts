import { fieldsToRecord } from '@tasksync/contracts';
import type { Logger } from 'pino';
import { duplicateRedis, type RedisClient } from './client';

export interface ConsumedEntry {
  id: string;
  fields: Record<string, string>;
}

export interface ConsumerOptions {
  redis: RedisClient;
  streamKey: string;
  group: string;
  consumer: string;
  deadLetterKey: string;
  /** Handles a batch; throwing leaves the entries pending for another try. */
  handle: (entries: ConsumedEntry[]) => Promise<void>;
  /** Where a new group starts: `0` (everything) or `$` (only new entries). */
  startId?: string;
  batchSize?: number;
  blockMs?: number;
  /** Entries idle this long in a dead consumer's list are claimed. */
  claimIdleMs?: number;
  claimIntervalMs?: number;
  /** After this many failed deliveries an entry moves to the dead-letter stream. */
  maxDeliveries?: number;
  retryDelayMs?: number;
  logger?: Logger;
}

export interface Consumer {
  /** Resolves once the group exists and the loop runs. */
  readonly started: Promise<void>;
  /** Finishes the batch in hand, acks it, and resolves when the loop has ended. */
  stop(): Promise<void>;
}

type ReadReply = [string, [string, string[] | null][]][] | null;

const toEntries = (raw: [string, string[] | null][]) =>
  raw.map(([id, fields]) => ({ id, fields: fields ? fieldsToRecord(fields) : null }));

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

/**
 * The consumer-group loop every consumer uses (design §4): its own pending
 * entries first, XAUTOCLAIM of entries a dead consumer left idle, then new
 * entries with XREADGROUP … BLOCK. A failing batch is retried entry by entry in
 * order; the first failing entry stops the batch so later entries never
 * overtake it, and after `maxDeliveries` it goes to the dead-letter stream with
 * its error and is acked, so one poison entry never stops the flow.
 */
export const startConsumer = (options: ConsumerOptions): Consumer => {
  const {
    redis,
    streamKey,
    group,
    consumer,
    deadLetterKey,
    handle,
    startId = '0',
    batchSize = 200,
    blockMs = 2_000,
    claimIdleMs = 30_000,
    claimIntervalMs = 5_000,
    maxDeliveries = 5,
    retryDelayMs = 200,
    logger,
  } = options;
  // Blocking reads get their own connection, so stop() can cut one short. A
  // read cut off by a lost connection must fail, not be sent again: Redis may
  // have delivered entries whose reply never came, and a resent `>` read would
  // skip past them (they wait in this consumer's pending list instead). The
  // same holds for XAUTOCLAIM: a resent claim finds the entries it already
  // moved here too fresh to claim again, so it runs on this connection as well.
  const blocking = duplicateRedis(redis, { autoResendUnfulfilledCommands: false });
  const abort = new AbortController();
  let readPending = true;
  let lastClaim = 0;
  let claimCursor = '0-0';

  const ensureGroup = async () => {
    try {
      await redis.xgroup('CREATE', streamKey, group, startId, 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
    }
  };

  // Failures are counted here, per entry: the group's delivery count also rises
  // for entries merely re-read behind a failing one, which never failed themselves.
  const failures = new Map<string, number>();

  const deadLetter = async (entry: ConsumedEntry, error: unknown, count: number) => {
    await redis.xadd(
      deadLetterKey,
      '*',
      'entry',
      entry.id,
      'stream',
      streamKey,
      'group',
      group,
      'consumer',
      consumer,
      'deliveries',
      String(count),
      'error',
      error instanceof Error ? error.message : String(error),
      'fields',
      JSON.stringify(entry.fields),
    );
    await redis.xack(streamKey, group, entry.id);
    logger?.error(
      { entry: entry.id, deliveries: count, err: error },
      'entry moved to dead letters',
    );
  };

  /** Returns false when an entry failed and was left pending for a retry. */
  const processEntries = async (raw: { id: string; fields: Record<string, string> | null }[]) => {
    // An entry deleted from the stream while pending comes back without fields: nothing to do.
    const gone = raw.filter((e) => e.fields === null).map((e) => e.id);
    if (gone.length) await redis.xack(streamKey, group, ...gone);
    const entries = raw.filter((e): e is ConsumedEntry => e.fields !== null);
    if (!entries.length) return true;
    try {
      await handle(entries);
      await redis.xack(streamKey, group, ...entries.map((e) => e.id));
      if (failures.size) for (const entry of entries) failures.delete(entry.id);
      return true;
    } catch (batchError) {
      if (entries.length === 1) return failed(entries[0]!, batchError);
    }
    for (const entry of entries) {
      try {
        await handle([entry]);
        await redis.xack(streamKey, group, entry.id);
        failures.delete(entry.id);
      } catch (error) {
        return failed(entry, error);
      }
    }
    return true;
  };

  const failed = async (entry: ConsumedEntry, error: unknown) => {
    const count = (failures.get(entry.id) ?? 0) + 1;
    failures.set(entry.id, count);
    if (count >= maxDeliveries) {
      failures.delete(entry.id);
      await deadLetter(entry, error, count);
      readPending = true;
      return true;
    }
    logger?.warn({ entry: entry.id, deliveries: count, err: error }, 'handler failed; will retry');
    readPending = true;
    await sleep(Math.min(retryDelayMs * 2 ** (count - 1), 5_000), abort.signal);
    return false;
  };

  const step = async () => {
    if (readPending) {
      const reply = (await redis.xreadgroup(
        'GROUP',
        group,
        consumer,
        'COUNT',
        batchSize,
        'STREAMS',
        streamKey,
        '0',
      )) as ReadReply;
      const pending = reply?.[0]?.[1] ?? [];
      if (!pending.length) readPending = false;
      else await processEntries(toEntries(pending));
      return;
    }
    if (Date.now() - lastClaim >= claimIntervalMs) {
      const [cursor, claimed] = (await blocking.xautoclaim(
        streamKey,
        group,
        consumer,
        claimIdleMs,
        claimCursor,
        'COUNT',
        batchSize,
      )) as [string, [string, string[] | null][]];
      claimCursor = cursor;
      if (cursor === '0-0') lastClaim = Date.now();
      if (claimed.length) {
        logger?.info({ count: claimed.length }, 'claimed idle entries from another consumer');
        await processEntries(toEntries(claimed));
        return;
      }
    }
    const reply = (await blocking.xreadgroup(
      'GROUP',
      group,
      consumer,
      'COUNT',
      batchSize,
      'BLOCK',
      blockMs,
      'STREAMS',
      streamKey,
      '>',
    )) as ReadReply;
    const fresh = reply?.[0]?.[1] ?? [];
    if (fresh.length) await processEntries(toEntries(fresh));
  };

  const started = ensureGroup();
  const loop = (async () => {
    await started;
    while (!abort.signal.aborted) {
      try {
        await step();
      } catch (error) {
        if (abort.signal.aborted) break;
        if (String(error).includes('NOGROUP')) {
          // Redis lost the group (restarted without persistence): recreate and reread.
          await ensureGroup().catch(() => undefined);
          readPending = true;
          continue;
        }
        logger?.warn({ err: error }, 'consumer loop error; retrying');
        // Whatever a failed read delivered is pending now: read those first, so
        // nothing later overtakes them.
        readPending = true;
        await sleep(500, abort.signal);
      }
    }
  })();

  return {
    started,
    stop: async () => {
      abort.abort();
      // Cut a blocked read short; a batch being handled still finishes and acks.
      blocking.disconnect();
      await loop.catch(() => undefined);
    },
  };
};
