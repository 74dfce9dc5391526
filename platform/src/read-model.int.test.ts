import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  OutdatedReadModelError,
  openReadModel,
  READ_MODEL_VERSION,
  readModelVersion,
  readPositionSql,
  TASK_JSON_SQL,
  type TaskRow,
  taskFromRow,
} from './read-model';

const insertTask = (db: ReturnType<typeof openReadModel>, row: Partial<TaskRow>) =>
  db
    .prepare(`
      INSERT INTO tasks (id, project_id, title, description, status, assignee_id, priority, priority_rank,
        due_date, labels, created_by, created_at, updated_at, revision, comment_count, deleted, position)
      VALUES (@id, 'p1', @title, @description, 'pending', @assignee_id, 'high', 2, @due_date,
        @labels, 'u1', '2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z', 7, 3, 0, 't0:1-0')`)
    .run({ assignee_id: null, due_date: null, labels: '[]', ...row });

describe('answers SQLite builds', () => {
  it('TASK_JSON_SQL is byte for byte the JSON of taskFromRow, whatever the text holds', () => {
    const db = openReadModel(':memory:');
    const texts = [
      'plain',
      'quotes " and \\ backslash',
      'control \u0000 \u0001 \b \f \n \r \t \u001f and DEL \u007f',
      'unicode é 漢字 🎉 \u2028 \u2029',
      '',
    ];
    for (const [i, text] of texts.entries()) {
      insertTask(db, {
        id: `task-${i}`,
        title: text || 'x',
        description: text,
        assignee_id: i % 2 ? 'u2' : null,
        due_date: i % 2 ? null : '2026-12-24',
        labels: JSON.stringify(i % 2 ? [] : [text || 'y', 'b"c']),
      });
    }
    const rows = db
      .prepare(`SELECT t.*, ${TASK_JSON_SQL} AS json FROM tasks t ORDER BY t.id`)
      .all() as (TaskRow & { json: string })[];
    expect(rows).toHaveLength(texts.length);
    for (const row of rows) expect(row.json).toBe(JSON.stringify(taskFromRow(row)));
  });

  it('readPositionSql names every log of the layout by name, 0-0 for one without a checkpoint', () => {
    const db = openReadModel(':memory:');
    const position = () =>
      (
        db.prepare(`SELECT ${readPositionSql(['t0', 't1', 't2', 'id'])} AS p`).get() as {
          p: string;
        }
      ).p;
    expect(position()).toBe('id:0-0,t0:0-0,t1:0-0,t2:0-0');
    db.exec("INSERT INTO checkpoints VALUES ('t1', '5-0'), ('id', '9-1'), ('t0', '12-3')");
    expect(position()).toBe('id:9-1,t0:12-3,t1:5-0,t2:0-0');
    expect(() => readPositionSql(["t0'; DROP TABLE tasks; --"])).toThrow(/not a log name/);
  });
});

describe('the schema version (design §10, read-model upgrades)', () => {
  const path = () => join(mkdtempSync(join(tmpdir(), 'rm-version-')), 'read-model.sqlite');

  it('is recorded by a new model, and undefined for a file with no model yet', () => {
    const file = path();
    const empty = new Database(file);
    expect(readModelVersion(empty)).toBeUndefined();
    empty.close();
    const db = openReadModel(file);
    expect(readModelVersion(db)).toBe(READ_MODEL_VERSION);
    db.close();
    expect(readModelVersion(openReadModel(file))).toBe(READ_MODEL_VERSION);
  });

  it('refuses a model from before versions (1) without touching it', () => {
    const file = path();
    // A version-1 model in miniature: its tables had no meta, no projects.
    const old = new Database(file);
    old.exec(`CREATE TABLE tasks (id TEXT PRIMARY KEY, title TEXT NOT NULL);
      CREATE TABLE checkpoints (log TEXT PRIMARY KEY, entry_id TEXT NOT NULL) WITHOUT ROWID;
      INSERT INTO checkpoints VALUES ('t0', '5-0');`);
    expect(readModelVersion(old)).toBe(1);
    old.close();
    const bytes = readFileSync(file);
    let refused: unknown;
    try {
      openReadModel(file);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(OutdatedReadModelError);
    expect(refused).toMatchObject({ path: file, version: 1 });
    expect(readFileSync(file).equals(bytes)).toBe(true);
  });

  it('refuses a model newer than this code (a rollback) without touching it', () => {
    const file = path();
    openReadModel(file).close();
    const newer = new Database(file);
    newer
      .prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'")
      .run(String(READ_MODEL_VERSION + 1));
    newer.close();
    const bytes = readFileSync(file);
    expect(() => openReadModel(file)).toThrow(/newer than this code/);
    expect(readFileSync(file).equals(bytes)).toBe(true);
  });
});
