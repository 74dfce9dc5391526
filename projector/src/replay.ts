/**
 * `npm run replay -- [--out FILE] [--verify]`: rebuilds a read model from
 * position 0 of every log into a new file, with the projection the live
 * projector uses, while the live model keeps serving (design §5). Sends no
 * notifications. --verify compares the rebuilt model with the live one at the
 * live model's own checkpoints and exits 1 on any difference. --swap catches up
 * with the live logs, pauses the projector (it hands over its lease), applies
 * the last events, points READ_MODEL_PATH at the new file and resumes it; the
 * query-service switches on the notice while it keeps answering.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { createKeyLayout } from '@tasksync/contracts';
import {
  createLogReader,
  createRedis,
  ensureLayout,
  loadDotEnv,
  openArchive,
  runMain,
} from '@tasksync/platform';
import { openReadModel, openReadModelReadOnly } from '@tasksync/platform/read-model';
import { loadProjectorConfig } from './config';
import { progressMeter, throttled, writeProgress } from './progress';
import { countLogEntries, dumpReadModel, type ReadModelDump, rebuildReadModel } from './rebuild';
import { catchUpRebuilt, pauseProjector, swapInRebuilt } from './swap';

/** A progress bar on a terminal, a plain line a second otherwise. */
const progressReporter = (total: number) => {
  const measure = progressMeter(total);
  return throttled(process.stderr.isTTY ? 100 : 1_000, (done: number, final: boolean) => {
    const { eventsPerSecond, etaSeconds, fraction } = measure(done);
    const text = `${done.toLocaleString('en')} / ${total.toLocaleString('en')} events  ${eventsPerSecond.toLocaleString('en')} events/s  ETA ${etaSeconds} s`;
    writeProgress('replay', fraction, text, final);
  });
};

const main = async () => {
  loadDotEnv();
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      verify: { type: 'boolean', default: false },
      swap: { type: 'boolean', default: false },
    },
  });
  if (values.swap && values.verify) {
    console.error('replay: --swap and --verify are separate runs; verify after the swap.');
    process.exit(2);
  }
  const config = loadProjectorConfig();
  const redis = createRedis(config);
  const keys = createKeyLayout(config.REDIS_PREFIX, config.EVENT_PARTITIONS);
  await ensureLayout(redis, keys);
  const out = values.out ?? `${config.READ_MODEL_PATH}.rebuild-${Date.now()}`;
  if (existsSync(out)) {
    console.error(`replay: ${out} exists; choose another --out.`);
    process.exit(2);
  }
  mkdirSync(dirname(out), { recursive: true });

  // --verify rebuilds exactly up to what the live model has applied, read in one snapshot.
  let live: { dump: ReadModelDump; until: Map<string, string> } | undefined;
  if (values.verify) {
    const liveDb = openReadModelReadOnly(config.READ_MODEL_PATH);
    const dump = dumpReadModel(liveDb);
    liveDb.close();
    const until = new Map(
      (dump.checkpoints as { log: string; entry_id: string }[]).map((c) => [c.log, c.entry_id]),
    );
    live = { dump, until };
  }

  // The logs as written: archived entries from ARCHIVE_DIR first, then Redis (design §11).
  const logReader = createLogReader({ redis, keys, archive: openArchive(config) });
  const report = progressReporter(await countLogEntries(redis, keys, logReader));
  const db = openReadModel(out);
  const started = Date.now();
  let skipped = 0;
  let total = 0;
  const build = (until?: Map<string, string>) =>
    rebuildReadModel(db, redis, keys, {
      logReader,
      batchSize: 2_000,
      onProgress: (done) => report(total + done),
      onSkip: (entryId, error) => {
        skipped++;
        console.error(
          `replay: skipped ${entryId}: ${error instanceof Error ? error.message : error}`,
        );
      },
      ...(until ? { until } : {}),
    });
  total = await build(live?.until);
  report(total, true);
  if (values.swap) {
    // Catch up with the live logs while the projector still runs, then pause
    // it for the last few events only, so the switch takes milliseconds.
    total += await catchUpRebuilt(build);
    const paused = await pauseProjector(redis, keys, config.PROJECTOR_GROUP);
    try {
      total += await swapInRebuilt({
        redis,
        keys,
        group: config.PROJECTOR_GROUP,
        path: config.READ_MODEL_PATH,
        db,
        build,
        held: paused.held,
      });
    } finally {
      await paused.resume();
    }
  } else {
    db.pragma('wal_checkpoint(TRUNCATE)');
  }
  const seconds = (Date.now() - started) / 1000;
  if (skipped)
    console.error(`replay: ${skipped} entries skipped (the live projector dead-letters them)`);
  console.log(
    `replay: ${total} events into ${out} in ${seconds.toFixed(1)} s (${Math.round(total / seconds)} events/s)`,
  );
  if (values.swap)
    console.log(
      `replay --swap: ${config.READ_MODEL_PATH} now points at ${out}; the projector resumed on it.`,
    );

  let exitCode = 0;
  if (live) {
    const rebuilt = dumpReadModel(db);
    const differing = (Object.keys(rebuilt) as (keyof ReadModelDump)[]).filter(
      (part) => JSON.stringify(rebuilt[part]) !== JSON.stringify(live.dump[part]),
    );
    if (differing.length) {
      console.error(
        `replay --verify: the live model differs from the rebuilt one in: ${differing.join(', ')}`,
      );
      exitCode = 1;
    } else {
      console.log('replay --verify: the live model equals the rebuilt one.');
    }
  }
  if (db.open) db.close();
  if (values.verify && !values.out) {
    for (const file of [out, `${out}-wal`, `${out}-shm`]) rmSync(file, { force: true });
  }
  await redis.quit();
  process.exit(exitCode);
};

void runMain(main);
