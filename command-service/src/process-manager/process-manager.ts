import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { decodeEvent, projectAccess, type StoredEvent } from '@tasksync/contracts';
import { type Consumer, type Logger, startConsumer } from '@tasksync/platform';
import { executeTaskCommand, SYSTEM_ACTOR, type TaskCommandDeps } from '../tasks/execute';

/** The consumer group of every command-service's process manager on the project log. */
export const PROCESS_MANAGER_GROUP = 'process-manager';

export interface ProcessManagerDeps extends TaskCommandDeps {
  logger: Logger;
}

export interface ProcessManagerOptions {
  /** Tasks unassigned at once. */
  concurrency?: number;
  /** A dead process manager's events are taken over once idle this long. */
  claimIdleMs?: number;
  blockMs?: number;
}

/** Runs `work` on every item, at most `limit` at a time; rejects with the first failure once all settled. */
const eachLimited = async <T>(items: T[], limit: number, work: (item: T) => Promise<void>) => {
  let next = 0;
  const failures: unknown[] = [];
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        await work(item).catch((error) => failures.push(error));
      }
    }),
  );
  if (failures.length) throw failures[0];
};

/** Whether a project event can take the project away from someone (design §10). */
export const revokesAccess = (event: StoredEvent) =>
  event.type === 'MemberRemoved' ||
  (event.type === 'ProjectVisibilityChanged' && event.data.to === 'private');

/**
 * Unassigns, with actor `system`, every task of the project assigned to
 * someone who cannot see the project now. The assigned-tasks index names the
 * candidates, partition by partition; each one is decided on the task as it is
 * (UnassignLostAccess appends nothing for a task already settled), under its
 * expected revision, so redelivery, a crash half-way and several process
 * managers at once still unassign each task exactly once.
 */
export const unassignLostAccess = async (
  deps: ProcessManagerDeps,
  projectId: string,
  correlationId: string,
  concurrency = 8,
) => {
  const { keys, redis } = deps;
  const project = (await deps.projects.load(projectId)).state;
  let checked = 0;
  for (let partition = 0; partition < keys.partitions; partition++) {
    const assigned = Object.entries(await redis.hgetall(keys.assignedTasks(partition, projectId)));
    await eachLimited(assigned, concurrency, async ([taskId, assigneeId]) => {
      // The index's assignee is the task's whenever the task is assigned in this project
      // (only a task that left it can have a stale one): one who sees the project keeps it.
      const role = (await deps.users.load(assigneeId)).state?.role;
      if (
        project &&
        projectAccess(project, { userId: assigneeId, role: role ?? 'member' }) !== 'none'
      )
        return;
      checked++;
      await executeTaskCommand(deps, {
        taskId,
        command: { type: 'UnassignLostAccess' },
        actor: SYSTEM_ACTOR,
        correlationId,
        success: { status: 200, body: { id: taskId } },
      });
    });
  }
  /** The tasks whose assignee had lost access (each now unassigned, by this call or another). */
  return checked;
};

/**
 * The process manager of design §10: a consumer group on the project log that
 * reacts to a member's removal and to a turn to `private`. An event is acked
 * only once every task it concerns was handled; until then it stays pending,
 * and another command-service takes it over after `claimIdleMs`.
 */
export const startProcessManager = (
  deps: ProcessManagerDeps,
  options: ProcessManagerOptions = {},
): Consumer => {
  const { keys, logger } = deps;
  const claimIdleMs = options.claimIdleMs ?? 30_000;
  return startConsumer({
    redis: deps.redis,
    streamKey: keys.projectLog,
    group: PROCESS_MANAGER_GROUP,
    consumer: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    deadLetterKey: keys.deadLetters(keys.projectLog, PROCESS_MANAGER_GROUP),
    claimIdleMs,
    claimIntervalMs: Math.min(5_000, claimIdleMs),
    ...(options.blockMs ? { blockMs: options.blockMs } : {}),
    logger: logger.child({ consumer: PROCESS_MANAGER_GROUP }),
    handle: async (entries) => {
      for (const entry of entries) {
        const event = decodeEvent(entry.id, entry.fields);
        if (!revokesAccess(event)) continue;
        const log = logger.child({ eventId: event.id, corr: event.corr });
        const started = Date.now();
        const tasks = await unassignLostAccess(deps, event.agg, event.corr, options.concurrency);
        log.info(
          { projectId: event.agg, type: event.type, tasks, ms: Date.now() - started },
          'unassigned the tasks of those who lost access',
        );
      }
    },
  });
};
