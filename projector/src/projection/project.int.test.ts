import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DomainEvent, StoredEvent, TaskEvent } from '@tasksync/contracts';
import { storedEvents, taskCreated } from '@tasksync/contracts/testing';
import { openReadModel, type ReadModelDb } from '@tasksync/platform/read-model';
import { describe, expect, it } from 'vitest';
import { dumpReadModel, type ReadModelDump } from '../rebuild';
import { createProjection } from './project';

const taskId = '0190b6a0-0000-7000-8000-000000000001';
const alice = '0190b6a0-0000-7000-8000-0000000000a1';
const bob = '0190b6a0-0000-7000-8000-0000000000b1';
const carol = '0190b6a0-0000-7000-8000-0000000000c2';
const commentId = '0190b6a0-0000-7000-8000-0000000000c1';

const freshModel = () =>
  openReadModel(join(mkdtempSync(join(tmpdir(), 'rm-')), 'read-model.sqlite'));

const created = taskCreated(alice, {
  title: 'Write the design',
  description: 'all of it',
  priority: 'high',
  dueDate: '2026-12-24',
  labels: ['docs', 'v1'],
});

/** The live-task counters as `kind:key → count`. */
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

/** The ids of the live and deleted tasks a full-text query finds. */
const search = (db: ReadModelDb, query: string) =>
  db
    .prepare(
      'SELECT t.id FROM tasks t WHERE t.rowid IN (SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH ?) ORDER BY t.id',
    )
    .all(query)
    .map((row) => (row as { id: string }).id);

/**
 * Given these events of one aggregate in log t0, projected as one batch, then
 * these rows. Every spec also delivers the events again, as the same batch
 * under the checkpoint and one by one past a lost checkpoint: neither may
 * change a row or the search index (style.md: every projection applied twice).
 */
const given = (events: DomainEvent[], aggregateId = taskId) => {
  const db = freshModel();
  const projection = createProjection(db);
  const stored = storedEvents(aggregateId, events);
  projection.applyBatch('t0', stored);
  const model = dumpReadModel(db);
  projection.applyBatch('t0', stored);
  expect(dumpReadModel(db), 'the batch delivered again changes nothing').toEqual(model);
  db.exec('DELETE FROM checkpoints');
  for (const event of stored) projection.applyBatch('t0', [event]);
  expect(dumpReadModel(db), 'each event delivered again, checkpoint lost, changes nothing').toEqual(
    model,
  );

  const then = {
    stored,
    /** Then these tables (or the search index, `tasks_fts`) hold exactly these rows. */
    thenRows: (expected: Partial<ReadModelDump>) => {
      for (const [part, rows] of Object.entries(expected))
        expect(model[part as keyof ReadModelDump], part).toEqual(rows);
      return then;
    },
    /** Then the task's row has these columns. */
    thenTask: (columns: Record<string, unknown>) => {
      expect(db.prepare('SELECT * FROM tasks WHERE id = ?').get(aggregateId)).toMatchObject(
        columns,
      );
      return then;
    },
    /** Then the live-task counters are exactly these. */
    thenCounts: (expected: Record<string, number>) => {
      expect(counts(db)).toEqual(expected);
      return then;
    },
    /** Then a full-text query finds exactly these tasks. */
    thenFinds: (query: string, ids: string[]) => {
      expect(search(db, query), `search for ${query}`).toEqual(ids);
      return then;
    },
  };
  return then;
};

describe('projection: given events, then rows (each delivered again, changing nothing)', () => {
  it('TaskCreated inserts the task, its labels, its search entry, one activity row and the checkpoint', () => {
    const spec = given([created]);
    const [event] = spec.stored;
    spec
      .thenRows({
        tasks: [
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
            created_at: event!.at,
            updated_at: event!.at,
            revision: 0,
            comment_count: 0,
            deleted: 0,
            position: `t0:${event!.entryId}`,
          },
        ],
        task_labels: [
          { task_id: taskId, label: 'docs' },
          { task_id: taskId, label: 'v1' },
        ],
        activity: [expect.objectContaining({ task_id: taskId, revision: 0, type: 'TaskCreated' })],
        checkpoints: [{ log: 't0', entry_id: event!.entryId }],
        task_counts: [
          { kind: 'assignee', key: '', count: 1 },
          { kind: 'status', key: 'pending', count: 1 },
        ],
      })
      .thenFinds('design', [taskId])
      .thenFinds('description:all', [taskId]);
  });

  it('TaskDetailsChanged changes only the fields it names, labels and search entry included', () => {
    given([
      created,
      {
        type: 'TaskDetailsChanged',
        data: { title: 'Rewrite the design', dueDate: null, labels: ['v2'] },
      },
    ])
      .thenTask({
        title: 'Rewrite the design',
        description: 'all of it',
        priority: 'high',
        due_date: null,
        labels: '["v2"]',
        revision: 1,
      })
      .thenRows({ task_labels: [{ task_id: taskId, label: 'v2' }] })
      .thenFinds('rewrite', [taskId])
      .thenFinds('write', [])
      .thenFinds('all', [taskId]);
  });

  it('TaskDetailsChanged of the priority keeps its sort rank in step', () => {
    given([created, { type: 'TaskDetailsChanged', data: { priority: 'urgent' } }]).thenTask({
      priority: 'urgent',
      priority_rank: 3,
    });
  });

  it('TaskStatusChanged moves the task and its count', () => {
    given([created, { type: 'TaskStatusChanged', data: { from: 'pending', to: 'in-progress' } }])
      .thenTask({ status: 'in-progress', revision: 1 })
      .thenCounts({ 'assignee:': 1, 'status:pending': 0, 'status:in-progress': 1 });
  });

  it('TaskAssigned sets the assignee', () => {
    given([created, { type: 'TaskAssigned', data: { assigneeId: bob, previous: null } }])
      .thenTask({ assignee_id: bob })
      .thenCounts({ 'assignee:': 0, [`assignee:${bob}`]: 1, 'status:pending': 1 });
  });

  it('TaskAssigned to nobody clears the assignee', () => {
    given([
      created,
      { type: 'TaskAssigned', data: { assigneeId: bob, previous: null } },
      { type: 'TaskAssigned', data: { assigneeId: null, previous: bob } },
    ])
      .thenTask({ assignee_id: null, revision: 2 })
      .thenCounts({ 'assignee:': 1, [`assignee:${bob}`]: 0, 'status:pending': 1 });
  });

  it('CommentAdded stores the comment and counts it once', () => {
    given([
      created,
      { type: 'CommentAdded', data: { commentId, text: 'Looks good', authorId: bob } },
    ])
      .thenTask({ comment_count: 1, revision: 1 })
      .thenRows({
        comments: [
          expect.objectContaining({
            id: commentId,
            task_id: taskId,
            author_id: bob,
            text: 'Looks good',
          }),
        ],
      });
  });

  it('TaskDeleted marks the task deleted, uncounts it and keeps its history and search entry', () => {
    given([created, { type: 'TaskDeleted', data: {} }])
      .thenTask({ deleted: 1, revision: 1 })
      .thenCounts({ 'assignee:': 0, 'status:pending': 0 })
      .thenRows({
        activity: [
          expect.objectContaining({ revision: 0, type: 'TaskCreated' }),
          expect.objectContaining({ revision: 1, type: 'TaskDeleted' }),
        ],
      })
      .thenFinds('design', [taskId]);
  });

  it('UserRegistered and UserRoleChanged keep the users table', () => {
    given(
      [
        { type: 'UserRegistered', data: { email: 'a@example.com', name: 'A', role: 'member' } },
        { type: 'UserRoleChanged', data: { from: 'member', to: 'admin' } },
      ],
      alice,
    ).thenRows({
      users: [
        expect.objectContaining({
          id: alice,
          email: 'a@example.com',
          name: 'A',
          role: 'admin',
          revision: 1,
        }),
      ],
      tasks: [],
      activity: [],
    });
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
    expect(db.prepare('SELECT * FROM tasks WHERE id = ?').get(taskId)).toMatchObject({
      comment_count: 5,
      revision: 5,
    });
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
  const taskIds = [1, 2, 3].map((n) => `0190b6a0-0000-7000-8000-00000000000${n}`);
  /** Three tasks whose events interleave in one log, each with a run of changes. */
  const interleaved = (): StoredEvent[] => {
    const perTask = taskIds.map((id, n) =>
      storedEvents(id, [
        taskCreated(alice, { title: `Task ${n} draft`, assigneeId: alice }),
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

  it('builds the same rows and search index for any split into batches', () => {
    const events = interleaved();
    const build = (size: number) => {
      const db = freshModel();
      const projection = createProjection(db);
      for (let i = 0; i < events.length; i += size)
        projection.applyBatch('t0', events.slice(i, i + size));
      db.exec("INSERT INTO tasks_fts (tasks_fts) VALUES ('integrity-check')");
      return { db, rows: dumpReadModel(db) };
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
    expect(dumpReadModel(db).tasks).toEqual([]);
    projection.applyBatch('t0', [first!, ...rest]);
    expect(db.prepare('SELECT * FROM tasks WHERE id = ?').get(taskId)).toMatchObject({
      status: 'completed',
      revision: 1,
    });
    expect(counts(db)).toEqual({ 'assignee:': 1, 'status:pending': 0, 'status:completed': 1 });
    expect(search(db, 'design')).toEqual([taskId]);
  });
});
