import {
  type AuthContext,
  evolveProject,
  type KeyLayout,
  type ProjectCommand,
  type ProjectEvent,
  type ProjectState,
} from '@tasksync/contracts';
import {
  type AggregateStore,
  type ArchivedEntries,
  type CommandCounters,
  type CommandOutcome,
  createAggregateStore,
  handleCommand,
  type RedisClient,
  roleInStream,
  type UserStore,
  withCurrentRole,
} from '@tasksync/platform';
import { decideProject, type MemberLookup } from './decide';

export type { MemberLookup };

export type ProjectStore = AggregateStore<ProjectState, ProjectEvent>;

/**
 * Projects folded from their events (by their index `ts:{p}:project:<id>`;
 * those archived from `archive`), cached like every aggregate.
 */
export const createProjectStore = (
  redis: RedisClient,
  keys: KeyLayout,
  archive?: ArchivedEntries,
): ProjectStore =>
  createAggregateStore<ProjectState, ProjectEvent>({
    redis,
    archive,
    streamKey: keys.projectStream,
    logKey: () => keys.projectLog,
    evolve: evolveProject,
    initial: null,
  });

export interface ProjectCommandDeps {
  redis: RedisClient;
  keys: KeyLayout;
  counters: CommandCounters;
  projects: ProjectStore;
  users: UserStore;
  now: () => Date;
  newId: () => string;
}

export interface ProjectCommandRequest {
  projectId: string;
  command: ProjectCommand;
  actor: AuthContext;
  correlationId: string;
  ifMatch?: number | undefined;
  idempotency?: { key: string; requestHash: string } | undefined;
  /** Status and body (without revision and position) of a success. */
  success: { status: number; body: Record<string, unknown> | null };
  /** For SetMember: the member as the route already found them; by default looked up by id. */
  member?: MemberLookup | undefined;
}

/**
 * Runs a project command through the one command handler: every project, its
 * log and its idempotency records live in the `{p}` slot (design §2, §10).
 */
export const executeProjectCommand = async (
  deps: ProjectCommandDeps,
  request: ProjectCommandRequest,
): Promise<CommandOutcome<ProjectState>> => {
  const { keys } = deps;
  const { command } = request;
  const memberId = command.type === 'SetMember' ? command.userId : undefined;
  const [actor, member] = await Promise.all([
    withCurrentRole(request.actor, roleInStream(deps.users)),
    request.member ??
      (memberId
        ? deps.users
            .load(memberId)
            .then((loaded): MemberLookup => ({ by: 'id', registered: loaded.state !== null }))
        : undefined),
  ]);
  return handleCommand(deps, {
    store: deps.projects,
    aggregateId: request.projectId,
    log: { key: keys.projectLog, name: 'p' },
    decide: (state, projectCommand: ProjectCommand) =>
      decideProject(state, projectCommand, { actor, member }),
    command,
    actor: request.actor.userId,
    correlationId: request.correlationId,
    create: command.type === 'CreateProject',
    ifMatch: request.ifMatch,
    idempotency: request.idempotency && {
      key: keys.projectIdempotency(request.actor.userId, request.idempotency.key),
      requestHash: request.idempotency.requestHash,
    },
    success: request.success,
  });
};
