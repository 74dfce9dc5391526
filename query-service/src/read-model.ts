import { statSync } from 'node:fs';
import {
  compareEntryIds,
  GENERAL_PROJECT_ID,
  type KeyLayout,
  type Position,
  problems,
} from '@tasksync/contracts';
import type { Logger, RedisClient } from '@tasksync/platform';
import {
  openReadModelReadOnly,
  type ReadModelDb,
  readCheckpoints,
  readPositionSql,
} from '@tasksync/platform/read-model';

export interface PreparedRead {
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
}

const statements = new WeakMap<ReadModelDb, Map<string, PreparedRead>>();

/** A statement prepared once per handle and SQL text: preparing costs more than most reads. */
export const prepared = (db: ReadModelDb, sql: string): PreparedRead => {
  let byText = statements.get(db);
  if (!byText) {
    byText = new Map();
    statements.set(db, byText);
  }
  let statement = byText.get(sql);
  if (!statement) {
    statement = db.prepare(sql) as PreparedRead;
    byText.set(sql, statement);
  }
  return statement;
};

/** What reads need to know of the model a handle reads, found once when it is opened. */
export interface ModelShape {
  /** A model from before projects (schema version 1), read through `readVersion1AsCurrent`. */
  version1: boolean;
  /**
   * Sort fields whose key an index keeps in order within each project, after
   * (project_id, deleted): a project's tasks then come sorted, with no sort step.
   */
  projectOrdered: ReadonlySet<string>;
}

const shapes = new WeakMap<ReadModelDb, ModelShape>();

/** The shape of the model a handle reads (as found when it was opened). */
export const modelShape = (db: ReadModelDb): ModelShape => {
  let shape = shapes.get(db);
  if (!shape) {
    shape = findShape(db);
    shapes.set(db, shape);
  }
  return shape;
};

const SORT_COLUMNS: Record<string, string> = { updated_at: 'updatedAt', created_at: 'createdAt' };

const findShape = (db: ReadModelDb): ModelShape => {
  // By the columns, not the recorded version: a v2 model being created has its
  // tables before its version row.
  const version1 =
    db
      .prepare("SELECT 1 FROM pragma_table_info('tasks', 'main') WHERE name = 'project_id'")
      .get() === undefined;
  if (version1) return { version1, projectOrdered: new Set(['updatedAt', 'createdAt']) };
  const indexes = db
    .prepare(
      `SELECT (SELECT group_concat(c.name, ',' ORDER BY c.seqno) FROM pragma_index_info(i.name, 'main') c)
         AS columns FROM pragma_index_list('tasks', 'main') i`,
    )
    .all() as { columns: string | null }[];
  const projectOrdered = new Set<string>();
  for (const { columns } of indexes) {
    const [project, deleted, key, id] = columns?.split(',') ?? [];
    const sort = key === undefined ? undefined : SORT_COLUMNS[key];
    if (project === 'project_id' && deleted === 'deleted' && id === 'id' && sort)
      projectOrdered.add(sort);
  }
  return { version1, projectOrdered };
};

/**
 * Reads a model from before projects (version 1: no project_id on tasks, no
 * projects, members or per-project counts) as the current schema, with every
 * task in the open General project, as the v1 → v2 upcaster puts them: TEMP
 * views on this read-only handle (the temp schema is the connection's own and
 * writable; unqualified names find it before main) shadow what is missing, so
 * every read's SQL runs unchanged until the projector's rebuilt model replaces
 * the file. The tasks view names rowid, which the full-text join reads.
 */
const readVersion1AsCurrent = (db: ReadModelDb) => {
  const general = `'${GENERAL_PROJECT_ID}'`;
  const epoch = "'1970-01-01T00:00:00.000Z'";
  db.exec(`
    CREATE TEMP VIEW tasks AS SELECT rowid AS rowid, *, ${general} AS project_id FROM main.tasks;
    CREATE TEMP VIEW task_counts AS
      SELECT ${general} AS project_id, kind, key, count FROM main.task_counts;
    CREATE TEMP VIEW projects (id, name, description, visibility, owner_id, archived, created_at,
      updated_at, revision, position) AS
      VALUES (${general}, 'General', '', 'open', 'system', 0, ${epoch}, ${epoch}, 0, '');
    CREATE TEMP VIEW project_members (project_id, user_id, role, added_at) AS
      SELECT '', '', '', '' WHERE 0;
  `);
};

export const DEFAULT_MAX_WAIT_MS = 2_000;
export const MAX_WAIT_MS = 10_000;

/**
 * The read model as the query-service sees it: opened read-only once the
 * projector has created it, with its checkpoints, and a way to wait until it
 * has applied given positions (read-your-writes, design §6).
 */
export const createReadModelAccess = (options: {
  path: string;
  subscriber: RedisClient;
  keys: KeyLayout;
  group: string;
  logger: Logger;
}) => {
  let db: ReadModelDb | undefined;
  // The file the handle reads (the link's target when READ_MODEL_PATH is a symlink).
  let file: { dev: number; ino: number } | undefined;
  // One deferred transaction wrapper, made once per handle: every read sees one snapshot.
  let inSnapshot: ((read: () => unknown) => unknown) | undefined;
  const waiters = new Set<() => void>();
  const wakeAll = () => {
    for (const wake of waiters) wake();
  };
  const checkpointChannel = options.keys.checkpointChannel(options.group);
  const positionSql = readPositionSql(options.keys.logs().map((log) => log.name));
  const positionQuery = `SELECT ${positionSql} AS position`;
  const controlChannel = options.keys.readModelControl(options.group);
  // The projector announces every checkpoint after its commit; waiters re-check then.
  // replay --swap announces a new file on the control channel.
  void options.subscriber
    .subscribe(checkpointChannel, controlChannel)
    .catch((error) =>
      options.logger.warn({ err: error }, 'cannot subscribe to read-model notices; polling only'),
    );
  options.subscriber.on('message', (channel: string, message: string) => {
    if (channel === controlChannel && message === 'swapped') switchIfReplaced();
    wakeAll();
  });

  const statFile = () => {
    try {
      const { dev, ino } = statSync(options.path);
      return { dev, ino };
    } catch {
      return undefined;
    }
  };

  /** A read-only handle on the file at the path, once the projector has built its tables. */
  const openBuilt = () => {
    const handle = openReadModelReadOnly(options.path);
    if (!handle.prepare("SELECT 1 FROM sqlite_master WHERE name = 'checkpoints'").get()) {
      handle.close();
      return undefined;
    }
    if (modelShape(handle).version1) {
      readVersion1AsCurrent(handle);
      options.logger.info(
        { path: options.path },
        'reading a version 1 read model: every task in the General project until it is rebuilt',
      );
    }
    return handle;
  };

  const use = (handle: ReadModelDb, at: { dev: number; ino: number }) => {
    const previous = db;
    db = handle;
    file = at;
    inSnapshot = db.transaction((read: () => unknown) => read());
    // Reads are synchronous, so none is running on the old handle now.
    previous?.close();
  };

  const open = () => {
    if (!db) {
      const at = statFile();
      const handle = at && openBuilt();
      if (handle) use(handle, at);
    }
    return db;
  };

  /**
   * replay --swap points the path at a new file: the next read uses it. The
   * old handle keeps its own file (and WAL) until it is closed here.
   */
  const switchIfReplaced = () => {
    if (!db || !file) return;
    const at = statFile();
    if (!at || (at.dev === file.dev && at.ino === file.ino)) return;
    try {
      const handle = openBuilt();
      if (!handle) return;
      use(handle, at);
      options.logger.info({ path: options.path }, 'switched to the new read model file');
    } catch (error) {
      options.logger.warn({ err: error }, 'cannot open the new read model file yet');
    }
  };
  // A notice missed while Redis reconnected is caught within a second.
  const watch = setInterval(switchIfReplaced, 1_000);
  watch.unref();

  const current = (): ReadModelDb => {
    const handle = open();
    if (!handle)
      throw problems.unavailable('read-model-unavailable', 'The read model is not built yet.', 1);
    return handle;
  };

  const checkpoints = (handle: ReadModelDb) =>
    new Map(readCheckpoints(handle).map((c) => [c.log, c.entry_id]));

  // A log without a checkpoint has had nothing applied: it stands at 0-0, as
  // X-Read-Position reports it, so a client echoing that position is not kept waiting.
  const reached = (handle: ReadModelDb, positions: Position[]) => {
    const applied = checkpoints(handle);
    return positions.every((p) => compareEntryIds(applied.get(p.log) ?? '0-0', p.entryId) >= 0);
  };

  return {
    db: current,
    /** Runs synchronous reads in one read transaction (one consistent snapshot). */
    snapshot: <T>(read: () => T): T => {
      current();
      return inSnapshot!(read) as T;
    },
    isOpen: () => open()?.open === true,
    /** Which file the handle reads; replay --swap changes it. */
    generation: () => (file ? `${file.dev}:${file.ino}` : ''),
    /**
     * `X-Read-Position`: one position per log of the layout (design §2), `0-0`
     * for a log the model has applied nothing of yet, so a client that resumes
     * from it (the live feed's `since`) knows every log's starting point.
     */
    readPosition: (handle: ReadModelDb) =>
      (prepared(handle, positionQuery).get() as { position: string }).position,
    /** The same as a scalar subquery, for reads that answer in one statement. */
    positionSql,
    /** Waits until every position is applied, or answers 503 projection-behind. */
    async waitFor(positions: Position[], maxWaitMs: number) {
      const deadline = Date.now() + maxWaitMs;
      for (;;) {
        const handle = open();
        if (handle && reached(handle, positions)) return;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw problems.unavailable(
            'projection-behind',
            'The read model has not reached the requested position yet.',
            1,
          );
        }
        // A notice wakes us at once; the short poll covers a missed one.
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            waiters.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, Math.min(left, 25));
          waiters.add(wake);
        });
      }
    },
    close: () => {
      clearInterval(watch);
      db?.close();
    },
  };
};

export type ReadModelAccess = ReturnType<typeof createReadModelAccess>;
