import {
  type AuthContext,
  allowedStatusMoves,
  type DomainEvent,
  GENERAL_PROJECT_ID,
  may,
  type Project,
  type ProjectAccess,
  problems,
  projectAccess,
  type Role,
  type TaskCommand,
  type TaskEvent,
  type TaskState,
  type TaskStatus,
} from '@tasksync/contracts';
import { projectErrors } from '../projects/errors';

/** A user the command names as assignee, with their site role now (undefined: not registered). */
export interface AssigneeLookup {
  userId: string;
  role: Role | undefined;
}

export interface DecideContext {
  /** The actor, with their site role now (design §3, withCurrentRole). */
  actor: AuthContext;
  /** The task's project as folded now (a create's: the one it names, or General); null if none. */
  project: Project | null;
  /** A move's target project; null if it does not exist. */
  target?: Project | null;
  /** The assignee the task would have after the command (see `contextNeeds`). */
  assignee?: AssigneeLookup | undefined;
}

/** Domain errors of the task aggregate, each with its HTTP status. */
export const taskErrors = {
  notFound: () => problems.notFound('No task with this id.'),
  deleted: () => problems.gone('The task was deleted.'),
  alreadyExists: () => problems.conflict('task-exists', 'A task with this id already exists.'),
  notAllowed: (action: string, who: string) =>
    problems.forbidden(`Only ${who} may ${action} this task.`),
  invalidStatusMove: (from: TaskStatus, to: TaskStatus) =>
    problems.conflict(
      'invalid-status-transition',
      `A task cannot move from ${from} to ${to}; from ${from} it may move to ${allowedStatusMoves[from].join(' or ')}.`,
      { from, to, allowed: allowedStatusMoves[from] },
    ),
  unknownAssignee: () =>
    problems.unprocessable('unknown-assignee', 'The assignee is not a registered user.'),
  assigneeCannotSee: () =>
    problems.unprocessable(
      'assignee-cannot-see-project',
      "The assignee cannot see the task's project: add them as a member first.",
    ),
};

/**
 * What `decide` needs looked up besides the task: its project, a move's
 * target, and the assignee it would have (named by the command, or the
 * current one on a move or when the process manager checks it). The caller
 * loads these before deciding and checks, against the state it decides on,
 * that they are still the ones needed.
 */
export interface ContextNeeds {
  projectId: string | undefined;
  targetId: string | undefined;
  assigneeId: string | undefined;
}

export const contextNeeds = (state: TaskState, command: TaskCommand): ContextNeeds => {
  switch (command.type) {
    case 'CreateTask':
      return {
        projectId: command.fields.projectId ?? GENERAL_PROJECT_ID,
        targetId: undefined,
        assigneeId: command.fields.assigneeId ?? undefined,
      };
    case 'UpdateTask': {
      const { changes } = command;
      const targetId =
        changes.projectId !== undefined && changes.projectId !== state?.projectId
          ? changes.projectId
          : undefined;
      const kept = targetId !== undefined ? state?.assigneeId : undefined;
      return {
        projectId: state?.projectId,
        targetId,
        assigneeId:
          changes.assigneeId !== undefined
            ? (changes.assigneeId ?? undefined)
            : (kept ?? undefined),
      };
    }
    case 'UnassignLostAccess':
      return {
        projectId: state?.projectId,
        targetId: undefined,
        assigneeId: state?.assigneeId ?? undefined,
      };
    case 'AddComment':
    case 'DeleteTask':
      return { projectId: state?.projectId, targetId: undefined, assigneeId: undefined };
  }
};

type Live = NonNullable<TaskState>;

const accessTo = (project: Project | null | undefined, who: AuthContext): ProjectAccess =>
  project ? projectAccess(project, who) : 'none';

/**
 * The task, its project and the actor's access to it, refused in the team's
 * order: a task the actor cannot see is 404 as an unknown one (its existence
 * is not revealed), a deleted one 410.
 */
const requireVisible = (state: TaskState, ctx: DecideContext) => {
  if (!state) throw taskErrors.notFound();
  const access = accessTo(ctx.project, ctx.actor);
  if (!may.see(access) || !ctx.project) throw taskErrors.notFound();
  if (state.deleted) throw taskErrors.deleted();
  return { task: state as Live, project: ctx.project, access };
};

const requireWritable = (project: Project) => {
  if (project.archived) throw projectErrors.archived();
};

/** Whether the assignee (by their site role now) can see the project. */
const assigneeSees = (project: Project, assignee: AssigneeLookup) =>
  may.see(projectAccess(project, { userId: assignee.userId, role: assignee.role ?? 'member' }));

/** The assignee a task would get must be registered and able to see its project (design §10). */
const checkAssignee = (assigneeId: string, project: Project, ctx: DecideContext) => {
  const assignee = ctx.assignee;
  if (!assignee || assignee.userId !== assigneeId || assignee.role === undefined)
    throw taskErrors.unknownAssignee();
  if (!assigneeSees(project, assignee)) throw taskErrors.assigneeCannotSee();
};

const sameLabels = (a: string[], b: string[]) =>
  a.length === b.length && a.every((l, i) => l === b[i]);

/**
 * The task's business rules: given its state and a command, the events to
 * append, or a domain error. Pure: no I/O, no clock, no ids of its own. The
 * project rules are design §10's table (`may`), checked against the project
 * state the caller folded at command time.
 */
export const decide = (state: TaskState, command: TaskCommand, ctx: DecideContext): TaskEvent[] => {
  switch (command.type) {
    case 'CreateTask': {
      if (state) throw state.deleted ? taskErrors.deleted() : taskErrors.alreadyExists();
      const { fields } = command;
      const { project } = ctx;
      const access = accessTo(project, ctx.actor);
      if (!project || !may.see(access)) throw projectErrors.notFound();
      if (!may.createTasks(access))
        throw projectErrors.notAllowed('create tasks in', 'its owners and editors');
      requireWritable(project);
      if (fields.assigneeId) checkAssignee(fields.assigneeId, project, ctx);
      return [
        {
          type: 'TaskCreated',
          data: {
            title: fields.title,
            description: fields.description ?? '',
            status: fields.status ?? 'pending',
            assigneeId: fields.assigneeId ?? null,
            priority: fields.priority ?? 'medium',
            dueDate: fields.dueDate ?? null,
            labels: fields.labels ?? [],
            createdBy: ctx.actor.userId,
            projectId: project.id,
          },
        },
      ];
    }
    case 'UpdateTask': {
      const { task, project, access } = requireVisible(state, ctx);
      const { userId } = ctx.actor;
      if (!may.changeTask(access, task, userId))
        throw taskErrors.notAllowed('change', 'its creator, its assignee, an owner or an admin');
      requireWritable(project);
      return decideUpdate(task, project, command.changes, ctx);
    }
    case 'AddComment': {
      const { project, access } = requireVisible(state, ctx);
      if (!may.comment(access)) throw taskErrors.notAllowed('comment on', 'those who see it');
      requireWritable(project);
      return [
        {
          type: 'CommentAdded',
          data: { commentId: command.commentId, text: command.text, authorId: ctx.actor.userId },
        },
      ];
    }
    case 'DeleteTask': {
      const { task, project, access } = requireVisible(state, ctx);
      if (!may.deleteTask(access, task, ctx.actor.userId))
        throw taskErrors.notAllowed('delete', 'its creator, an owner or an admin');
      requireWritable(project);
      return [{ type: 'TaskDeleted', data: {} }];
    }
    case 'UnassignLostAccess': {
      // The system keeps "an assignee sees the task" true, archived or not;
      // anything already settled appends nothing, which makes it exactly once.
      if (!state || state.deleted || state.assigneeId === null) return [];
      const { project, assignee } = ctx;
      if (project && assignee?.userId === state.assigneeId && assigneeSees(project, assignee))
        return [];
      return [{ type: 'TaskAssigned', data: { assigneeId: null, previous: state.assigneeId } }];
    }
  }
};

type Changes = Extract<TaskCommand, { type: 'UpdateTask' }>['changes'];

/**
 * A move (one TaskMoved, first, so every change after it happens in the
 * target) needs the right to move the task out of its project and to create
 * tasks in the target; the other changes are then checked against the target.
 */
const decideMove = (task: Live, to: string, ctx: DecideContext): Project => {
  if (!may.deleteTask(accessTo(ctx.project, ctx.actor), task, ctx.actor.userId))
    throw taskErrors.notAllowed('move', 'its creator, an owner or an admin');
  const target = ctx.target?.id === to ? ctx.target : null;
  const access = accessTo(target, ctx.actor);
  if (!target || !may.see(access)) throw projectErrors.notFound();
  if (!may.createTasks(access))
    throw projectErrors.notAllowed('move tasks into', 'its owners and editors');
  requireWritable(target);
  return target;
};

const decideUpdate = (
  task: Live,
  project: Project,
  changes: Changes,
  ctx: DecideContext,
): TaskEvent[] => {
  const events: TaskEvent[] = [];
  let home = project;
  if (changes.projectId !== undefined && changes.projectId !== task.projectId) {
    home = decideMove(task, changes.projectId, ctx);
    events.push({ type: 'TaskMoved', data: { from: task.projectId, to: home.id } });
  }
  const details: Extract<DomainEvent, { type: 'TaskDetailsChanged' }>['data'] = {};
  if (changes.title !== undefined && changes.title !== task.title) details.title = changes.title;
  if (changes.description !== undefined && changes.description !== task.description) {
    details.description = changes.description;
  }
  if (changes.priority !== undefined && changes.priority !== task.priority)
    details.priority = changes.priority;
  if (changes.dueDate !== undefined && changes.dueDate !== task.dueDate)
    details.dueDate = changes.dueDate;
  if (changes.labels !== undefined && !sameLabels(changes.labels, task.labels))
    details.labels = changes.labels;
  if (Object.keys(details).length) events.push({ type: 'TaskDetailsChanged', data: details });

  if (changes.status !== undefined && changes.status !== task.status) {
    if (!allowedStatusMoves[task.status].includes(changes.status)) {
      throw taskErrors.invalidStatusMove(task.status, changes.status);
    }
    events.push({ type: 'TaskStatusChanged', data: { from: task.status, to: changes.status } });
  }
  const assigneeChanges =
    changes.assigneeId !== undefined && changes.assigneeId !== task.assigneeId;
  const assigneeId = assigneeChanges ? (changes.assigneeId ?? null) : task.assigneeId;
  if (assigneeId !== null && (assigneeChanges || home !== project))
    checkAssignee(assigneeId, home, ctx);
  if (assigneeChanges) {
    events.push({ type: 'TaskAssigned', data: { assigneeId, previous: task.assigneeId } });
  }
  const moved = home !== project;
  if (
    moved &&
    events.length > 1 &&
    !may.changeTask(accessTo(home, ctx.actor), task, ctx.actor.userId)
  )
    throw taskErrors.notAllowed('change', 'its creator, its assignee, an owner or an admin');
  return events;
};
