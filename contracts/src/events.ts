import { z } from 'zod';
import {
  CommentText,
  Description,
  DueDate,
  Email,
  Labels,
  OwnerId,
  Priority,
  ProjectDescription,
  ProjectId,
  ProjectName,
  ProjectRole,
  Role,
  TaskStatus,
  Title,
  UserId,
  Visibility,
} from './domain/fields';
import { type projectEventTypes, taskEventTypes, type userEventTypes } from './event-types';
import { GENERAL_PROJECT_ID } from './ids';

/** Event payloads (design §2, §10). Types are inferred, never written twice. */
const taskCreatedV1Data = z.strictObject({
  title: Title,
  description: Description,
  status: TaskStatus,
  assigneeId: UserId.nullable(),
  priority: Priority,
  dueDate: DueDate.nullable(),
  labels: Labels,
  createdBy: UserId,
});
/**
 * TaskCreated as written before projects: kept so tests can build a log of
 * that time, and read today through the v1 → v2 upcaster below.
 */
export const TaskCreatedV1 = z.object({ type: z.literal('TaskCreated'), data: taskCreatedV1Data });
/** TaskCreated v2: every task belongs to a project (design §10). */
export const TaskCreated = z.object({
  type: z.literal('TaskCreated'),
  data: taskCreatedV1Data.extend({ projectId: ProjectId }),
});
export const TaskDetailsChanged = z.object({
  type: z.literal('TaskDetailsChanged'),
  data: z.strictObject({
    title: Title.optional(),
    description: Description.optional(),
    priority: Priority.optional(),
    dueDate: DueDate.nullable().optional(),
    labels: Labels.optional(),
  }),
});
export const TaskStatusChanged = z.object({
  type: z.literal('TaskStatusChanged'),
  data: z.strictObject({ from: TaskStatus, to: TaskStatus }),
});
export const TaskAssigned = z.object({
  type: z.literal('TaskAssigned'),
  data: z.strictObject({ assigneeId: UserId.nullable(), previous: UserId.nullable() }),
});
export const CommentAdded = z.object({
  type: z.literal('CommentAdded'),
  data: z.strictObject({ commentId: z.uuid(), text: CommentText, authorId: UserId }),
});
export const TaskDeleted = z.object({
  type: z.literal('TaskDeleted'),
  data: z.strictObject({}),
});
/** The task moved from one project to another. */
export const TaskMoved = z.object({
  type: z.literal('TaskMoved'),
  data: z.strictObject({ from: ProjectId, to: ProjectId }),
});

export const TaskEvent = z.discriminatedUnion('type', [
  TaskCreated,
  TaskDetailsChanged,
  TaskStatusChanged,
  TaskAssigned,
  CommentAdded,
  TaskDeleted,
  TaskMoved,
]);
export type TaskEvent = z.infer<typeof TaskEvent>;

const taskEventTypeSet = new Set<string>(taskEventTypes);

export const UserRegistered = z.object({
  type: z.literal('UserRegistered'),
  data: z.strictObject({ email: Email, name: z.string().max(100), role: Role }),
});
export const UserRoleChanged = z.object({
  type: z.literal('UserRoleChanged'),
  data: z.strictObject({ from: Role, to: Role }),
});

export const UserEvent = z.discriminatedUnion('type', [UserRegistered, UserRoleChanged]);
export type UserEvent = z.infer<typeof UserEvent>;

export const ProjectCreated = z.object({
  type: z.literal('ProjectCreated'),
  data: z.strictObject({
    name: ProjectName,
    description: ProjectDescription,
    visibility: Visibility,
    ownerId: OwnerId,
  }),
});
export const ProjectDetailsChanged = z.object({
  type: z.literal('ProjectDetailsChanged'),
  data: z.strictObject({
    name: ProjectName.optional(),
    description: ProjectDescription.optional(),
  }),
});
export const ProjectVisibilityChanged = z.object({
  type: z.literal('ProjectVisibilityChanged'),
  data: z.strictObject({ from: Visibility, to: Visibility }),
});
export const ProjectArchived = z.object({
  type: z.literal('ProjectArchived'),
  data: z.strictObject({}),
});
export const ProjectRestored = z.object({
  type: z.literal('ProjectRestored'),
  data: z.strictObject({}),
});
export const MemberAdded = z.object({
  type: z.literal('MemberAdded'),
  data: z.strictObject({ userId: UserId, role: ProjectRole }),
});
export const MemberRoleChanged = z.object({
  type: z.literal('MemberRoleChanged'),
  data: z.strictObject({ userId: UserId, from: ProjectRole, to: ProjectRole }),
});
/** `by`: who removed the member (the member themselves when they left, `system` never). */
export const MemberRemoved = z.object({
  type: z.literal('MemberRemoved'),
  data: z.strictObject({ userId: UserId, by: UserId }),
});

export const ProjectEvent = z.discriminatedUnion('type', [
  ProjectCreated,
  ProjectDetailsChanged,
  ProjectVisibilityChanged,
  ProjectArchived,
  ProjectRestored,
  MemberAdded,
  MemberRoleChanged,
  MemberRemoved,
]);
export type ProjectEvent = z.infer<typeof ProjectEvent>;

const projectEventTypeSet = new Set<string>(
  ProjectEvent.options.map((option) => option.shape.type.value),
);

export const DomainEvent = z.discriminatedUnion('type', [
  ...TaskEvent.options,
  ...UserEvent.options,
  ...ProjectEvent.options,
]);
export type DomainEvent = z.infer<typeof DomainEvent>;
export type EventType = DomainEvent['type'];

/** The unions hold exactly the types event-types.ts lists: a new event fails here until listed. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export type EventTypeListsMatch = [
  Same<TaskEvent['type'], (typeof taskEventTypes)[number]>,
  Same<UserEvent['type'], (typeof userEventTypes)[number]>,
  Same<ProjectEvent['type'], (typeof projectEventTypes)[number]>,
] extends [true, true, true]
  ? true
  : never;
const eventTypeListsMatch: EventTypeListsMatch = true;
void eventTypeListsMatch;

/** The schema version producers write today, per event type. */
export const eventVersions: Record<EventType, number> = {
  TaskCreated: 2,
  TaskDetailsChanged: 1,
  TaskStatusChanged: 1,
  TaskAssigned: 1,
  CommentAdded: 1,
  TaskDeleted: 1,
  TaskMoved: 1,
  UserRegistered: 1,
  UserRoleChanged: 1,
  ProjectCreated: 1,
  ProjectDetailsChanged: 1,
  ProjectVisibilityChanged: 1,
  ProjectArchived: 1,
  ProjectRestored: 1,
  MemberAdded: 1,
  MemberRoleChanged: 1,
  MemberRemoved: 1,
};

export type Upcasters = Partial<Record<EventType, Record<number, (data: unknown) => unknown>>>;

/**
 * Upcasters lift an older payload one version up: `upcasters[type][v]` turns a
 * version-v payload into version v+1. Every consumer reads old events through
 * `decodeEvent`, so logs written before a change replay unchanged.
 */
export const upcasters: Upcasters = {
  // Before projects every task was everyone's: it lives in the General project.
  TaskCreated: {
    1: (data) => ({ ...(data as object), projectId: GENERAL_PROJECT_ID }),
  },
};

/** Metadata every stored event carries beside its payload (design §2, envelope). */
export interface EventMeta {
  /** Event id, uuid v7. */
  id: string;
  /** Aggregate id (task, user or project). */
  agg: string;
  /** Aggregate revision, 0 for the first event. */
  rev: number;
  /** ISO time. */
  at: string;
  /** User id or `system`. */
  actor: string;
  /** Correlation id: the HTTP request id that caused the event. */
  corr: string;
}

export type StoredEvent<E extends DomainEvent = DomainEvent> = E &
  EventMeta & {
    /** Stream entry id; in a log it is the event's position. */
    entryId: string;
  };

/** Event to append; the append script adds the aggregate id and revision. */
export type NewEvent<E extends DomainEvent = DomainEvent> = E &
  Pick<EventMeta, 'id' | 'at' | 'actor' | 'corr'>;

export class EventDecodeError extends Error {
  override readonly name = 'EventDecodeError';
}

const VERSION = /^[1-9]\d{0,5}$/;
const REVISION = /^\d{1,15}$/;
const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/**
 * The envelope checked by hand: it is read for every event a consumer sees,
 * and a zod object here cost more than the rest of the decode.
 */
const parseEnvelope = (fields: Record<string, string>) => {
  const { id, type, v, agg, rev, at, actor, corr, data } = fields;
  if (
    !nonEmpty(id) ||
    !nonEmpty(type) ||
    !nonEmpty(agg) ||
    !nonEmpty(at) ||
    !nonEmpty(actor) ||
    typeof corr !== 'string' ||
    typeof data !== 'string' ||
    typeof v !== 'string' ||
    !VERSION.test(v) ||
    typeof rev !== 'string' ||
    !REVISION.test(rev)
  ) {
    return undefined;
  }
  return { id, type, v: Number(v), agg, rev: Number(rev), at, actor, corr, data };
};

/** Each event type's payload schema, so a decode parses only the payload it has. */
const dataSchemas = new Map<string, z.ZodType>(
  DomainEvent.options.map((option) => [option.shape.type.value, option.shape.data as z.ZodType]),
);

/** Turns a flat `[field, value, …]` stream entry into a map. */
export const fieldsToRecord = (fields: string[]): Record<string, string> => {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
  return record;
};

/**
 * Validates a stream entry against the envelope and its event schema, upcasting
 * older versions first. Unknown types or versions throw, so a consumer sends
 * them to its dead-letter stream instead of silently dropping them.
 */
export const createEventDecoder =
  (
    versions: Record<string, number>,
    lift: Upcasters,
    schemas: Map<string, z.ZodType> = dataSchemas,
  ) =>
  (entryId: string, fields: Record<string, string>): StoredEvent => {
    const envelope = parseEnvelope(fields);
    if (!envelope) throw new EventDecodeError(`entry ${entryId}: malformed envelope`);
    const { type, v, data: rawData, ...meta } = envelope;
    let data: unknown;
    try {
      data = JSON.parse(rawData);
    } catch {
      throw new EventDecodeError(`entry ${entryId}: data is not JSON`);
    }
    const current = versions[type];
    if (current === undefined) throw new EventDecodeError(`entry ${entryId}: unknown type ${type}`);
    if (v > current) {
      throw new EventDecodeError(`entry ${entryId}: ${type} v${v} is newer than this reader`);
    }
    for (let version = v; version < current; version++) {
      const upcast = lift[type as EventType]?.[version];
      if (!upcast) {
        throw new EventDecodeError(`entry ${entryId}: no upcaster for ${type} v${version}`);
      }
      data = upcast(data);
    }
    const parsed = schemas.get(type)?.safeParse(data);
    if (!parsed?.success) {
      throw new EventDecodeError(`entry ${entryId}: not a valid ${type} v${current}`);
    }
    return { type, data: parsed.data, ...meta, entryId } as StoredEvent;
  };

export const decodeEvent = createEventDecoder(eventVersions, upcasters);

/** Whether an event is one of a task's (rather than a user's). */
export const isTaskEvent = (event: StoredEvent): event is StoredEvent<TaskEvent> =>
  taskEventTypeSet.has(event.type);

/** Whether an event is one of a project's. */
export const isProjectEvent = (event: StoredEvent): event is StoredEvent<ProjectEvent> =>
  projectEventTypeSet.has(event.type);

/** Whether a payload is valid for its event type today (checked before every append). */
export const isValidEventData = (type: string, data: unknown): boolean =>
  dataSchemas.get(type)?.safeParse(data).success === true;
