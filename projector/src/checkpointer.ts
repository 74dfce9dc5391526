import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Logger } from '@tasksync/platform';
import type { ReadModelDb } from '@tasksync/platform/read-model';

// Plain CommonJS so the worker needs no TypeScript loader, wherever it runs.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
const checkpoint = () => {
  const [result] = db.pragma('wal_checkpoint(PASSIVE)');
  parentPort.postMessage({ frames: result ? result.log : 0 });
};
const timer = setInterval(() => {
  try { checkpoint(); } catch (error) { parentPort.postMessage({ error: String(error) }); }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  try { db.pragma('wal_checkpoint(PASSIVE)'); } finally { db.close(); parentPort.close(); }
});
`;

const sqlitePath = createRequire(import.meta.url).resolve('better-sqlite3');

/** WAL frames (pages) after which the writer restarts the WAL itself. */
export const MAX_WAL_FRAMES = 2_000;

/**
 * Moves WAL checkpoints off the projector's thread. SQLite runs one inside a
 * commit once the WAL passes 1,000 pages, copying pages and fsyncing on the
 * event loop, so every thousandth commit stalls the projector for the whole
 * copy (a tenfold p99 for a one-event commit when it was measured). A worker with its own connection checkpoints passively
 * (never blocking the writer) every `intervalMs`. While the writer writes
 * without a pause, a passive checkpoint never completes and the WAL never
 * starts over, so past MAX_WAL_FRAMES the writer runs a RESTART between
 * batches, which then has little left to copy. If the worker dies, SQLite's
 * own checkpoints come back.
 */
export const startCheckpointer = (db: ReadModelDb, logger: Logger, intervalMs = 25) => {
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { sqlite: sqlitePath, path: db.name, intervalMs },
  });
  db.pragma('wal_autocheckpoint = 0');
  // A restarted WAL is cut back to this size, so a burst does not keep its space.
  db.pragma('journal_size_limit = 67108864');
  let frames = 0;
  let stopping = false;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('message', (report: { frames?: number; error?: string }) => {
    if (report.error) logger.warn({ error: report.error }, 'background WAL checkpoint failed');
    else frames = report.frames ?? 0;
  });
  worker.on('error', (error) => logger.error({ err: error }, 'WAL checkpointer failed'));
  void exited.then(() => {
    if (stopping || !db.open) return;
    logger.warn('WAL checkpointer stopped; SQLite checkpoints in the projector again');
    db.pragma('wal_autocheckpoint = 1000');
  });
  return {
    /** WAL frames as of the worker's last report: what `afterCommit` holds to its bound. */
    walFrames: () => frames,
    /** Call between transactions: restarts a WAL that has grown past its bound. */
    afterCommit: () => {
      if (frames <= MAX_WAL_FRAMES) return;
      frames = 0;
      db.pragma('wal_checkpoint(RESTART)');
    },
    stop: async () => {
      stopping = true;
      worker.postMessage('stop');
      await exited;
      if (db.open) db.pragma('wal_autocheckpoint = 1000');
    },
  };
};
