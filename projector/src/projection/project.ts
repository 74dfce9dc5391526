import { formatPosition, isProjectEvent, isTaskEvent, type StoredEvent } from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { createActivityProjection } from './activity';
import { createCommentsProjection } from './comments';
import { createCountersProjection } from './counters';
import { createProjectsProjection } from './projects';
import { createSearchProjection } from './search';
import { createTasksProjection } from './tasks';
import { createUsersProjection } from './users';

export interface BatchResult {
  /** Events applied (those above the checkpoint). */
  applied: number;
  /** The log's checkpoint after the batch, if it has one. */
  checkpoint: string | undefined;
}

/** Decimal digit strings without leading zeros, compared by length first: no parsing. */
const compareDigits = (a: string, b: string) =>
  a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;

/** Compares two stream entry ids (`ms-seq`); cheaper than BigInt, run for every event. */
const compareIds = (a: string, b: string) => {
  const ad = a.indexOf('-');
  const bd = b.indexOf('-');
  return (
    compareDigits(a.slice(0, ad), b.slice(0, bd)) || compareDigits(a.slice(ad + 1), b.slice(bd + 1))
  );
};

/**
 * The projection: events in, read-model rows out, one module per read-model
 * concern. The same code serves the live projector and the replay CLI
 * (design §5). Each handler is idempotent on its own (a task takes an event
 * only for a higher revision, inserts ignore repeats), and a batch skips what
 * the log's checkpoint already covers.
 *
 * Tasks, counters and the search index are folded in memory and written once
 * when the batch ends, in its transaction; the result is the same for any
 * split into batches, so the live projector and a replay build the same rows.
 */
export const createProjection = (db: ReadModelDb) => {
  const readCheckpoint = db.prepare<[string], { entry_id: string }>(
    'SELECT entry_id FROM checkpoints WHERE log = ?',
  );
  const writeCheckpoint = db.prepare(
    'INSERT INTO checkpoints (log, entry_id) VALUES (?, ?) ON CONFLICT (log) DO UPDATE SET entry_id = excluded.entry_id',
  );
  const users = createUsersProjection(db);
  const projects = createProjectsProjection(db);
  const tasks = createTasksProjection(db);
  const comments = createCommentsProjection(db);
  const activity = createActivityProjection(db);
  const counters = createCountersProjection(db);
  const search = createSearchProjection(db);

  /** Applies one event to the batch in hand. */
  const fold = (log: string, event: StoredEvent) => {
    if (isProjectEvent(event)) {
      projects.fold(event, formatPosition(log, event.entryId));
      return;
    }
    if (!isTaskEvent(event)) {
      users.fold(event);
      return;
    }
    const position = formatPosition(log, event.entryId);
    const task = tasks.fold(event, position);
    // A repeat (the task already has this revision) changes nothing anywhere.
    if (!task) return;
    comments.fold(event, position);
    activity.fold(event, position);
    counters.fold(event, task.row);
    search.fold(event, task);
  };

  /** Writes what the batch has folded; the search index last, as it needs the new rows' rowids. */
  const flush = () => {
    tasks.flush();
    counters.flush();
    search.flush();
  };

  /** Forgets what the batch folded, written or failed (rolled back): nothing leaks into the next one. */
  const clear = () => {
    tasks.clear();
    counters.clear();
    search.clear();
  };

  /** One transaction: the events above the log's checkpoint, and the new checkpoint. */
  const applyBatch = db.transaction((log: string, events: StoredEvent[]): BatchResult => {
    let checkpoint = readCheckpoint.get(log)?.entry_id;
    let applied = 0;
    try {
      for (const event of events) {
        if (checkpoint !== undefined && compareIds(event.entryId, checkpoint) <= 0) continue;
        fold(log, event);
        checkpoint = event.entryId;
        applied++;
      }
      flush();
    } finally {
      clear();
    }
    if (applied) writeCheckpoint.run(log, checkpoint);
    return { applied, checkpoint };
  });

  return {
    applyBatch: (log: string, events: StoredEvent[]) => applyBatch(log, events),
    checkpoint: (log: string) => readCheckpoint.get(log)?.entry_id,
  };
};

export type Projection = ReturnType<typeof createProjection>;
