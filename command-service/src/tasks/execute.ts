import { createHash } from 'node:crypto';
import {
  type AuthContext,
  foldUser,
  formatPosition,
  type KeyLayout,
  type NewEvent,
  ProblemError,
  problems,
  type StoredEvent,
  type TaskCommand,
  type UserEvent,
} from '@tasksync/contracts';
import {
  appendToStream,
  type IdempotencyRecord,
  parseIdempotencyRecord,
  type RedisClient,
  readStream,
} from '@tasksync/platform';
import { decide } from './decide';
import type { TaskStore } from './task-store';

export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/**
 * Revision conflicts without If-Match are retried this often before giving up
 * with 409. Every round of a race has one winner, so N concurrent writers to one
 * task all land while N ≤ MAX_ATTEMPTS.
 */
export const MAX_ATTEMPTS = 10;

/** A short random pause spreads racing retries apart. */
const backoff = (attempt: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * attempt));

/** Counters of what the write side did, beside the HTTP histogram. */
export interface CommandCounters {
  eventsAppended: { inc(labels: { type: string }): void };
  revisionConflicts: { inc(): void };
  idempotentReplays: { inc(): void };
}

export interface CommandDeps {
  counters: CommandCounters;
  redis: RedisClient;
  keys: KeyLayout;
  tasks: TaskStore;
  now: () => Date;
  newId: () => string;
}

export interface CommandRequest {
  taskId: string;
  command: TaskCommand;
  actor: AuthContext;
  correlationId: string;
  /** Revision from If-Match; a stale one is 412. */
  ifMatch?: number;
  idempotency?: { key: string; requestHash: string };
  /** Status and body (without revision and position) of a success. */
  success: { status: number; body: Record<string, unknown> | null };
}

export interface CommandOutcome {
  status: number;
  body: Record<string, unknown> | null;
  revision: number;
  position: string;
  replayed: boolean;
}

export const requestHash = (method: string, path: string, body: unknown) =>
  createHash('sha256')
    .update(`${method} ${path}\n${JSON.stringify(body ?? null)}`)
    .digest('base64url');

const outcomeOf = (
  logName: string,
  record: Pick<IdempotencyRecord, 'status' | 'revision' | 'entryId'>,
  body: Record<string, unknown> | null,
  replayed: boolean,
): CommandOutcome => {
  const position = formatPosition(logName, record.entryId);
  return {
    status: record.status,
    body: body && { ...body, revision: record.revision, position },
    revision: record.revision,
    position,
    replayed,
  };
};

const replay = (
  deps: CommandDeps,
  logName: string,
  record: IdempotencyRecord,
  expectedHash: string,
) => {
  if (record.requestHash !== expectedHash) {
    throw problems.unprocessable(
      'idempotency-key-reused',
      'This Idempotency-Key was used with a different request within the last 24 hours.',
    );
  }
  deps.counters.idempotentReplays.inc();
  return outcomeOf(logName, record, record.body ? JSON.parse(record.body) : null, true);
};

/**
 * A token's role is what it was when the token was signed: an admin demoted
 * since still holds a token that says admin until it expires. Admin rights are
 * checked against the user's own stream, as identity-service does for roles;
 * only admin tokens pay for the read.
 */
const currentActor = async (deps: CommandDeps, actor: AuthContext): Promise<AuthContext> => {
  if (actor.role !== 'admin') return actor;
  const events = await readStream(deps.redis, deps.keys.userStream(actor.userId));
  const user = foldUser(events as StoredEvent<UserEvent>[]);
  return user?.role === 'admin' ? actor : { ...actor, role: 'member' };
};

/**
 * Runs a task command: load, decide, append with the loaded revision. A
 * revision conflict reloads and decides again (bounded); with If-Match it is 412.
 * A repeated Idempotency-Key answers what the first request answered.
 */
export const executeTaskCommand = async (
  deps: CommandDeps,
  request: CommandRequest,
): Promise<CommandOutcome> => {
  const { keys, redis } = deps;
  const partition = keys.partitionOf(request.taskId);
  const logName = `t${partition}`;
  const idemKey =
    request.idempotency &&
    keys.idempotency(partition, request.actor.userId, request.idempotency.key);
  if (idemKey && request.idempotency) {
    const stored = await redis.get(idemKey);
    if (stored)
      return replay(deps, logName, parseIdempotencyRecord(stored), request.idempotency.requestHash);
  }
  const actor = await currentActor(deps, request.actor);
  const assigneeId =
    request.command.type === 'CreateTask'
      ? request.command.fields.assigneeId
      : request.command.type === 'UpdateTask'
        ? request.command.changes.assigneeId
        : undefined;
  const assigneeRegistered = assigneeId
    ? (await redis.exists(keys.userStream(assigneeId))) === 1
    : false;

  // A create skips the load: the append's expected revision `none` proves the task is new,
  // and only after a conflict is there a state worth reading.
  let skipLoad = request.command.type === 'CreateTask';
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const loaded = skipLoad
      ? { state: null, lastEntryId: '' }
      : await deps.tasks.load(request.taskId);
    if (
      request.ifMatch !== undefined &&
      loaded.state &&
      loaded.state.revision !== request.ifMatch
    ) {
      throw problems.preconditionFailed(
        `If-Match names revision ${request.ifMatch}, the task is at ${loaded.state.revision}.`,
        loaded.state.revision,
      );
    }
    const decided = decide(loaded.state, request.command, {
      actor,
      assigneeRegistered,
    });
    if (!decided.length && !idemKey && loaded.state) {
      return outcomeOf(
        logName,
        {
          status: request.success.status,
          revision: loaded.state.revision,
          entryId: loaded.lastEntryId,
        },
        request.success.body,
        false,
      );
    }
    const at = deps.now().toISOString();
    const events = decided.map(
      (event): NewEvent => ({
        ...event,
        id: deps.newId(),
        at,
        actor: request.actor.userId,
        corr: request.correlationId,
      }),
    );
    const result = await appendToStream(redis, {
      streamKey: keys.taskStream(request.taskId),
      logKey: keys.taskLog(partition),
      aggregateId: request.taskId,
      expectedRevision: loaded.state ? loaded.state.revision : 'none',
      events,
      ...(idemKey && request.idempotency
        ? {
            idempotency: {
              key: idemKey,
              requestHash: request.idempotency.requestHash,
              status: request.success.status,
              body: request.success.body ? JSON.stringify(request.success.body) : '',
              ttlSeconds: IDEMPOTENCY_TTL_SECONDS,
            },
          }
        : {}),
    });
    switch (result.outcome) {
      case 'appended':
        for (const event of events) deps.counters.eventsAppended.inc({ type: event.type });
        return outcomeOf(
          logName,
          { status: request.success.status, revision: result.revision, entryId: result.entryId },
          request.success.body,
          false,
        );
      case 'duplicate':
        return replay(deps, logName, result.record, request.idempotency!.requestHash);
      case 'conflict':
        deps.counters.revisionConflicts.inc();
        skipLoad = false;
        deps.tasks.forget(request.taskId);
        if (request.ifMatch !== undefined) {
          throw problems.preconditionFailed(
            `If-Match names revision ${request.ifMatch}, the task is at ${result.currentRevision}.`,
            result.currentRevision,
          );
        }
        await backoff(attempt);
        break;
      case 'unique-violation':
        throw new Error('task append has no unique keys');
    }
  }
  throw new ProblemError(
    409,
    'concurrency-conflict',
    'Conflict',
    'The task kept changing while this request was applied; try again.',
  );
};
