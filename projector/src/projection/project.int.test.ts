import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DomainEvent,
  GENERAL_PROJECT_ID,
  type StoredEvent,
  type TaskEvent,
} from '@tasksync/contracts';
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
const designProject = '0190b6a0-0000-7000-8000-0000000000d1';
const projectNames: Record<string, string> = {
  [GENERAL_PROJECT_ID]: 'general',
  [designProject]: 'design',
};

const freshModel = () =>
  openReadModel(join(mkdtempSync(join(tmpdir(), 'rm-')), 'read-model.sqlite'));

const created = taskCreated(alice, {
  title: 'Write the design',
  description: 'all of it',
  priority: 'high',
  dueDate: '2026-12-24',
  labels: ['docs', 'v1'],
});

/** The live-task counters of every project as `project/kind:key → count`. */
const counts = (db: ReadModelDb) =>
  Object.fromEntries(
    (
      db.prepare('SELECT project_id, kind, key, count FROM task_counts').all() as {
        project_id: string;
        kind: string;
        key: string;
        count: number;
      }[]
    ).map((r) => [`${projectNames[r.project_id] ?? r.project_id}/${r.kind}:${r.key}`, r.count]),
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
 * Given these events of one aggregate in a log (t0 unless named), projected
 * as one batch, then these rows. Every spec also delivers the events again:
 * as the same batch under the checkpoint, one by one past a lost checkpoint,
 * and each alone, latest first (a stale event arriving after newer ones). None
 * may change a row or the search index (style.md: every projection applied twice).
 */
const given = (events: DomainEvent[], aggregateId = taskId, log = 't0') => {
  const db = freshModel();
  const projection = createProjection(db);
  const stored = storedEvents(aggregateId, events);
  projection.applyBatch(log, stored);
  const model = dumpReadModel(db);
  projection.applyBatch(log, stored);
  expect(dumpReadModel(db), 'the batch delivered again changes nothing').toEqual(model);
  db.exec('DELETE FROM checkpoints');
  for (const event of stored) projection.applyBatch(log, [event]);
  expect(dumpReadModel(db), 'each event delivered again, checkpoint lost, changes nothing').toEqual(
    model,
  );
  const { checkpoints: _, ...rows } = model;
  for (const event of [...stored].reverse()) {
    db.exec('DELETE FROM checkpoints');
    projection.applyBatch(log, [event]);
    const { checkpoints: __, ...again } = dumpReadModel(db);
    expect(again, `${event.type} (revision ${event.rev}) alone, again, changes nothing`).toEqual(
      rows,
    );
  }

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
            project_id: GENERAL_PROJECT_ID,
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
          { project_id: GENERAL_PROJECT_ID, kind: 'assignee', key: '', count: 1 },
          { project_id: GENERAL_PROJECT_ID, kind: 'status', key: 'pending', count: 1 },
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
      .thenCounts({
        'general/assignee:': 1,
        'general/status:pending': 0,
        'general/status:in-progress': 1,
      });
  });

  it('TaskAssigned sets the assignee', () => {
    given([created, { type: 'TaskAssigned', data: { assigneeId: bob, previous: null } }])
      .thenTask({ assignee_id: bob })
      .thenCounts({
        'general/assignee:': 0,
        [`general/assignee:${bob}`]: 1,
        'general/status:pending': 1,
      });
  });

  it('TaskAssigned to nobody clears the assignee', () => {
    given([
      created,
      { type: 'TaskAssigned', data: { assigneeId: bob, previous: null } },
      { type: 'TaskAssigned', data: { assigneeId: null, previous: bob } },
    ])
      .thenTask({ assignee_id: null, revision: 2 })
      .thenCounts({
        'general/assignee:': 1,
        [`general/assignee:${bob}`]: 0,
        'general/status:pending': 1,
      });
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
      .thenCounts({ 'general/assignee:': 0, 'general/status:pending': 0 })
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

  it('TaskCreated puts the task in the project it names', () => {
    given([taskCreated(alice, { projectId: designProject })])
      .thenTask({ project_id: designProject })
      .thenCounts({ 'design/assignee:': 1, 'design/status:pending': 1 });
  });

  it('TaskMoved moves the task and its counts to the other project, and records it in the history', () => {
    const spec = given([
      taskCreated(alice, { title: 'Write the design', assigneeId: bob }),
      { type: 'CommentAdded', data: { commentId, text: 'Looks good', authorId: bob } },
      { type: 'TaskMoved', data: { from: GENERAL_PROJECT_ID, to: designProject } },
    ]);
    const moved = spec.stored[2]!;
    spec
      .thenTask({
        project_id: designProject,
        revision: 2,
        updated_at: moved.at,
        position: `t0:${moved.entryId}`,
        comment_count: 1,
        deleted: 0,
      })
      .thenCounts({
        [`general/assignee:${bob}`]: 0,
        'general/status:pending': 0,
        [`design/assignee:${bob}`]: 1,
        'design/status:pending': 1,
      })
      .thenRows({
        activity: [
          expect.objectContaining({ revision: 0, type: 'TaskCreated' }),
          expect.objectContaining({ revision: 1, type: 'CommentAdded' }),
          {
            task_id: taskId,
            revision: 2,
            position: `t0:${moved.entryId}`,
            type: 'TaskMoved',
            actor: 'system',
            at: moved.at,
            data: JSON.stringify({ from: GENERAL_PROJECT_ID, to: designProject }),
          },
        ],
        // Comments and the search entry stay with the task.
        comments: [expect.objectContaining({ id: commentId, task_id: taskId })],
      })
      .thenFinds('design', [taskId]);
  });

  it('TaskMoved: what the task takes afterwards is counted in its new project', () => {
    given([
      created,
      { type: 'TaskMoved', data: { from: GENERAL_PROJECT_ID, to: designProject } },
      { type: 'TaskStatusChanged', data: { from: 'pending', to: 'in-progress' } },
      { type: 'TaskAssigned', data: { assigneeId: carol, previous: null } },
    ]).thenCounts({
      'general/assignee:': 0,
      'general/status:pending': 0,
      'design/assignee:': 0,
      [`design/assignee:${carol}`]: 1,
      'design/status:pending': 0,
      'design/status:in-progress': 1,
    });
  });

  it('TaskMoved and back counts the task once, where it ends', () => {
    given([
      created,
      { type: 'TaskMoved', data: { from: GENERAL_PROJECT_ID, to: designProject } },
      { type: 'TaskMoved', data: { from: designProject, to: GENERAL_PROJECT_ID } },
    ])
      .thenTask({ project_id: GENERAL_PROJECT_ID, revision: 2 })
      .thenCounts({
        'general/assignee:': 1,
        'general/status:pending': 1,
        'design/assignee:': 0,
        'design/status:pending': 0,
      });
  });

  it('TaskMoved of a deleted task moves it, but no counts (it is counted nowhere)', () => {
    given([
      created,
      { type: 'TaskDeleted', data: {} },
      { type: 'TaskMoved', data: { from: GENERAL_PROJECT_ID, to: designProject } },
    ])
      .thenTask({ project_id: designProject, deleted: 1, revision: 2 })
      .thenCounts({ 'general/assignee:': 0, 'general/status:pending': 0 });
  });
});

const projectId = designProject;
const projectCreated: DomainEvent = {
  type: 'ProjectCreated',
  data: { name: 'Design', description: 'the docs', visibility: 'private', ownerId: alice },
};
/** A project's events are in the project log. */
const givenProject = (events: DomainEvent[]) => given(events, projectId, 'p');

describe('projects: given project events, then rows (each delivered again, changing nothing)', () => {
  it('ProjectCreated inserts the project, its creator as owner and the p checkpoint', () => {
    const spec = givenProject([projectCreated]);
    const [event] = spec.stored;
    spec.thenRows({
      projects: [
        {
          id: projectId,
          name: 'Design',
          description: 'the docs',
          visibility: 'private',
          owner_id: alice,
          archived: 0,
          created_at: event!.at,
          updated_at: event!.at,
          revision: 0,
          position: `p:${event!.entryId}`,
        },
      ],
      project_members: [
        { project_id: projectId, user_id: alice, role: 'owner', added_at: event!.at },
      ],
      checkpoints: [{ log: 'p', entry_id: event!.entryId }],
      tasks: [],
      activity: [],
      task_counts: [],
    });
  });

  it('ProjectCreated by the system (the General project) has no members', () => {
    given(
      [
        {
          type: 'ProjectCreated',
          data: { name: 'General', description: '', visibility: 'open', ownerId: 'system' },
        },
      ],
      GENERAL_PROJECT_ID,
      'p',
    ).thenRows({
      projects: [
        expect.objectContaining({ id: GENERAL_PROJECT_ID, owner_id: 'system', visibility: 'open' }),
      ],
      project_members: [],
    });
  });

  it('ProjectDetailsChanged changes only the fields it names', () => {
    const spec = givenProject([
      projectCreated,
      { type: 'ProjectDetailsChanged', data: { name: 'Design docs' } },
    ]);
    const changed = spec.stored[1]!;
    spec.thenRows({
      projects: [
        expect.objectContaining({
          name: 'Design docs',
          description: 'the docs',
          revision: 1,
          updated_at: changed.at,
          position: `p:${changed.entryId}`,
        }),
      ],
    });
    givenProject([
      projectCreated,
      { type: 'ProjectDetailsChanged', data: { description: '' } },
    ]).thenRows({ projects: [expect.objectContaining({ name: 'Design', description: '' })] });
  });

  it('ProjectVisibilityChanged sets the visibility', () => {
    givenProject([
      projectCreated,
      { type: 'ProjectVisibilityChanged', data: { from: 'private', to: 'open' } },
    ]).thenRows({ projects: [expect.objectContaining({ visibility: 'open', revision: 1 })] });
  });

  it('ProjectArchived archives and ProjectRestored restores', () => {
    givenProject([projectCreated, { type: 'ProjectArchived', data: {} }]).thenRows({
      projects: [expect.objectContaining({ archived: 1, revision: 1 })],
    });
    givenProject([
      projectCreated,
      { type: 'ProjectArchived', data: {} },
      { type: 'ProjectRestored', data: {} },
    ]).thenRows({ projects: [expect.objectContaining({ archived: 0, revision: 2 })] });
  });

  it('MemberAdded adds a member with the role, keeping the project row in step', () => {
    const spec = givenProject([
      projectCreated,
      { type: 'MemberAdded', data: { userId: bob, role: 'viewer' } },
    ]);
    const added = spec.stored[1]!;
    spec.thenRows({
      projects: [
        expect.objectContaining({
          revision: 1,
          updated_at: added.at,
          position: `p:${added.entryId}`,
        }),
      ],
      project_members: [
        expect.objectContaining({ user_id: alice, role: 'owner' }),
        { project_id: projectId, user_id: bob, role: 'viewer', added_at: added.at },
      ],
    });
  });

  it('MemberRoleChanged changes the role, and only that member’s', () => {
    givenProject([
      projectCreated,
      { type: 'MemberAdded', data: { userId: bob, role: 'viewer' } },
      { type: 'MemberAdded', data: { userId: carol, role: 'viewer' } },
      { type: 'MemberRoleChanged', data: { userId: bob, from: 'viewer', to: 'editor' } },
    ]).thenRows({
      project_members: [
        expect.objectContaining({ user_id: alice, role: 'owner' }),
        expect.objectContaining({ user_id: bob, role: 'editor' }),
        expect.objectContaining({ user_id: carol, role: 'viewer' }),
      ],
    });
  });

  it('MemberRemoved removes the member; one who comes back is a member again', () => {
    givenProject([
      projectCreated,
      { type: 'MemberAdded', data: { userId: bob, role: 'editor' } },
      { type: 'MemberRemoved', data: { userId: bob, by: alice } },
    ]).thenRows({
      projects: [expect.objectContaining({ revision: 2 })],
      project_members: [expect.objectContaining({ user_id: alice, role: 'owner' })],
    });
    const spec = givenProject([
      projectCreated,
      { type: 'MemberAdded', data: { userId: bob, role: 'editor' } },
      { type: 'MemberRemoved', data: { userId: bob, by: bob } },
      { type: 'MemberAdded', data: { userId: bob, role: 'viewer' } },
    ]);
    spec.thenRows({
      project_members: [
        expect.objectContaining({ user_id: alice, role: 'owner' }),
        { project_id: projectId, user_id: bob, role: 'viewer', added_at: spec.stored[3]!.at },
      ],
    });
  });

  it('a member event of an unknown project changes nothing', () => {
    const db = freshModel();
    const [, added] = storedEvents(projectId, [
      projectCreated,
      { type: 'MemberAdded', data: { userId: bob, role: 'viewer' } },
    ]);
    createProjection(db).applyBatch('p', [added!]);
    expect(dumpReadModel(db)).toMatchObject({ projects: [], project_members: [] });
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
      [`general/assignee:${alice}`]: 0,
      [`general/assignee:${bob}`]: 0,
      [`general/assignee:${carol}`]: 2,
      'general/status:pending': 0,
      'general/status:in-progress': 2,
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
    expect(counts(db)).toEqual({
      'general/assignee:': 1,
      'general/status:pending': 0,
      'general/status:completed': 1,
    });
    expect(search(db, 'design')).toEqual([taskId]);
  });
});
