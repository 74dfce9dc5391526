import {
  type AuthContext,
  evolveTask,
  type KeyLayout,
  ProblemError,
  type Project,
  projectAccess,
  type TaskCommand,
  type TaskEvent,
  type TaskState,
} from '@tasksync/contracts';
import {
  type AggregateStore,
  type ArchivedEntries,
  type CommandCounters,
  type CommandOutcome,
  createAggregateStore,
  createUserStore,
  handleCommand,
  type LoadedAggregate,
  type RedisClient,
  roleInStream,
  type UserStore,
  withCurrentRole,
} from '@tasksync/platform';
import { createProjectStore, type ProjectStore } from '../projects/execute';
import { assignedIndex } from './assigned-index';
import { type ContextNeeds, contextNeeds, type DecideContext, decide } from './decide';

export interface TaskCommandDeps {
  redis: RedisClient;
  keys: KeyLayout;
  counters: CommandCounters;
  tasks: AggregateStore<TaskState, TaskEvent>;
  projects: ProjectStore;
  users: UserStore;
  now: () => Date;
  newId: () => string;
}

/** The aggregates a command decides on; events no longer in their log are read from `archive`. */
export const createTaskStores = (
  redis: RedisClient,
  keys: KeyLayout,
  archive?: ArchivedEntries,
) => ({
  tasks: createAggregateStore<TaskState, TaskEvent>({
    redis,
    archive,
    streamKey: keys.taskStream,
    logKey: (taskId) => keys.taskLog(keys.partitionOf(taskId)),
    evolve: evolveTask,
    initial: null,
  }),
  projects: createProjectStore(redis, keys, archive),
  users: createUserStore(redis, keys, archive),
});

/** Who the system's own commands (the process manager's) are appended by. */
export const SYSTEM_ACTOR: AuthContext = { userId: 'system', role: 'member' };

export interface TaskCommandRequest {
  taskId: string;
  command: TaskCommand;
  actor: AuthContext;
  correlationId: string;
  ifMatch?: number | undefined;
  idempotency?: { key: string; requestHash: string } | undefined;
  /** Status and body (without revision and position) of a success. */
  success: { status: number; body: Record<string, unknown> | null };
}

/** The state the command was decided on changed what it needs looked up (a move, a new assignee). */
class StaleContext extends Error {}
const MAX_CONTEXT_RELOADS = 5;

const sameNeeds = (a: ContextNeeds, b: ContextNeeds) =>
  a.projectId === b.projectId && a.targetId === b.targetId && a.assigneeId === b.assigneeId;

/** A store whose next load of `aggregateId` is what was just loaded: the handler need not read it again. */
const withPreloaded = <State, E extends TaskEvent>(
  store: AggregateStore<State, E>,
  aggregateId: string,
  loaded: LoadedAggregate<State>,
): AggregateStore<State, E> => {
  let pending = true;
  return {
    ...store,
    load: (id) => {
      if (pending && id === aggregateId) {
        pending = false;
        return Promise.resolve(loaded);
      }
      return store.load(id);
    },
  };
};

const loadContext = async (
  deps: TaskCommandDeps,
  needs: ContextNeeds,
  actorNow: Promise<AuthContext>,
): Promise<DecideContext> => {
  const project = (id: string | undefined) =>
    id === undefined ? null : deps.projects.load(id).then((loaded) => loaded.state);
  // In parallel: the hot path (POST /tasks) waits for one round trip, not three.
  const [actor, project_, target, assignee] = await Promise.all([
    actorNow,
    project(needs.projectId),
    project(needs.targetId),
    needs.assigneeId === undefined
      ? undefined
      : deps.users
          .load(needs.assigneeId)
          .then((loaded) => ({ userId: needs.assigneeId!, role: loaded.state?.role })),
  ]);
  return { actor, project: project_, target, assignee };
};

/**
 * Runs a task command through the one command handler: the task lives in its
 * partition's slot with its log, its idempotency records and the
 * assigned-tasks index (design §2, §10). The task's project (and a move's
 * target) and the assignee are folded from their streams at command time;
 * should the task turn out to need others once decided on (it moved, or was
 * reassigned, in between), they are looked up again.
 */
export const executeTaskCommand = async (
  deps: TaskCommandDeps,
  request: TaskCommandRequest,
): Promise<CommandOutcome<TaskState>> => {
  const { keys } = deps;
  const { command } = request;
  const partition = keys.partitionOf(request.taskId);
  const actorNow =
    request.actor === SYSTEM_ACTOR
      ? Promise.resolve(request.actor)
      : withCurrentRole(request.actor, roleInStream(deps.users));
  // Awaited with the context below; a failure meanwhile must not go unhandled.
  actorNow.catch(() => undefined);
  for (let reload = 1; ; reload++) {
    const loaded =
      command.type === 'CreateTask' ? undefined : await deps.tasks.load(request.taskId);
    const needs = contextNeeds(loaded?.state ?? null, command);
    const context = await loadContext(deps, needs, actorNow);
    try {
      const outcome = await handleCommand(deps, {
        store: loaded ? withPreloaded(deps.tasks, request.taskId, loaded) : deps.tasks,
        aggregateId: request.taskId,
        log: { key: keys.taskLog(partition), name: `t${partition}` },
        decide: (state, taskCommand: TaskCommand) => {
          if (!sameNeeds(contextNeeds(state, taskCommand), needs)) throw new StaleContext();
          return decide(state, taskCommand, context);
        },
        command,
        actor: request.actor.userId,
        correlationId: request.correlationId,
        create: command.type === 'CreateTask',
        ifMatch: request.ifMatch,
        idempotency: request.idempotency && {
          key: keys.idempotency(partition, request.actor.userId, request.idempotency.key),
          requestHash: request.idempotency.requestHash,
        },
        index: assignedIndex(keys, request.taskId),
        success: request.success,
      });
      await settleAssignee(deps, request, context, outcome);
      return outcome;
    } catch (error) {
      if (!(error instanceof StaleContext)) throw error;
      if (reload === MAX_CONTEXT_RELOADS) {
        throw new ProblemError(
          409,
          'concurrency-conflict',
          'Conflict',
          'The task kept moving while this request was applied; try again.',
        );
      }
    }
  }
};

/**
 * Closes the race between an assignment and a revocation: the assignment was
 * decided on the project as it was, and the process manager may have read the
 * assigned-tasks index (after the MemberRemoved or the turn to private)
 * before this append wrote to it. Then the project has changed since it was
 * read here, and this command unassigns the task itself; decided on the task
 * as it is, the unassignment happens once whoever gets there first.
 */
const settleAssignee = async (
  deps: TaskCommandDeps,
  request: TaskCommandRequest,
  context: DecideContext,
  outcome: CommandOutcome<TaskState>,
) => {
  const { command } = request;
  if (command.type !== 'CreateTask' && command.type !== 'UpdateTask') return;
  const task = outcome.state;
  const { assignee } = context;
  if (outcome.replayed || !task || task.deleted || task.assigneeId === null) return;
  if (!assignee || assignee.userId !== task.assigneeId || assignee.role === 'admin') return;
  const decidedOn: Project | null | undefined =
    context.target?.id === task.projectId ? context.target : context.project;
  const now = (await deps.projects.load(task.projectId)).state;
  if (!now || now.revision === decidedOn?.revision) return;
  if (projectAccess(now, { userId: assignee.userId, role: assignee.role ?? 'member' }) !== 'none')
    return;
  await executeTaskCommand(deps, {
    taskId: request.taskId,
    command: { type: 'UnassignLostAccess' },
    actor: SYSTEM_ACTOR,
    correlationId: request.correlationId,
    success: { status: 200, body: { id: request.taskId } },
  });
};
