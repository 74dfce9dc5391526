import {
  type DomainEvent,
  evolveTask,
  type ProjectEvent,
  projectEventTypes,
  type StoredEvent,
  type Task,
  type TaskEvent,
  taskEventTypes,
  type UserEvent,
  userEventTypes,
} from '@tasksync/contracts';
import type { AssignedNotice, EventMessage } from '../src/live/messages';
import type { Comment, TaskView } from './api';

/** What the notifier sends of every event (design §7), one member per event type. */
type Message<E extends DomainEvent> = E extends DomainEvent
  ? Omit<EventMessage, 'type' | 'data'> & {
      type: E['type'];
      // Identity events come as public profiles: no e-mail (notifier/src/live/messages.ts).
      data: E extends { type: 'UserRegistered' } ? Omit<E['data'], 'email'> : E['data'];
    }
  : never;

export type TaskMessage = Message<TaskEvent>;
export type UserMessage = Message<UserEvent>;
export type ProjectMessage = Message<ProjectEvent>;
export type FeedEvent = TaskMessage | UserMessage | ProjectMessage;
export type { AssignedNotice };

/** Event types by aggregate, as the contracts list them (no schema needed in the page). */
const TASK_EVENTS = new Set<string>(taskEventTypes);
const USER_EVENTS = new Set<string>(userEventTypes);
const PROJECT_EVENTS = new Set<string>(projectEventTypes);

export const isUserMessage = (event: FeedEvent): event is UserMessage =>
  USER_EVENTS.has(event.type);
export const isTaskMessage = (event: FeedEvent): event is TaskMessage =>
  TASK_EVENTS.has(event.type);
export const isProjectMessage = (event: FeedEvent): event is ProjectMessage =>
  PROJECT_EVENTS.has(event.type);

/** A task read from the query-service, as the fold's state (the fold adds `deleted`). */
export const fromView = (task: TaskView): Task => ({ ...task, deleted: false });

/** The feed's message as the stored event `evolveTask` folds. */
const toStoredEvent = (message: TaskMessage): StoredEvent<TaskEvent> =>
  ({
    type: message.type,
    data: message.data,
    agg: message.aggregateId,
    rev: message.revision,
    at: message.at,
    actor: message.actor,
    entryId: message.position.slice(message.position.indexOf(':') + 1),
    // The feed carries neither the event id nor the correlation id; no fold reads them.
    id: '',
    corr: '',
  }) as StoredEvent<TaskEvent>;

/** What one task event does to the board. */
export type TaskChange =
  /** Already shown: replays overlap what the snapshot shows, and the revision tells them apart. */
  | { kind: 'seen' }
  | { kind: 'deleted' }
  /** An event for a task this page never saw (created before a resync, say): fetch it. */
  | { kind: 'unknown' }
  | { kind: 'changed'; task: Task; comment: Comment | null };

/** Folds one event into the task the board shows (`known`), with the contracts' `evolveTask`. */
export const foldTaskMessage = (known: Task | undefined, message: TaskMessage): TaskChange => {
  if (!known) {
    if (message.type === 'TaskDeleted') return { kind: 'deleted' };
    if (message.type !== 'TaskCreated') return { kind: 'unknown' };
  } else if (message.revision <= known.revision) {
    return { kind: 'seen' };
  }
  const task = evolveTask(known ?? null, toStoredEvent(message));
  if (!task) return { kind: 'unknown' };
  if (task.deleted) return { kind: 'deleted' };
  const comment =
    message.type === 'CommentAdded'
      ? {
          id: message.data.commentId,
          authorId: message.data.authorId,
          text: message.data.text,
          createdAt: message.at,
        }
      : null;
  return { kind: 'changed', task, comment };
};
