import {
  type AuthContext,
  foldTask,
  GENERAL_PROJECT_ID,
  type TaskEvent,
  type TaskStatus,
} from '@tasksync/contracts';
import { deciderSpec } from '@tasksync/contracts/testing';
import { describe, it } from 'vitest';
import { decide } from './decide';

const taskId = '0190b6a0-0000-7000-8000-000000000001';
const creator: AuthContext = { userId: '0190b6a0-0000-7000-8000-0000000000c1', role: 'member' };
const assignee: AuthContext = { userId: '0190b6a0-0000-7000-8000-0000000000a1', role: 'member' };
const stranger: AuthContext = { userId: '0190b6a0-0000-7000-8000-0000000000f1', role: 'member' };
const admin: AuthContext = { userId: '0190b6a0-0000-7000-8000-0000000000ad', role: 'admin' };
const commentId = '0190b6a0-0000-7000-8000-0000000000cc';

const given = deciderSpec({ fold: (events) => foldTask(events), decide, aggregateId: taskId });
const as = (actor: AuthContext, assigneeRegistered = true) => ({ actor, assigneeRegistered });

const created = (
  overrides: Partial<Extract<TaskEvent, { type: 'TaskCreated' }>['data']> = {},
): TaskEvent => ({
  type: 'TaskCreated',
  data: {
    title: 'Write the design',
    description: '',
    status: 'pending',
    assigneeId: assignee.userId,
    priority: 'medium',
    dueDate: null,
    labels: [],
    createdBy: creator.userId,
    projectId: GENERAL_PROJECT_ID,
    ...overrides,
  },
});
const moved = (from: TaskStatus, to: TaskStatus): TaskEvent => ({
  type: 'TaskStatusChanged',
  data: { from, to },
});
const deleted: TaskEvent = { type: 'TaskDeleted', data: {} };

describe('CreateTask', () => {
  it('creates a pending, medium-priority task with defaults', () => {
    given([])
      .when({ type: 'CreateTask', fields: { title: 'Write the design' } }, as(creator))
      .thenAppends([created({ assigneeId: null })]);
  });
  it('keeps every field given', () => {
    given([])
      .when(
        {
          type: 'CreateTask',
          fields: {
            title: 'T',
            description: 'D',
            status: 'in-progress',
            assigneeId: assignee.userId,
            priority: 'urgent',
            dueDate: '2026-12-24',
            labels: ['a', 'b'],
          },
        },
        as(creator),
      )
      .thenAppends([
        created({
          title: 'T',
          description: 'D',
          status: 'in-progress',
          priority: 'urgent',
          dueDate: '2026-12-24',
          labels: ['a', 'b'],
        }),
      ]);
  });
  it('refuses an unregistered assignee with 422', () => {
    given([])
      .when(
        { type: 'CreateTask', fields: { title: 'T', assigneeId: stranger.userId } },
        as(creator, false),
      )
      .thenFails(422, 'unknown-assignee');
  });
  it('refuses to create a task that exists (409) or was deleted (410)', () => {
    given([created()])
      .when({ type: 'CreateTask', fields: { title: 'T' } }, as(creator))
      .thenFails(409, 'task-exists');
    given([created(), deleted])
      .when({ type: 'CreateTask', fields: { title: 'T' } }, as(creator))
      .thenFails(410, 'gone');
  });
});

describe('UpdateTask', () => {
  it('changes only the details that differ', () => {
    given([created({ labels: ['x'] })])
      .when(
        {
          type: 'UpdateTask',
          changes: {
            title: 'Write the design',
            description: 'new',
            labels: ['x'],
            priority: 'high',
          },
        },
        as(creator),
      )
      .thenAppends([
        { type: 'TaskDetailsChanged', data: { description: 'new', priority: 'high' } },
      ]);
  });
  it('clears a due date with null', () => {
    given([created({ dueDate: '2026-12-01' })])
      .when({ type: 'UpdateTask', changes: { dueDate: null } }, as(creator))
      .thenAppends([{ type: 'TaskDetailsChanged', data: { dueDate: null } }]);
  });
  it('appends nothing for a change that changes nothing', () => {
    given([created()])
      .when(
        {
          type: 'UpdateTask',
          changes: { title: 'Write the design', status: 'pending', assigneeId: assignee.userId },
        },
        as(creator),
      )
      .thenAppends([]);
  });
  it('emits details, status and assignment in that order from one request', () => {
    given([created()])
      .when(
        { type: 'UpdateTask', changes: { title: 'New', status: 'in-progress', assigneeId: null } },
        as(admin),
      )
      .thenAppends([
        { type: 'TaskDetailsChanged', data: { title: 'New' } },
        moved('pending', 'in-progress'),
        { type: 'TaskAssigned', data: { assigneeId: null, previous: assignee.userId } },
      ]);
  });

  const allowed: [TaskStatus, TaskStatus][] = [
    ['pending', 'in-progress'],
    ['in-progress', 'completed'],
    ['in-progress', 'pending'],
    ['completed', 'in-progress'],
  ];
  const history: Record<TaskStatus, TaskEvent[]> = {
    pending: [created()],
    'in-progress': [created(), moved('pending', 'in-progress')],
    completed: [created(), moved('pending', 'in-progress'), moved('in-progress', 'completed')],
  };
  for (const [from, to] of allowed) {
    it(`moves ${from} → ${to}`, () => {
      given(history[from])
        .when({ type: 'UpdateTask', changes: { status: to } }, as(assignee))
        .thenAppends([moved(from, to)]);
    });
  }
  for (const [from, to] of [
    ['pending', 'completed'],
    ['completed', 'pending'],
  ] as [TaskStatus, TaskStatus][]) {
    it(`refuses ${from} → ${to} with 409 naming the allowed moves`, () => {
      given(history[from])
        .when({ type: 'UpdateTask', changes: { status: to } }, as(creator))
        .thenFails(409, 'invalid-status-transition');
    });
  }

  it('lets the creator, the assignee and an admin change a task, nobody else (403)', () => {
    for (const actor of [creator, assignee, admin]) {
      given([created()])
        .when({ type: 'UpdateTask', changes: { priority: 'low' } }, as(actor))
        .thenAppends([{ type: 'TaskDetailsChanged', data: { priority: 'low' } }]);
    }
    given([created()])
      .when({ type: 'UpdateTask', changes: { priority: 'low' } }, as(stranger))
      .thenFails(403, 'forbidden');
  });
  it('assigns a registered user and refuses an unregistered one (422)', () => {
    given([created({ assigneeId: null })])
      .when({ type: 'UpdateTask', changes: { assigneeId: stranger.userId } }, as(creator))
      .thenAppends([
        { type: 'TaskAssigned', data: { assigneeId: stranger.userId, previous: null } },
      ]);
    given([created({ assigneeId: null })])
      .when({ type: 'UpdateTask', changes: { assigneeId: stranger.userId } }, as(creator, false))
      .thenFails(422, 'unknown-assignee');
  });
  it('answers 404 for an unknown task and 410 for a deleted one', () => {
    given([])
      .when({ type: 'UpdateTask', changes: { title: 'x' } }, as(admin))
      .thenFails(404, 'not-found');
    given([created(), deleted])
      .when({ type: 'UpdateTask', changes: { title: 'x' } }, as(admin))
      .thenFails(410, 'gone');
  });
});

describe('AddComment', () => {
  it('lets any user comment on a live task', () => {
    given([created()])
      .when({ type: 'AddComment', commentId, text: 'Looks good' }, as(stranger))
      .thenAppends([
        {
          type: 'CommentAdded',
          data: { commentId, text: 'Looks good', authorId: stranger.userId },
        },
      ]);
  });
  it('answers 404 for an unknown task and 410 for a deleted one', () => {
    given([])
      .when({ type: 'AddComment', commentId, text: 'x' }, as(creator))
      .thenFails(404, 'not-found');
    given([created(), deleted])
      .when({ type: 'AddComment', commentId, text: 'x' }, as(creator))
      .thenFails(410, 'gone');
  });
});

describe('DeleteTask', () => {
  it('lets the creator and an admin delete', () => {
    for (const actor of [creator, admin])
      given([created()]).when({ type: 'DeleteTask' }, as(actor)).thenAppends([deleted]);
  });
  it('refuses the assignee and others (403)', () => {
    for (const actor of [assignee, stranger]) {
      given([created()]).when({ type: 'DeleteTask' }, as(actor)).thenFails(403, 'forbidden');
    }
  });
  it('answers 410 for a deleted task and 404 for an unknown one', () => {
    given([created(), deleted]).when({ type: 'DeleteTask' }, as(creator)).thenFails(410, 'gone');
    given([]).when({ type: 'DeleteTask' }, as(creator)).thenFails(404, 'not-found');
  });
});
