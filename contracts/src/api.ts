import { z } from 'zod';
import {
  Actor,
  CommentText,
  Description,
  DisplayName,
  DueDate,
  Email,
  Labels,
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
import { TaskCreated, TaskEvent } from './events';
import { compareEntryIds, type Position, parsePosition } from './positions';

/** Request and response bodies of the HTTP APIs (design §3). Strict: unknown fields are 400. */

const utf8 = new TextEncoder();
const utf8Bytes = (value: string) => utf8.encode(value).length;
export const Password = z
  .string()
  .refine((p) => utf8Bytes(p) >= 8, 'must be at least 8 UTF-8 bytes')
  .refine((p) => utf8Bytes(p) <= 72, 'must be at most 72 UTF-8 bytes (bcrypt reads no further)');

export const RegisterRequest = z.strictObject({
  email: Email,
  password: Password,
  name: DisplayName.optional(),
});
export const LoginRequest = z.strictObject({
  email: z.string().trim().toLowerCase().max(254),
  password: z.string().max(1_000),
});
export const ChangeRoleRequest = z.strictObject({ role: Role });

/** What anyone may see of a user; `email` is absent (never null) unless the caller is an admin or the user. */
export const UserProfile = z.strictObject({
  id: UserId,
  name: z.string(),
  role: Role,
  createdAt: z.string(),
  email: z.string().optional(),
});
/** GET /users/:id, GET /users/me: the profile, wrapped. */
export const UserAnswer = z.strictObject({ user: UserProfile });
export const RegisterResponse = z.object({ user: UserProfile, position: z.string() });
export const LoginResponse = z.object({
  token: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int(),
  user: UserProfile,
});
export const MeResponse = UserAnswer;

export const CreateTaskRequest = z.strictObject({
  /** Without one, the task goes to the General project (design §10). */
  projectId: ProjectId.optional(),
  title: Title,
  description: Description.optional(),
  status: TaskStatus.optional(),
  assigneeId: UserId.nullable().optional(),
  priority: Priority.optional(),
  dueDate: DueDate.nullable().optional(),
  labels: Labels.optional(),
});
export type CreateTaskRequest = z.output<typeof CreateTaskRequest>;

/** Any subset of the create fields; a new `projectId` moves the task (one TaskMoved). */
export const UpdateTaskRequest = CreateTaskRequest.partial();
export type UpdateTaskRequest = z.output<typeof UpdateTaskRequest>;

export const AddCommentRequest = z.strictObject({ text: CommentText });

export const WriteResponse = z.object({
  id: z.uuid(),
  revision: z.number().int(),
  position: z.string(),
});
export const CommentResponse = WriteResponse.extend({ commentId: z.uuid() });
/** A member added, changed or removed: the project's id, revision and position, and the member. */
export const MemberWriteResponse = WriteResponse.extend({ userId: z.uuid() });

/**
 * A comma-separated list of positions (X-Min-Position, a socket's `since`,
 * `asOf`), keeping the highest per log.
 */
export const PositionList = z
  .string()
  .max(4_000)
  .transform((value, ctx) => {
    const byLog = new Map<string, string>();
    for (const part of value
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const position = parsePosition(part);
      if (!position) {
        ctx.addIssue({
          code: 'custom',
          message: `"${part}" is not a position like t0:1732460000000-0`,
        });
        return z.NEVER;
      }
      const known = byLog.get(position.log);
      if (!known || compareEntryIds(position.entryId, known) > 0) {
        byLog.set(position.log, position.entryId);
      }
    }
    return [...byLog].map(([log, entryId]): Position => ({ log, entryId }));
  });

/** Commands of the task aggregate, as `decide` receives them. */
export const TaskCommand = z.discriminatedUnion('type', [
  z.object({ type: z.literal('CreateTask'), fields: CreateTaskRequest }),
  z.object({ type: z.literal('UpdateTask'), changes: UpdateTaskRequest }),
  z.object({ type: z.literal('AddComment'), commentId: z.uuid(), text: CommentText }),
  z.object({ type: z.literal('DeleteTask') }),
  /** The process manager's: unassign a task whose assignee can no longer see its project. */
  z.object({ type: z.literal('UnassignLostAccess') }),
]);
export type TaskCommand = z.infer<typeof TaskCommand>;

/** Commands of the user aggregate, as `decideUser` receives them. */
export const UserCommand = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('RegisterUser'),
    email: Email,
    name: z.string().max(100),
    role: Role,
  }),
  z.object({ type: z.literal('ChangeRole'), role: Role }),
]);
export type UserCommand = z.infer<typeof UserCommand>;

/** Projects (design §10). */
export const CreateProjectRequest = z.strictObject({
  name: ProjectName,
  description: ProjectDescription.optional(),
  visibility: Visibility.optional(),
});
export type CreateProjectRequest = z.output<typeof CreateProjectRequest>;
export const UpdateProjectRequest = z.strictObject({
  name: ProjectName.optional(),
  description: ProjectDescription.optional(),
  visibility: Visibility.optional(),
  archived: z.boolean().optional(),
});
export type UpdateProjectRequest = z.output<typeof UpdateProjectRequest>;
/** PUT /projects/:id/members/:userId */
export const SetMemberRequest = z.strictObject({ role: ProjectRole });
/** POST /projects/:id/members: the same, by e-mail (the board's "add member"). */
export const AddMemberRequest = z.strictObject({ email: Email, role: ProjectRole });

/** Commands of the project aggregate, as its `decide` receives them. */
export const ProjectCommand = z.discriminatedUnion('type', [
  z.object({ type: z.literal('CreateProject'), fields: CreateProjectRequest }),
  z.object({ type: z.literal('UpdateProject'), changes: UpdateProjectRequest }),
  z.object({ type: z.literal('SetMember'), userId: UserId, role: ProjectRole }),
  z.object({ type: z.literal('RemoveMember'), userId: UserId }),
]);
export type ProjectCommand = z.infer<typeof ProjectCommand>;

/** The caller's access to a project, as answers report it. */
export const ProjectAccessName = z.enum(['admin', 'owner', 'editor', 'viewer']);

/** Live tasks by status, every status named (0 included). */
export const TaskCountsByStatus = z.strictObject({
  pending: z.number().int().min(0),
  'in-progress': z.number().int().min(0),
  completed: z.number().int().min(0),
});

/** A project as GET /projects and GET /projects/:id answer it. */
export const ProjectAnswer = z.object({
  id: ProjectId,
  name: z.string(),
  description: z.string(),
  visibility: Visibility,
  archived: z.boolean(),
  ownerId: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  revision: z.number().int(),
  /** What the caller may do here: their member role, `editor` in an open project, `admin`. */
  access: ProjectAccessName,
  memberCount: z.number().int(),
  taskCounts: TaskCountsByStatus,
});
export const ProjectMember = z.object({
  userId: UserId,
  name: z.string(),
  role: ProjectRole,
  addedAt: z.string(),
});

/*
 * The query-service's answers (design §6), exactly as it writes them: strict, so
 * a field added to or dropped from an answer fails the test that checks every
 * route's answers against its documented schema (query-service/src/answers.int.test.ts).
 */

/** An ISO time as the services write it (`Date#toISOString`). */
const Timestamp = z.iso.datetime();
/** A cursor to pass back for the next page; null (never absent) on the last page. */
const NextCursor = z.string().nullable();
const Revision = z.number().int().min(0);

/** A task as GET /tasks lists it: `assigneeId` and `dueDate` are null (never absent) when unset. */
export const TaskAnswer = z.strictObject({
  id: z.uuid(),
  // The task's own fields, as TaskCreated carries them (design §2).
  ...TaskCreated.shape.data.shape,
  createdAt: Timestamp,
  updatedAt: Timestamp,
  revision: Revision,
  commentCount: z.number().int().min(0),
});
export const CommentAnswer = z.strictObject({
  id: z.uuid(),
  authorId: UserId,
  text: CommentText,
  createdAt: Timestamp,
});
/** GET /tasks/:id: the task now, with its comments, oldest first. */
export const TaskWithComments = TaskAnswer.extend({ comments: z.array(CommentAnswer) });
/**
 * GET /tasks/:id?asOf=…: the task folded from its stream up to then, without
 * comments; `deleted` (a task deleted by then is still answered, 200) and
 * `asOf` as the caller sent it.
 */
export const TaskAsOfAnswer = TaskAnswer.extend({ deleted: z.boolean(), asOf: z.string() });
/** GET /tasks/:id answers one or the other, by whether `asOf` was given. */
export const TaskReadAnswer = z.union([TaskWithComments, TaskAsOfAnswer]);
export const TaskListAnswer = z.strictObject({
  items: z.array(TaskAnswer),
  nextCursor: NextCursor,
});

/** One event of a task's history, with that event type's data (as the events' schemas hold it). */
const historyEntry = <E extends (typeof TaskEvent.options)[number]>(event: E) =>
  z.strictObject({
    position: z.string(),
    type: event.shape.type as E['shape']['type'],
    revision: Revision,
    actor: Actor,
    at: Timestamp,
    data: event.shape.data as E['shape']['data'],
  });
type HistoryEntries<T extends readonly (typeof TaskEvent.options)[number][]> = {
  -readonly [K in keyof T]: ReturnType<typeof historyEntry<T[K]>>;
};
export const TaskHistoryEntry = z.discriminatedUnion(
  'type',
  TaskEvent.options.map(historyEntry) as HistoryEntries<typeof TaskEvent.options>,
);
/** GET /tasks/:id/history: oldest first. */
export const TaskHistoryAnswer = z.strictObject({
  items: z.array(TaskHistoryEntry),
  nextCursor: NextCursor,
});

/** GET /users: profiles in id order. */
export const UserListAnswer = z.strictObject({
  items: z.array(UserProfile),
  nextCursor: NextCursor,
});

/** GET /stats: live tasks by status, and by assignee (`null`: unassigned; only counts above 0, most first). */
export const StatsAnswer = z.strictObject({
  byStatus: TaskCountsByStatus,
  byAssignee: z.array(
    z.strictObject({ assigneeId: UserId.nullable(), count: z.number().int().min(1) }),
  ),
});
