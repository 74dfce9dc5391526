import { formatPosition, type StoredEvent } from '@tasksync/contracts';

/** Server → client `event` (design §7). */
export interface EventMessage {
  position: string;
  type: string;
  aggregateId: string;
  revision: number;
  at: string;
  actor: string;
  data: unknown;
}

/** Server → client `assigned`: sent to the new assignee only. */
export interface AssignedNotice {
  taskId: string;
  assigneeId: string;
  position: string;
  at: string;
  actor: string;
}

/**
 * Server → client `project-joined` / `project-left` (design §10): from here on
 * the feed carries that project's events, or carries no more of them.
 * `position` is the entry that changed it: in the project log, or in the
 * identity log for a change of site role. A client counts it as seen in its
 * `since`; resuming from before it, the replay sends the notice again.
 */
export interface MembershipNotice {
  projectId: string;
  position: string;
}

/**
 * What a client may see of an event. Identity events go out as public profiles:
 * the e-mail address of UserRegistered stays on the server (design §6: e-mail
 * only for admins and oneself, and the feed has no per-reader view).
 */
const publicData = (event: StoredEvent): unknown => {
  if (event.type === 'UserRegistered') return { name: event.data.name, role: event.data.role };
  return event.data;
};

export const toMessage = (log: string, event: StoredEvent): EventMessage => ({
  position: formatPosition(log, event.entryId),
  type: event.type,
  aggregateId: event.agg,
  revision: event.rev,
  at: event.at,
  actor: event.actor,
  data: publicData(event),
});

/** The notice for the new assignee of a task created assigned, or assigned later. */
export const assignedNotice = (log: string, event: StoredEvent): AssignedNotice | undefined => {
  const assigneeId =
    event.type === 'TaskAssigned' || event.type === 'TaskCreated' ? event.data.assigneeId : null;
  if (assigneeId === null) return undefined;
  return {
    taskId: event.agg,
    assigneeId,
    position: formatPosition(log, event.entryId),
    at: event.at,
    actor: event.actor,
  };
};

/** The entry id's time part: when Redis appended the event. */
export const appendedAtMs = (entryId: string) => Number(entryId.slice(0, entryId.indexOf('-')));
