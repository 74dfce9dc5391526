import { mkdirSync } from 'node:fs';
import {
  ConfigError,
  createServiceRuntime,
  loadDotEnv,
  newLeaseOwner,
  openArchive,
  runMain,
  serve,
} from '@tasksync/platform';
import { buildArchiverApp } from './app';
import { archiveEveryLog, startArchiver } from './archiver';
import { loadArchiverConfig } from './config';

/**
 * The archiver (design §11): its own process, one lease per log, so any
 * number may run and each log is archived by one at a time. `--once` makes a
 * single pass over every log and exits (for cron, tests and the bench).
 */
const main = async () => {
  loadDotEnv();
  const config = loadArchiverConfig();
  const once = process.argv.includes('--once');
  if (once && config.ARCHIVE_AFTER === undefined)
    throw new ConfigError(
      'archiver --once needs ARCHIVE_AFTER (e.g. 30d): the archive is off without it.',
    );
  const runtime = await createServiceRuntime('archiver', config);
  const store = openArchive(config);
  const archiving = config.ARCHIVE_AFTER !== undefined;
  if (archiving) mkdirSync(store.location, { recursive: true });
  const { app, recordRun, recordFailure } = buildArchiverApp({ ...runtime, store, archiving });
  const crashAfter = config.ARCHIVER_CRASH_AFTER;
  const options = {
    ...runtime,
    store,
    owner: newLeaseOwner('archiver'),
    archiveAfterMs: config.ARCHIVE_AFTER ?? 0,
    segmentEntries: config.ARCHIVE_SEGMENT_ENTRIES,
    onRun: recordRun,
    onFailure: recordFailure,
    ...(crashAfter
      ? {
          afterStep: (step: string) => {
            if (step === crashAfter) process.kill(process.pid, 'SIGKILL');
          },
        }
      : {}),
  };
  if (once) {
    await archiveEveryLog(options);
    await runtime.redis.quit();
    return;
  }
  const archiver = archiving
    ? startArchiver({ ...options, intervalMs: config.ARCHIVE_INTERVAL })
    : undefined;
  runtime.logger.info(
    archiving
      ? { archiveAfterMs: config.ARCHIVE_AFTER, directory: store.location }
      : { directory: store.location },
    archiving ? 'archiving' : 'ARCHIVE_AFTER is not set: the archive is off',
  );
  serve(app, runtime, {
    name: 'archiver',
    port: config.ARCHIVER_PORT,
    beforeClose: async () => archiver?.stop(),
  });
};

void runMain(main);
