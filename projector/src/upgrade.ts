import { existsSync, lstatSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { KeyLayout } from '@tasksync/contracts';
import type { Logger, LogReader, RedisClient, ServiceMetrics } from '@tasksync/platform';
import {
  type OutdatedReadModelError,
  openReadModel,
  READ_MODEL_VERSION,
} from '@tasksync/platform/read-model';
import { Gauge } from 'prom-client';
import { type Progress, progressMeter, throttled } from './progress';
import { countLogEntries, rebuildReadModel } from './rebuild';
import { swapInRebuilt } from './swap';

/** Where an upgrade builds its model: beside the path, named for the version and the attempt. */
const upgradeFileName = (path: string) => `${path}.upgrade-v${READ_MODEL_VERSION}-${Date.now()}`;

/** The file readers open at `path`: the link's target, or the path itself. */
const fileAt = (path: string) =>
  existsSync(path) && lstatSync(path).isSymbolicLink()
    ? resolve(dirname(path), readlinkSync(path))
    : resolve(path);

/**
 * Removes what an upgrade that died left beside the path: its half-built
 * models. The file the path points at is kept, whatever its name.
 */
const removeAbandonedUpgrades = (path: string, logger: Logger) => {
  const dir = dirname(path);
  const current = fileAt(path);
  const prefix = `${basename(path)}.upgrade-`;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue;
    const file = join(dir, name);
    if ([current, `${current}-wal`, `${current}-shm`].includes(resolve(file))) continue;
    rmSync(file, { force: true });
    logger.info({ file }, 'removed what an abandoned read-model upgrade left');
  }
};

/** The upgrade's progress on /metrics (design §10: "progress in its log and /metrics"). */
export const createUpgradeGauges = (metrics: ServiceMetrics) => {
  const registers = [metrics.registry];
  const running = new Gauge({
    name: 'tasksync_read_model_upgrading',
    help: '1 while the projector rebuilds an older read model into the current schema',
    registers,
  });
  const applied = new Gauge({
    name: 'tasksync_read_model_upgrade_events',
    help: 'Events applied to the read model the running (or last) upgrade builds',
    registers,
  });
  const target = new Gauge({
    name: 'tasksync_read_model_upgrade_target_events',
    help: 'Events the logs held when the running (or last) upgrade started',
    registers,
  });
  return {
    started: (total: number) => {
      running.set(1);
      applied.set(0);
      target.set(total);
    },
    progress: (done: number) => applied.set(done),
    ended: () => running.set(0),
  };
};

export type UpgradeGauges = ReturnType<typeof createUpgradeGauges>;

/**
 * Design §10, "Read-model upgrades": the model at `path` is of an older schema.
 * Rebuilds a current one beside it from position 0 of every log, with the
 * projection the projector runs, then swaps readers over as `replay --swap`
 * does. The caller holds the group's lease throughout, so no projector writes
 * either file meanwhile; readers keep answering from the old file until the
 * swap (it stops advancing: a read that waits for a newer position may time
 * out, never a plain read). A rebuild cut short (stop, crash, lost lease) is
 * removed, by itself or by the next attempt, and the old model stays in place.
 */
export const upgradeReadModel = async (options: {
  redis: RedisClient;
  keys: KeyLayout;
  group: string;
  path: string;
  outdated: OutdatedReadModelError;
  logger: Logger;
  /** Whether the caller still holds the group's lease: checked before the switch. */
  held: () => Promise<boolean>;
  gauges?: UpgradeGauges;
  signal?: AbortSignal;
  batchSize?: number;
  /** The logs with their archive (design §11); Redis alone without. */
  logReader?: LogReader;
}) => {
  const { redis, keys, path, logger, gauges, logReader } = options;
  removeAbandonedUpgrades(path, logger);
  const out = upgradeFileName(path);
  const total = await countLogEntries(redis, keys, logReader);
  logger.warn(
    { path, from: options.outdated.version, to: READ_MODEL_VERSION, out, events: total },
    'the read model is of an older schema; rebuilding it beside, readers stay on the old one until the swap',
  );
  gauges?.started(total);
  const measure = progressMeter(total);
  const report = throttled(1_000, (progress: Progress, final: boolean) =>
    logger.info(
      {
        events: progress.done,
        of: progress.total,
        eventsPerSecond: progress.eventsPerSecond,
        etaSeconds: progress.etaSeconds,
      },
      final ? 'read-model upgrade: rebuilt, swapping' : 'read-model upgrade: rebuilding',
    ),
  );
  const started = Date.now();
  const db = openReadModel(out);
  let applied = 0;
  const build = async () => {
    const before = applied;
    await rebuildReadModel(db, redis, keys, {
      ...(logReader ? { logReader } : {}),
      batchSize: options.batchSize ?? 2_000,
      onProgress: (done) => {
        applied = before + done;
        gauges?.progress(applied);
        report(measure(applied));
      },
      // The live projector dead-letters these; a rebuild skips them alike.
      onSkip: (entryId, error) =>
        logger.warn({ entryId, err: error }, 'read-model upgrade: skipped an undecodable entry'),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return applied - before;
  };
  try {
    await build();
    report(measure(applied), true);
    await swapInRebuilt({ redis, keys, group: options.group, path, db, build, held: options.held });
  } catch (error) {
    if (db.open) db.close();
    // Unless the switch happened (only the notice failed: readers find the file within a second).
    if (fileAt(path) !== resolve(out))
      for (const file of [out, `${out}-wal`, `${out}-shm`]) rmSync(file, { force: true });
    throw error;
  } finally {
    gauges?.ended();
  }
  logger.info(
    { path, file: out, events: applied, seconds: (Date.now() - started) / 1000 },
    'read-model upgrade: readers switched to the rebuilt model',
  );
  return { file: out, events: applied };
};
