import type { KeyLayout } from '@tasksync/contracts';
import {
  type ArchiveRun,
  type ArchiveStep,
  type ArchiveStore,
  archiveLog,
  createArchiverLease,
  type Logger,
  type RedisClient,
} from '@tasksync/platform';

export interface ArchiverOptions {
  redis: RedisClient;
  keys: KeyLayout;
  store: ArchiveStore;
  logger: Logger;
  owner: string;
  archiveAfterMs: number;
  segmentEntries: number;
  afterStep?: (step: ArchiveStep) => void | Promise<void>;
  /** After each log's run (also one that moved nothing). */
  onRun?: (log: string, run: ArchiveRun) => void;
  onFailure?: (log: string) => void;
  /** True once the archiver is stopping: a run ends after its segment in hand. */
  stopping?: () => boolean;
}

/**
 * One pass over every log: each log whose lease this archiver takes is
 * archived, then its lease released. A log whose lease another archiver holds
 * is left to it. A failing log is logged and the others still run.
 */
export const archiveEveryLog = async (options: ArchiverOptions) => {
  const { redis, keys, store, logger, owner } = options;
  for (const log of keys.logs()) {
    if (options.stopping?.()) return;
    const lease = createArchiverLease(redis, keys, log.key, owner);
    if (!(await lease.tryTake())) {
      logger.debug({ log: log.name }, 'another archiver holds this log');
      continue;
    }
    try {
      const run = await archiveLog({
        redis,
        store,
        log,
        archiveAfterMs: options.archiveAfterMs,
        segmentEntries: options.segmentEntries,
        mayContinue: async () => !options.stopping?.() && (await lease.renew()),
        trim: lease.trim,
        ...(options.afterStep ? { afterStep: options.afterStep } : {}),
      });
      if (run.archived > 0)
        logger.info({ log: log.name, ...run }, `archived ${run.archived} entries`);
      options.onRun?.(log.name, run);
    } catch (error) {
      logger.error({ err: error, log: log.name }, 'archiving failed; the next pass retries');
      options.onFailure?.(log.name);
    } finally {
      await lease.release().catch(() => undefined);
    }
  }
};

/** Runs a pass every `intervalMs` until stopped; `stop` waits for the segment in hand. */
export const startArchiver = (options: ArchiverOptions & { intervalMs: number }) => {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();
  const next = () => {
    if (stopped) return;
    pass = archiveEveryLog({ ...options, stopping: () => stopped }).finally(() => {
      if (!stopped) timer = setTimeout(next, options.intervalMs);
    });
  };
  next();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await pass;
    },
  };
};
