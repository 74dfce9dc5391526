import {
  type AuthContext,
  evolveTask,
  type KeyLayout,
  type TaskCommand,
  type TaskEvent,
  type TaskState,
} from '@tasksync/contracts';
import {
  type AggregateStore,
  type CommandCounters,
  type CommandOutcome,
  createAggregateStore,
  createUserStore,
  handleCommand,
  type RedisClient,
  roleInStream,
  type UserStore,
  withCurrentRole,
} from '@tasksync/platform';
import { decide } from './decide';

export interface TaskCommandDeps {
  redis: RedisClient;
  keys: KeyLayout;
  counters: CommandCounters;
  tasks: AggregateStore<TaskState, TaskEvent>;
  users: UserStore;
  now: () => Date;
  newId: () => string;
}

export const createTaskStores = (redis: RedisClient, keys: KeyLayout) => ({
  tasks: createAggregateStore<TaskState, TaskEvent>({
    redis,
    streamKey: keys.taskStream,
    evolve: evolveTask,
    initial: null,
  }),
  users: createUserStore(redis, keys),
});

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

const assigneeOf = (command: TaskCommand) =>
  command.type === 'CreateTask'
    ? command.fields.assigneeId
    : command.type === 'UpdateTask'
      ? command.changes.assigneeId
      : undefined;

/**
 * Runs a task command through the one command handler: the task lives in its
 * partition's slot with its log and its idempotency records (design §2).
 */
export const executeTaskCommand = async (
  deps: TaskCommandDeps,
  request: TaskCommandRequest,
): Promise<CommandOutcome<TaskState>> => {
  const { keys } = deps;
  const partition = keys.partitionOf(request.taskId);
  const assigneeId = assigneeOf(request.command);
  const [actor, assigneeRegistered] = await Promise.all([
    withCurrentRole(request.actor, roleInStream(deps.users)),
    assigneeId
      ? deps.redis.exists(keys.userStream(assigneeId)).then((n) => n === 1)
      : Promise.resolve(false),
  ]);
  return handleCommand(deps, {
    store: deps.tasks,
    aggregateId: request.taskId,
    log: { key: keys.taskLog(partition), name: `t${partition}` },
    decide: (state, command: TaskCommand) => decide(state, command, { actor, assigneeRegistered }),
    command: request.command,
    actor: request.actor.userId,
    correlationId: request.correlationId,
    create: request.command.type === 'CreateTask',
    ifMatch: request.ifMatch,
    idempotency: request.idempotency && {
      key: keys.idempotency(partition, request.actor.userId, request.idempotency.key),
      requestHash: request.idempotency.requestHash,
    },
    success: request.success,
  });
};
