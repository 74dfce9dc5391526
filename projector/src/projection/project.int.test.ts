import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DomainEvent, StoredEvent, TaskEvent } from '@tasksync/contracts';
import { storedEvents } from '@tasksync/contracts/testing';
import { openReadModel, type ReadModelDb } from '@tasksync/platform/read-model';
import { describe, expect, it } from 'vitest';
import { dumpReadModel } from '../rebuild';
import { createProjection } from './project';

const taskId = '0190b6a0-0000-7000-8000-000000000001';
const alice = '0190b6a0-0000-7000-8000-0000000000a1';
const bob = '0190b6a0-0000-7000-8000-0000000000b1';
const commentId = '0190b6a0-0000-7000-8000-0000000000c1';

const freshModel = () =>
  openReadModel(join(mkdtempSync(join(tmpdir(), 'rm-')), 'read-model.sqlite'));

/** Every row of every table, in a stable order: "the read model" for comparisons. */
const dump = dumpReadModel;

const created: TaskEvent = {
  type: 'TaskCreated',
  data: {
    title: 'Write the design',
    description: 'all of it',
    status: 'pending',
    assigneeId: null,
    priority: 'high',
    dueDate: '2026-12-24',
    labels: ['docs', 'v1'],
    createdBy: alice,
  },
};

/**
 * Given these events (one task stream in log t0), then these rows; and the same
 * events applied a second time, past the checkpoint and around it, change nothing.
 */
const givenThen = (events: DomainEvent[], aggregateId = taskId) => {
  const db = freshModel();
  const projection = createProjection(db);
  const stored = storedEvents(aggregateId, events);
  projection.applyBatch('t0', stored);
  const once = dump(db);
  projection.applyBatch('t0', stored);
  expect(dump(db), 'a repeated batch changes nothing').toEqual(once);
  for (const event of stored) projection.applyEvent('t0', event);
  expect(dump(db), 'each event applied again, checkpoint aside, changes nothing').toEqual(once);
  return { db, stored, rows: once };
};

const counts = (db: ReadModelDb) =>
  Object.fromEntries(
    (
      db.prepare('SELECT kind, key, count FROM task_counts').all() as {
        kind: string;
        key: string;
        count: number;
      }[]
    ).map((r) => [`${r.kind}:${r.key}`, r.count]),
  );

const taskRow = (db: ReadModelDb) => db.prepare('SELECT * FROM tasks WHERE id = ?').get(taskId);

describe('projection, per event type (Given/Then, each applied twice)', () => {
  it('TaskCreated inserts the task, its labels, one activity row and the checkpoint', () => {
    const { rows, stored } = givenThen([created]);
    expect(rows.tasks).toEqual([
      {
        id: taskId,
        title: 'Write the design',
        description: 'all of it',
        status: 'pending',
        assignee_id: null,
        priority: 'high',
        priority_rank: 2,
        due_date: '2026-12-24',
        labels: '["docs","v1"]',
        created_by: alice,
        created_at: stored[0]!.at,
        updated_at: stored[0]!.at,
        revision: 0,
        comment_count: 0,
        deleted: 0,
        position: `t0:${stored[0]!.entryId}`,
      },
    ]);
    expect(rows.task_labels).toEqual([
      { task_id: taskId, label: 'docs' },
      { task_id: taskId, label: 'v1' },
    ]);
    expect(rows.activity).toEqual([
      expect.objectContaining({
        task_id: taskId,
        revision: 0,
        type: 'TaskCreated',
        actor: 'system',
      }),
    ]);
    expect(rows.checkpoints).toEqual([{ log: 't0', entry_id: stored[0]!.entryId }]);
    expect(rows.task_counts).toEqual([
      { kind: 'assignee', key: '', count: 1 },
      { kind: 'status', key: 'pending', count: 1 },
    ]);
  });

  it('TaskDetailsChanged changes only the fields it names, labels included', () => {
    const { db, rows } = givenThen([
      created,
      {
        type: 'TaskDetailsChanged',
        data: { title: 'Rewrite the design', dueDate: null, labels: ['v2'] },
      },
    ]);
    expect(taskRow(db)).toMatchObject({
      title: 'Rewrite the design',
      description: 'all of it',
      priority: 'high',
      due_date: null,
      labels: '["v2"]',
      revision: 1,
    });
    expect(rows.task_labels).toEqual([{ task_id: taskId, label: 'v2' }]);
    const fts = db.prepare("SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH 'rewrite'").all();
    expect(fts).toHaveLength(1);
    expect(
      db.prepare("SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH 'write'").all(),
    ).toHaveLength(0);
  });

  it('TaskDetailsChanged of the priority keeps its sort rank in step', () => {
    const { db } = givenThen([
      created,
      { type: 'TaskDetailsChanged', data: { priority: 'urgent' } },
    ]);
    expect(taskRow(db)).toMatchObject({ priority: 'urgent', priority_rank: 3 });
  });

  it('TaskStatusChanged moves the task', () => {
    const { db } = givenThen([
      created,
      { type: 'TaskStatusChanged', data: { from: 'pending', to: 'in-progress' } },
    ]);
    expect(taskRow(db)).toMatchObject({ status: 'in-progress', revision: 1 });
    expect(counts(db)).toEqual({ 'assignee:': 1, 'status:pending': 0, 'status:in-progress': 1 });
  });

  it('TaskAssigned sets and clears the assignee', () => {
    const { db } = givenThen([
      created,
      { type: 'TaskAssigned', data: { assigneeId: bob, previous: null } },
    ]);
    expect(taskRow(db)).toMatchObject({ assignee_id: bob });
    const { db: cleared } = givenThen([
      created,
      { type: 'TaskAssigned', data: { assigneeId: bob, previous: null } },
      { type: 'TaskAssigned', data: { assigneeId: null, previous: bob } },
    ]);
    expect(taskRow(cleared)).toMatchObject({ assignee_id: null, revision: 2 });
    expect(counts(cleared)).toEqual({
      'assignee:': 1,
      [`assignee:${bob}`]: 0,
      'status:pending': 1,
    });
  });

  it('CommentAdded stores the comment and counts it once', () => {
    const { db, rows } = givenThen([
      created,
      { type: 'CommentAdded', data: { commentId, text: 'Looks good', authorId: bob } },
    ]);
    expect(taskRow(db)).toMatchObject({ comment_count: 1, revision: 1 });
    expect(rows.comments).toEqual([
      expect.objectContaining({
        id: commentId,
        task_id: taskId,
        author_id: bob,
        text: 'Looks good',
      }),
    ]);
  });

  it('TaskDeleted marks the task deleted and keeps its history', () => {
    const { db, rows } = givenThen([created, { type: 'TaskDeleted', data: {} }]);
    expect(taskRow(db)).toMatchObject({ deleted: 1, revision: 1 });
    expect(counts(db)).toEqual({ 'assignee:': 0, 'status:pending': 0 });
    expect(rows.activity).toHaveLength(2);
  });

  it('UserRegistered and UserRoleChanged keep the users table', () => {
    const { rows } = givenThen(
      [
        { type: 'UserRegistered', data: { email: 'a@example.com', name: 'A', role: 'member' } },
        { type: 'UserRoleChanged', data: { from: 'member', to: 'admin' } },
      ],
      alice,
    );
    expect(rows.users).toEqual([
      expect.objectContaining({
        id: alice,
        email: 'a@example.com',
        name: 'A',
        role: 'admin',
        revision: 1,
      }),
    ]);
  });
});

describe('batches and checkpoints', () => {
  it('applies only what lies above the checkpoint, so overlapping batches never double', () => {
    const db = freshModel();
    const projection = createProjection(db);
    const events = storedEvents(taskId, [
      created,
      ...Array.from(
        { length: 5 },
        (_, i): TaskEvent => ({
          type: 'CommentAdded',
          data: {
            commentId: `0190b6a0-0000-7000-8000-00000000010${i}`,
            text: `c${i}`,
            authorId: bob,
          },
        }),
      ),
    ]) as StoredEvent[];
    expect(projection.applyBatch('t0', events.slice(0, 3))).toEqual({
      applied: 3,
      checkpoint: events[2]!.entryId,
    });
    expect(projection.applyBatch('t0', events.slice(1))).toEqual({
      applied: 3,
      checkpoint: events[5]!.entryId,
    });
    expect(taskRow(db)).toMatchObject({ comment_count: 5, revision: 5 });
    expect(projection.applyBatch('t0', events)).toEqual({
      applied: 0,
      checkpoint: events[5]!.entryId,
    });
  });

  it('keeps one checkpoint per log', () => {
    const db = freshModel();
    const projection = createProjection(db);
    projection.applyBatch('t0', storedEvents(taskId, [created]));
    projection.applyBatch(
      'id',
      storedEvents(alice, [
        { type: 'UserRegistered', data: { email: 'a@example.com', name: 'A', role: 'member' } },
      ]),
    );
    expect(projection.checkpoint('t0')).toBe('1000-0');
    expect(projection.checkpoint('id')).toBe('1000-0');
    expect(projection.checkpoint('t1')).toBeUndefined();
  });
});

describe('batches fold tasks in memory', () => {
  const carol = '0190b6a0-0000-7000-8000-0000000000c2';
  const taskIds = [1, 2, 3].map((n) => `0190b6a0-0000-7000-8000-00000000000${n}`);
  /** Three tasks whose events interleave in one log, each with a run of changes. */
  const interleaved = (): StoredEvent[] => {
    const perTask = taskIds.map((id, n) =>
      storedEvents(id, [
        { ...created, data: { ...created.data, title: `Task ${n} draft`, assigneeId: alice } },
        { type: 'TaskDetailsChanged', data: { title: `Task ${n} final`, labels: ['x', 'y'] } },
        { type: 'TaskStatusChanged', data: { from: 'pending', to: 'in-progress' } },
        { type: 'TaskAssigned', data: { assigneeId: bob, previous: alice } },
        {
          type: 'CommentAdded',
          data: { commentId: `0190b6a0-0000-7000-8000-0000000001${n}0`, text: 'hi', authorId: bob },
        },
        { type: 'TaskDetailsChanged', data: { description: `about ${n}`, priority: 'low' } },
        { type: 'TaskAssigned', data: { assigneeId: carol, previous: bob } },
        ...(n === 1 ? [{ type: 'TaskDeleted', data: {} } as TaskEvent] : []),
      ]),
    );
    const log: StoredEvent[] = [];
    for (let i = 0; i < 8; i++) for (const events of perTask) if (events[i]) log.push(events[i]!);
    return log.map((event, i) => ({ ...event, entryId: `${2_000 + i}-0` }));
  };
  const search = (db: ReadModelDb, word: string) =>
    db
      .prepare(
        'SELECT t.id FROM tasks t WHERE t.rowid IN (SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH ?) ORDER BY t.id',
      )
      .all(word)
      .map((row) => (row as { id: string }).id);

  it('builds the same rows and search index for any split into batches', () => {
    const events = interleaved();
    const build = (size: number) => {
      const db = freshModel();
      const projection = createProjection(db);
      for (let i = 0; i < events.length; i += size)
        projection.applyBatch('t0', events.slice(i, i + size));
      db.exec("INSERT INTO tasks_fts (tasks_fts) VALUES ('integrity-check')");
      return { db, rows: dump(db) };
    };
    const whole = build(events.length);
    expect(whole.rows.tasks).toHaveLength(3);
    expect(whole.rows.activity).toHaveLength(events.length);
    expect(counts(whole.db)).toEqual({
      [`assignee:${alice}`]: 0,
      [`assignee:${bob}`]: 0,
      [`assignee:${carol}`]: 2,
      'status:pending': 0,
      'status:in-progress': 2,
    });
    expect(search(whole.db, 'final')).toEqual(taskIds);
    expect(search(whole.db, 'draft')).toEqual([]);
    for (const size of [1, 2, 5]) {
      const split = build(size);
      expect(split.rows, `batches of ${size}`).toEqual(whole.rows);
      expect(search(split.db, 'final')).toEqual(taskIds);
      expect(search(split.db, 'draft')).toEqual([]);
    }
  });

  it('leaves nothing of a failed batch behind for the next one', () => {
    const db = freshModel();
    const projection = createProjection(db);
    const [first, ...rest] = storedEvents(taskId, [
      created,
      { type: 'TaskStatusChanged', data: { from: 'pending', to: 'completed' } },
    ]);
    const broken = { ...rest[0]!, type: 'TaskAssigned', data: null } as unknown as StoredEvent;
    expect(() => projection.applyBatch('t0', [first!, broken])).toThrow();
    expect(dump(db).tasks).toEqual([]);
    projection.applyBatch('t0', [first!, ...rest]);
    expect(taskRow(db)).toMatchObject({ status: 'completed', revision: 1 });
    expect(counts(db)).toEqual({ 'assignee:': 1, 'status:pending': 0, 'status:completed': 1 });
  });
});
