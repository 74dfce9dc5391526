import { taskCreated } from '@tasksync/contracts/testing';
import { describe, expect, it } from 'vitest';
import { foldTaskMessage, type TaskMessage } from '../../board/fold';
import { createPositionTracker, readAfter } from '../../board/positions';

// The board's pure parts (notifier/board/), here because unit tests live under src/.

const taskId = '01900000-0000-7000-8000-000000000001';
const creator = '01900000-0000-7000-8000-000000000002';
const commentId = '01900000-0000-7000-8000-000000000003';

const message = (
  revision: number,
  event: Pick<TaskMessage, 'type' | 'data'>,
  entryId = `${1_000 + revision}-0`,
) =>
  ({
    ...event,
    position: `t0:${entryId}`,
    aggregateId: taskId,
    revision,
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, revision)).toISOString(),
    actor: creator,
  }) as TaskMessage;

const created = message(0, taskCreated(creator, { title: 'Fold me' }));

describe('the board fold', () => {
  it('shows a created task, then folds its changes with the contracts evolveTask', () => {
    const first = foldTaskMessage(undefined, created);
    expect(first).toEqual({
      kind: 'changed',
      comment: null,
      task: expect.objectContaining({ id: taskId, title: 'Fold me', revision: 0, deleted: false }),
    });
    const task = first.kind === 'changed' ? first.task : undefined;
    const moved = foldTaskMessage(
      task,
      message(1, { type: 'TaskStatusChanged', data: { from: 'pending', to: 'in-progress' } }),
    );
    expect(moved).toMatchObject({ kind: 'changed', task: { status: 'in-progress', revision: 1 } });
    const commented = foldTaskMessage(
      task,
      message(1, { type: 'CommentAdded', data: { commentId, text: 'Hi', authorId: creator } }),
    );
    expect(commented).toEqual({
      kind: 'changed',
      task: expect.objectContaining({ commentCount: 1, revision: 1 }),
      comment: {
        id: commentId,
        authorId: creator,
        text: 'Hi',
        createdAt: '2026-01-01T00:00:01.000Z',
      },
    });
  });

  it('skips what the board already shows, by revision', () => {
    const shown = foldTaskMessage(undefined, created);
    const task = shown.kind === 'changed' ? shown.task : undefined;
    expect(foldTaskMessage(task, created)).toEqual({ kind: 'seen' });
    const later = { ...task!, revision: 3 };
    expect(foldTaskMessage(later, message(2, { type: 'TaskDeleted', data: {} }))).toEqual({
      kind: 'seen',
    });
  });

  it('forgets a deleted task, known or not, and fetches a task it never saw', () => {
    const shown = foldTaskMessage(undefined, created);
    const task = shown.kind === 'changed' ? shown.task : undefined;
    const deleted = message(1, { type: 'TaskDeleted', data: {} });
    expect(foldTaskMessage(task, deleted)).toEqual({ kind: 'deleted' });
    expect(foldTaskMessage(undefined, deleted)).toEqual({ kind: 'deleted' });
    expect(
      foldTaskMessage(
        undefined,
        message(1, { type: 'TaskAssigned', data: { assigneeId: creator, previous: null } }),
      ),
    ).toEqual({ kind: 'unknown' });
  });
});

describe('the board positions', () => {
  it('keeps the latest entry per log, compared as numbers, and skips what is not a position', () => {
    const positions = createPositionTracker();
    positions.record('t0:999-0,id:5-1');
    positions.record('t0:1000-0, t1:0-0,nonsense,:1-0,t0:99-9,id:5-0');
    expect(positions.since()).toBe('t0:1000-0,id:5-1,t1:0-0');
    positions.record(null);
    expect(positions.since()).toBe('t0:1000-0,id:5-1,t1:0-0');
  });
});

describe('read after a position', () => {
  // A log still at 0-0 is reached at once: the query-service counts a log without
  // a checkpoint as 0-0 (query.int.test.ts), so the board sends every position.
  it('asks the query-service to wait for every position the page has seen', () => {
    expect(readAfter('t0:1000-0,t1:0-0,id:5-1')).toEqual({
      'X-Min-Position': 't0:1000-0,t1:0-0,id:5-1',
      'X-Max-Wait-Ms': '10000',
    });
    expect(readAfter('')).toEqual({});
    expect(readAfter(null)).toEqual({});
  });
});
