import { decodeEvent, fieldsToRecord, type KeyLayout } from '@tasksync/contracts';
import { createLogReader, type LogReader, type RedisClient } from '@tasksync/platform';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { createProjection } from './projection/project';

type Projection = ReturnType<typeof createProjection>;

/**
 * Applies a log's entries after the projection's checkpoint up to `until`
 * (inclusive; `+` for the end), read through `logReader` (the archive, then
 * Redis), in batches of one transaction each. Entries that do not decode are
 * skipped and told to `onSkip`, as the live projector dead-letters them.
 * Answers the events applied.
 */
export const applyLogRange = async (
  projection: Projection,
  logReader: LogReader,
  log: { name: string; key: string },
  options: {
    until: string;
    batchSize: number;
    onSkip?: ((entryId: string, error: unknown) => void) | undefined;
    onBatch?: ((applied: number) => void) | undefined;
    signal?: AbortSignal | undefined;
  },
) => {
  const { batchSize } = options;
  const fetchAfter = (after: string) =>
    logReader.readLogRange(log.key, after, batchSize, options.until);
  let applied = 0;
  // The next page is fetched while this one is applied: Redis works on the other core.
  let page = await fetchAfter(projection.checkpoint(log.name) ?? '0');
  while (page.length) {
    options.signal?.throwIfAborted();
    const next =
      page.length < batchSize ? Promise.resolve([]) : fetchAfter(page[page.length - 1]![0]);
    const events = page.flatMap(([id, fields]) => {
      try {
        return [decodeEvent(id, fieldsToRecord(fields))];
      } catch (error) {
        options.onSkip?.(id, error);
        return [];
      }
    });
    const batch = projection.applyBatch(log.name, events).applied;
    applied += batch;
    options.onBatch?.(batch);
    page = await next;
  }
  return applied;
};

/**
 * Builds a read model from position 0 of every log with the live projection
 * code, in batches of one transaction each, reading archived entries first
 * (`logReader`; Redis alone without). Sends no notifications.
 */
export const rebuildReadModel = async (
  db: ReadModelDb,
  redis: RedisClient,
  keys: KeyLayout,
  options: {
    batchSize?: number;
    onProgress?: (events: number) => void;
    /** An entry the live projector would have dead-lettered: skipped here too. */
    onSkip?: (entryId: string, error: unknown) => void;
    /** Stop at these entry ids (inclusive), per log name; the whole log otherwise. */
    until?: Map<string, string>;
    /** Stops between batches (the model keeps what was applied: it is consistent per batch). */
    signal?: AbortSignal;
    /** The logs with their archive (design §11). */
    logReader?: LogReader;
  } = {},
) => {
  const projection = createProjection(db);
  const logReader = options.logReader ?? createLogReader({ redis, keys });
  // A model being rebuilt is thrown away if the process dies, so it need not
  // wait for the disk on every commit; the live projector's file does.
  db.pragma('synchronous = OFF');
  let total = 0;
  for (const log of keys.logs()) {
    if (options.until && !options.until.has(log.name)) continue;
    await applyLogRange(projection, logReader, log, {
      until: options.until?.get(log.name) ?? '+',
      batchSize: options.batchSize ?? 1_000,
      onSkip: options.onSkip,
      signal: options.signal,
      onBatch: (applied) => {
        total += applied;
        options.onProgress?.(total);
      },
    });
  }
  db.pragma('synchronous = NORMAL');
  return total;
};

/** Every table of the model, by the columns that order its rows completely. */
/**
 * Entries in every log, archived ones too: what a rebuild from position 0 has
 * to apply (for progress: an entry archived but not yet trimmed counts twice).
 */
export const countLogEntries = async (
  redis: RedisClient,
  keys: KeyLayout,
  logReader: LogReader = createLogReader({ redis, keys }),
) =>
  (
    await Promise.all(
      keys
        .logs()
        .map(
          async (log) => (await redis.xlen(log.key)) + (await logReader.archived(log.key)).entries,
        ),
    )
  ).reduce((a, b) => a + b, 0);

const READ_MODEL_TABLES = {
  meta: 'key',
  tasks: 'id',
  task_labels: 'task_id, label',
  task_counts: 'project_id, kind, key',
  comments: 'id',
  activity: 'task_id, revision',
  users: 'id',
  projects: 'id',
  project_members: 'project_id, user_id',
  checkpoints: 'log',
} as const;

/** A read model as rows: each table's, and the search index's (`tasks_fts`). */
export type ReadModelDump = Record<keyof typeof READ_MODEL_TABLES | 'tasks_fts', unknown[]>;

/**
 * What the search index holds, by task id rather than rowid (a replay numbers
 * tasks in another order than the live projector): every indexed term with its
 * column and offset. `tasks_fts` itself reads its text from `tasks`, so only
 * the index tells a missing, stale or doubled entry.
 */
const SEARCH_INDEX = `SELECT coalesce(t.id, 'no task, rowid ' || i.doc) AS task_id, i.col, i.term, i."offset"
  FROM temp.tasks_fts_index i LEFT JOIN tasks t ON t.rowid = i.doc
  ORDER BY task_id, i.col, i."offset", i.term`;

/**
 * Every row of the model's tables and every entry of its search index, in a
 * stable order, in one read snapshot: "the read model" for comparisons.
 */
export const dumpReadModel = (db: ReadModelDb): ReadModelDump => {
  // In the connection's temp schema, so a read-only handle can dump too.
  db.exec(
    'CREATE VIRTUAL TABLE IF NOT EXISTS temp.tasks_fts_index USING fts5vocab(main, tasks_fts, instance)',
  );
  return db.transaction(() => {
    const tables = Object.entries(READ_MODEL_TABLES).map(
      ([table, order]) =>
        [table, db.prepare(`SELECT * FROM ${table} ORDER BY ${order}`).all()] as const,
    );
    return { ...Object.fromEntries(tables), tasks_fts: db.prepare(SEARCH_INDEX).all() };
  })() as ReadModelDump;
};
