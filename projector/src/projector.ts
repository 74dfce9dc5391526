import { compareEntryIds, decodeEvent, formatPosition, type KeyLayout } from '@tasksync/contracts';
import {
  type Consumer,
  createLogReader,
  duplicateRedis,
  type Logger,
  type LogReader,
  newLeaseOwner,
  type RedisClient,
  startConsumer,
} from '@tasksync/platform';
import { OutdatedReadModelError, type ReadModelDb } from '@tasksync/platform/read-model';
import { startCheckpointer } from './checkpointer';
import { groupLease, LEASE_MS } from './lease';
import { createProjection } from './projection/project';
import { applyLogRange } from './rebuild';

export interface ProjectorOptions {
  redis: RedisClient;
  keys: KeyLayout;
  /**
   * The model to write: a handle the caller owns, or an opener. With an opener
   * the projector opens the file while it holds the lease and closes it when it
   * hands the lease to `replay --swap` or stops, so the file can be switched.
   */
  db: ReadModelDb | (() => ReadModelDb);
  /**
   * When the opener finds a model of an older schema (OutdatedReadModelError):
   * puts a current one at its path (design §10, read-model upgrades), called
   * with the lease held and renewed; the opener is then called again.
   */
  upgrade?: (
    outdated: OutdatedReadModelError,
    lease: { held: () => Promise<boolean>; signal: AbortSignal },
  ) => Promise<unknown>;
  /** Aborts a start still in progress (waiting for the lease, upgrading); stop() does the rest. */
  signal?: AbortSignal;
  group: string;
  logger: Logger;
  /**
   * The logs with their archive (design §11): a model whose checkpoint is
   * below a log's archived entries (a new model, a new group) is caught up
   * from there first, since the consumer group reads Redis alone. Redis alone
   * without.
   */
  logReader?: LogReader;
  batchSize?: number;
  /** Called after each committed batch that moved a checkpoint. */
  onApplied?: (log: string, applied: number, checkpoint: string) => void;
  consumerOptions?: {
    claimIdleMs?: number;
    maxDeliveries?: number;
    retryDelayMs?: number;
    blockMs?: number;
  };
}

interface Session {
  db: ReadModelDb;
  checkpointer: ReturnType<typeof startCheckpointer>;
  consumers: Consumer[];
  renewTimer: NodeJS.Timeout;
}

/**
 * Runs the projection over every log with one consumer group (design §5). The
 * SQLite checkpoint, not the group, says what was applied: on start the group
 * is moved back to it, so nothing acked but lost with an unsynced write is
 * skipped, and anything re-read is skipped by the checkpoint again.
 *
 * Resolves once the projector holds its group's lease and is consuming. On a
 * `handover <owner>` request (replay --swap) it finishes the batch in hand,
 * closes the file, passes the lease on, and resumes on the (new) file once the
 * lease is released.
 */
export const startProjector = async (options: ProjectorOptions) => {
  const { redis, keys, group, logger } = options;
  const logReader = options.logReader ?? createLogReader({ redis, keys });
  const owner = newLeaseOwner('projector');
  const lease = groupLease(redis, keys, group, owner);
  const { db: given } = options;
  const ownsDb = typeof given === 'function';
  const openDb = typeof given === 'function' ? given : () => given;
  let session: Session | undefined;
  let stopped = false;
  let leaseLost = false;
  let transition: Promise<void> = Promise.resolve();
  let wakeWaiter: (() => void) | undefined;
  // Cuts short what a stop would otherwise wait for: the lease, an upgrade's rebuild.
  const stopping = new AbortController();
  const stopWaiting = () => {
    stopped = true;
    stopping.abort();
    wakeWaiter?.();
  };
  options.signal?.addEventListener('abort', stopWaiting, { once: true });

  const control = duplicateRedis(redis);
  await control.subscribe(keys.readModelControl(group));
  control.on('message', (_channel: string, message: string) => {
    if (message === 'released') wakeWaiter?.();
    else if (message.startsWith('handover ')) handOver(message.slice('handover '.length));
  });

  const takeLease = async () => {
    let told = false;
    leaseLost = false;
    while (!stopped && !(await lease.tryTake().catch(() => false))) {
      if (!told) logger.warn({ group }, 'another process holds this group; waiting for its lease');
      told = true;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        wakeWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeWaiter = undefined;
    }
    return !stopped;
  };

  /** Opens the model; one of an older schema is upgraded first, if the caller says how. */
  const openModel = async () => {
    try {
      return openDb();
    } catch (error) {
      if (!(error instanceof OutdatedReadModelError) || !options.upgrade) throw error;
      await options.upgrade(error, {
        held: async () => !leaseLost && (await lease.holder()) === owner,
        signal: stopping.signal,
      });
      return openDb();
    }
  };

  const begin = async () => {
    // Renewed from the start: an upgrade holds the lease for as long as its rebuild takes.
    const renewTimer = setInterval(async () => {
      if (await lease.renew().catch(() => true)) return;
      leaseLost = true;
      logger.error({ group }, 'lost the projector lease; pausing until it is free');
      pause(undefined);
    }, LEASE_MS / 3);
    renewTimer.unref();
    let db: ReadModelDb;
    try {
      db = await openModel();
    } catch (error) {
      clearInterval(renewTimer);
      throw error;
    }
    const projection = createProjection(db);
    const consumers: Consumer[] = [];
    const checkpointer = startCheckpointer(db, logger);
    session = { db, consumers, renewTimer, checkpointer };
    for (const log of keys.logs()) {
      const { through } = await logReader.archived(log.key);
      const at = projection.checkpoint(log.name);
      if (through && (at === undefined || compareEntryIds(at, through) < 0)) {
        const applied = await applyLogRange(projection, logReader, log, {
          until: through,
          batchSize: options.batchSize ?? 500,
          onSkip: (entryId, error) =>
            logger.error(
              { log: log.name, entryId, err: error },
              'archived entry not decodable: skipped',
            ),
          onBatch: () => checkpointer.afterCommit(),
        });
        logger.info({ log: log.name, applied, through }, 'caught up with the archive');
        const checkpoint = projection.checkpoint(log.name);
        if (applied && checkpoint) options.onApplied?.(log.name, applied, checkpoint);
      }
      try {
        await redis.xgroup('CREATE', log.key, group, '0', 'MKSTREAM');
      } catch (error) {
        if (!String(error).includes('BUSYGROUP')) throw error;
      }
      await redis.xgroup('SETID', log.key, group, projection.checkpoint(log.name) ?? '0');
      // With the lease held, every other consumer of the group is a dead
      // projector's: what it had pending is re-read from the checkpoint anyway.
      const others = (await redis.xinfo('CONSUMERS', log.key, group)) as unknown[][];
      for (const info of others) {
        const name = String(info[info.indexOf('name') + 1]);
        if (name !== owner) await redis.xgroup('DELCONSUMER', log.key, group, name);
      }
      consumers.push(
        startConsumer({
          redis,
          streamKey: log.key,
          group,
          consumer: owner,
          deadLetterKey: keys.deadLetters(log.key, group),
          batchSize: options.batchSize ?? 500,
          logger: logger.child({ log: log.name }),
          ...options.consumerOptions,
          handle: async (entries) => {
            const events = entries.map((entry) => decodeEvent(entry.id, entry.fields));
            const { applied, checkpoint } = projection.applyBatch(log.name, events);
            checkpointer.afterCommit();
            if (!applied || !checkpoint) return;
            options.onApplied?.(log.name, applied, checkpoint);
            // After the commit: tell waiting readers how far the model has come. Not
            // awaited, so the notice and the XACK leave in one write (auto-pipelining).
            // A lost notice only delays readers until their next poll.
            redis
              .publish(keys.checkpointChannel(group), formatPosition(log.name, checkpoint))
              .catch((error) => logger.warn({ err: error }, 'checkpoint notice not sent'));
          },
        }),
      );
    }
    await Promise.all(consumers.map((c) => c.started));
  };

  /** Finishes and acks the batch in hand, then lets go of the file. */
  const end = async () => {
    const current = session;
    if (!current) return;
    session = undefined;
    clearInterval(current.renewTimer);
    await Promise.all(current.consumers.map((c) => c.stop()));
    await current.checkpointer.stop();
    if (ownsDb) current.db.close();
  };

  /** Takes the lease and projects; after a failure (Redis away), lets go and tries again. */
  const resume = async () => {
    while (await takeLease()) {
      try {
        await begin();
        return;
      } catch (error) {
        logger.error({ err: error, group }, 'cannot start projecting; retrying');
        await end().catch(() => undefined);
        await lease.release().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  };

  /** Stops projecting, passes the lease on (or not, if it was lost), and waits to resume. */
  const pause = (to: string | undefined) => {
    transition = transition.then(async () => {
      if (!session || stopped) return;
      await end();
      if (to !== undefined) {
        const passed = await lease.handOver(to).catch(() => false);
        logger.info({ group, to, passed }, 'handed the read model over; waiting to resume');
      }
      await resume();
      if (session) logger.info({ group }, 'resumed projecting');
    });
  };
  const handOver = (to: string) => {
    if (to !== owner) pause(to);
  };

  // The first start fails loudly (a wrong configuration); later ones retry.
  transition = (async () => {
    if (!(await takeLease())) throw new Error('the projector was stopped before it started');
    await begin();
  })();
  try {
    await transition;
  } catch (error) {
    // Another projector of the group need not wait for the lease to expire.
    await lease.release().catch(() => undefined);
    control.disconnect();
    throw error;
  }
  return {
    /** The handle being written, or undefined while the file is handed over. */
    db: () => session?.db,
    stop: async () => {
      stopWaiting();
      await transition;
      await end();
      await lease.release().catch(() => undefined);
      control.disconnect();
    },
  };
};
