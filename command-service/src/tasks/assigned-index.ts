import type { KeyLayout, TaskEvent, TaskState } from '@tasksync/contracts';
import type { AppendRequest } from '@tasksync/platform';

type IndexEntries = NonNullable<AppendRequest['hash']>;

/** Where a task is in the assigned-tasks index: its project and assignee, if it is assigned and live. */
interface Placement {
  projectId: string;
  assigneeId: string;
}

const placementOf = (state: TaskState): Placement | undefined =>
  state && !state.deleted && state.assigneeId !== null
    ? { projectId: state.projectId, assigneeId: state.assigneeId }
    : undefined;

const placementAfter = (state: TaskState, events: TaskEvent[]): Placement | undefined => {
  let projectId = state?.projectId;
  let assigneeId = state?.assigneeId ?? null;
  let deleted = state?.deleted ?? false;
  for (const event of events) {
    switch (event.type) {
      case 'TaskCreated':
        projectId = event.data.projectId;
        assigneeId = event.data.assigneeId;
        break;
      case 'TaskAssigned':
        assigneeId = event.data.assigneeId;
        break;
      case 'TaskMoved':
        projectId = event.data.to;
        break;
      case 'TaskDeleted':
        deleted = true;
        break;
    }
  }
  return projectId !== undefined && assigneeId !== null && !deleted
    ? { projectId, assigneeId }
    : undefined;
};

/**
 * The assigned-tasks index entries to write with a task's events (design §10,
 * the process manager reads them): the task leaves its project's hash when it
 * is unassigned, moved out or deleted, and enters the (new) project's hash
 * when it is assigned there. Both hashes are in the task's slot, so the append
 * script writes them atomically with the events.
 */
export const assignedIndex =
  (keys: KeyLayout, taskId: string) =>
  (state: TaskState, events: TaskEvent[]): IndexEntries => {
    const before = placementOf(state);
    const after = placementAfter(state, events);
    if (before?.projectId === after?.projectId && before?.assigneeId === after?.assigneeId)
      return [];
    const partition = keys.partitionOf(taskId);
    const entries: IndexEntries = [];
    if (before && before.projectId !== after?.projectId) {
      entries.push({
        key: keys.assignedTasks(partition, before.projectId),
        field: taskId,
        value: null,
      });
    }
    if (after) {
      entries.push({
        key: keys.assignedTasks(partition, after.projectId),
        field: taskId,
        value: after.assigneeId,
      });
    }
    return entries;
  };
