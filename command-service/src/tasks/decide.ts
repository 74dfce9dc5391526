import {
  type AuthContext,
  allowedStatusMoves,
  type DomainEvent,
  GENERAL_PROJECT_ID,
  problems,
  type TaskCommand,
  type TaskEvent,
  type TaskState,
  type TaskStatus,
} from '@tasksync/contracts';

export interface DecideContext {
  actor: AuthContext;
  /** Whether the assignee the command names is a registered user (looked up by the caller). */
  assigneeRegistered: boolean;
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
};

type Live = NonNullable<TaskState>;

const requireLive = (state: TaskState): Live => {
  if (!state) throw taskErrors.notFound();
  if (state.deleted) throw taskErrors.deleted();
  return state;
};

const isCreatorOrAdmin = (task: Live, actor: AuthContext) =>
  actor.role === 'admin' || task.createdBy === actor.userId;

const sameLabels = (a: string[], b: string[]) =>
  a.length === b.length && a.every((l, i) => l === b[i]);

/**
 * The task's business rules: given its state and a command, the events to
 * append, or a domain error. Pure: no I/O, no clock, no ids of its own.
 */
export const decide = (state: TaskState, command: TaskCommand, ctx: DecideContext): TaskEvent[] => {
  switch (command.type) {
    case 'CreateTask': {
      if (state) throw state.deleted ? taskErrors.deleted() : taskErrors.alreadyExists();
      const { fields } = command;
      if (fields.assigneeId && !ctx.assigneeRegistered) throw taskErrors.unknownAssignee();
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
            projectId: fields.projectId ?? GENERAL_PROJECT_ID,
          },
        },
      ];
    }
    case 'UpdateTask': {
      const task = requireLive(state);
      const mayEdit = isCreatorOrAdmin(task, ctx.actor) || task.assigneeId === ctx.actor.userId;
      if (!mayEdit) throw taskErrors.notAllowed('change', 'its creator, its assignee or an admin');
      return decideUpdate(task, command.changes, ctx);
    }
    case 'AddComment': {
      requireLive(state);
      return [
        {
          type: 'CommentAdded',
          data: { commentId: command.commentId, text: command.text, authorId: ctx.actor.userId },
        },
      ];
    }
    case 'DeleteTask': {
      const task = requireLive(state);
      if (!isCreatorOrAdmin(task, ctx.actor))
        throw taskErrors.notAllowed('delete', 'its creator or an admin');
      return [{ type: 'TaskDeleted', data: {} }];
    }
    case 'UnassignLostAccess':
      return [];
  }
};

const decideUpdate = (
  task: Live,
  changes: Extract<TaskCommand, { type: 'UpdateTask' }>['changes'],
  ctx: DecideContext,
): TaskEvent[] => {
  const events: TaskEvent[] = [];
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
  if (changes.assigneeId !== undefined && changes.assigneeId !== task.assigneeId) {
    if (changes.assigneeId !== null && !ctx.assigneeRegistered) throw taskErrors.unknownAssignee();
    events.push({
      type: 'TaskAssigned',
      data: { assigneeId: changes.assigneeId, previous: task.assigneeId },
    });
  }
  return events;
};
