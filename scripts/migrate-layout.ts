/**
 * `npm run migrate-layout -- [--copy-only] [--batch-size N]`: converts a
 * layout-1 store to layout 2 in place (design §11; how, in
 * platform/src/storage/migrate-layout.ts). Resumable after a kill at any
 * point; on a store already on layout 2 it says so and does nothing.
 *
 * A running deployment: run it with --copy-only while everything runs (the
 * bulk of the copy, and the comparison of every event), then stop
 * command-service and identity-service, run it without flags (it copies what
 * came since, checks, switches every aggregate and then sets layoutVersion 2:
 * writes are paused for this run only), and start the services of the
 * layout-2 build. Reads and the live feed keep serving throughout.
 */
import { parseArgs } from 'node:util';
import { createKeyLayout } from '@tasksync/contracts';
import { commonEnv, createRedis, loadDotEnv, parseConfig, runMain } from '@tasksync/platform';
import {
  MigrationError,
  type MigrationPhase,
  type MigrationProgress,
  migrateLayout,
} from '@tasksync/platform/migrate-layout';
import { progressMeter, throttled, writeProgress } from '../projector/src/progress';

const UNITS: Record<MigrationPhase, string> = {
  copy: 'events copied',
  verify: 'aggregates verified',
  switch: 'aggregates switched',
};

/** One phase's bar on a terminal, a plain line every `intervalMs` otherwise (as replay's). */
const phaseReporter = (
  { phase, done: resumedAt, total }: MigrationProgress,
  intervalMs: number,
) => {
  // A resumed copy starts part done: its rate and time left count from there.
  const measure = progressMeter(total - resumedAt);
  return throttled(intervalMs, (progress: MigrationProgress, final: boolean) => {
    const { eventsPerSecond, etaSeconds } = measure(progress.done - resumedAt);
    const text = `${phase} ${progress.done.toLocaleString('en')} / ${progress.total.toLocaleString('en')} ${UNITS[phase]}  ${eventsPerSecond.toLocaleString('en')}/s  ETA ${etaSeconds} s`;
    writeProgress('migrate-layout', progress.done / Math.max(progress.total, 1), text, final);
  });
};

/**
 * For the kill tests only: MIGRATE_LAYOUT_STOP_AT=<phase>:<n> stops the
 * process (SIGSTOP) once that phase has done n, right after the step that did
 * it, so the test's SIGKILL lands exactly there and not wherever a fast run
 * has got to by the time the signal arrives.
 */
const stopAt = (() => {
  const [phase, done] = (process.env.MIGRATE_LAYOUT_STOP_AT ?? '').split(':');
  return phase ? { phase, done: Number(done) } : undefined;
})();

const progressReporter = (intervalMs: number) => {
  let phase: MigrationPhase | undefined;
  let report: (progress: MigrationProgress, final: boolean) => void = () => {};
  return (progress: MigrationProgress) => {
    if (progress.phase !== phase) {
      phase = progress.phase;
      report = phaseReporter(progress, intervalMs);
    }
    report(progress, progress.done >= progress.total);
    if (stopAt?.phase === progress.phase && progress.done >= stopAt.done) {
      process.stderr.write(`migrate-layout: stopped at ${progress.phase} ${progress.done}\n`);
      process.kill(process.pid, 'SIGSTOP');
    }
  };
};

const main = async () => {
  loadDotEnv();
  const { values } = parseArgs({
    options: {
      'copy-only': { type: 'boolean', default: false },
      'batch-size': { type: 'string', default: '500' },
      'progress-ms': { type: 'string' },
    },
  });
  const batchSize = Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    console.error('migrate-layout: --batch-size takes a whole number from 1 to 10000.');
    process.exit(2);
  }
  const config = parseConfig(commonEnv);
  const redis = createRedis(config);
  const keys = createKeyLayout(config.REDIS_PREFIX, config.EVENT_PARTITIONS);
  const started = Date.now();
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  let exitCode = 0;
  try {
    const result = await migrateLayout({
      redis,
      keys,
      batchSize,
      copyOnly: values['copy-only'],
      onProgress: progressReporter(
        Number(values['progress-ms'] ?? (process.stderr.isTTY ? 100 : 1_000)),
      ),
    });
    switch (result.outcome) {
      case 'already-migrated':
        console.log(`migrate-layout: ${keys.meta} is on layout 2 already; nothing to do.`);
        break;
      case 'nothing-to-migrate':
        console.log(
          `migrate-layout: ${keys.meta} records no layout (no store under prefix ${keys.prefix}); nothing to do.`,
        );
        break;
      case 'copied':
        console.log(
          `migrate-layout --copy-only: ${result.copiedEvents} of ${result.totalEvents} events copied and compared ` +
            `in ${seconds(Date.now() - started)}; still layout 1. Stop command-service and identity-service, ` +
            'then run npm run migrate-layout to switch: writes are paused for that run only.',
        );
        break;
      case 'refused':
        console.error(
          `migrate-layout: refused, still layout 1. Differences between the aggregate streams ` +
            `and the logs: ${result.mismatches.length}${result.mismatches.length > 20 ? ', the first 20' : ''}:`,
        );
        for (const mismatch of result.mismatches.slice(0, 20)) {
          console.error(
            `  ${mismatch.key}${mismatch.entryId ? ` entry ${mismatch.entryId}` : ''}: ${mismatch.reason}`,
          );
        }
        exitCode = 1;
        break;
      case 'migrated':
        console.log(
          `migrate-layout: layout 2. ${result.aggregates} aggregates switched by this run; ${result.copiedEvents} events ` +
            `indexed, every one compared with its aggregate's copy; writes were paused for ${seconds(result.pausedMs)}.`,
        );
        break;
    }
  } catch (error) {
    if (!(error instanceof MigrationError)) throw error;
    console.error(`migrate-layout: ${error.message}`);
    exitCode = 1;
  }
  await redis.quit();
  process.exit(exitCode);
};

void runMain(main);
