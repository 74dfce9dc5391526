import type { StoredEvent, TaskEvent } from '../events';
import type { Priority, TaskStatus } from './fields';

export interface Task {
  id: string;
  projectId: string;
  title: string;
  description: string;
  status: TaskStatus;
  assigneeId: string | null;
  priority: Priority;
  dueDate: string | null;
  labels: string[];
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  revision: number;
  commentCount: number;
  deleted: boolean;
}

/** A task's state before its first event. */
export type TaskState = Task | null;

/** Status moves allowed from each status (design §3): forward, and one step back. */
export const allowedStatusMoves: Record<TaskStatus, TaskStatus[]> = {
  pending: ['in-progress'],
  'in-progress': ['completed', 'pending'],
  completed: ['in-progress'],
};

type TaskStoredEvent = StoredEvent<TaskEvent>;

/** Pure fold of one task event into the task's state. */
export const evolveTask = (state: TaskState, event: TaskStoredEvent): TaskState => {
  if (event.type === 'TaskCreated') {
    return {
      id: event.agg,
      ...event.data,
      createdAt: event.at,
      updatedAt: event.at,
      revision: event.rev,
      commentCount: 0,
      deleted: false,
    };
  }
  if (!state) return state;
  const next: Task = { ...state, updatedAt: event.at, revision: event.rev };
  switch (event.type) {
    case 'TaskDetailsChanged':
      return { ...next, ...definedOnly(event.data) };
    case 'TaskStatusChanged':
      return { ...next, status: event.data.to };
    case 'TaskAssigned':
      return { ...next, assigneeId: event.data.assigneeId };
    case 'CommentAdded':
      return { ...next, commentCount: state.commentCount + 1 };
    case 'TaskDeleted':
      return { ...next, deleted: true };
    case 'TaskMoved':
      return { ...next, projectId: event.data.to };
  }
};

export const foldTask = (events: Iterable<TaskStoredEvent>, initial: TaskState = null) => {
  let state = initial;
  for (const event of events) state = evolveTask(state, event);
  return state;
};

const definedOnly = <T extends object>(value: T): Partial<T> =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
