import { createHash } from 'node:crypto';
import {
  type DomainEvent,
  formatPosition,
  type NewEvent,
  ProblemError,
  problems,
  type StoredEvent,
} from '@tasksync/contracts';
import type { ServiceMetrics } from '../http/app';
import {
  type AppendRequest,
  appendToStream,
  type IdempotencyRecord,
  parseIdempotencyRecord,
} from '../redis/append';
import type { RedisClient } from '../redis/client';
import type { AggregateStore } from './aggregate-store';

export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/**
 * Revision conflicts without If-Match are retried this often before giving up
 * with 409. Every round of a race has one winner, so N concurrent writers to one
 * aggregate all land while N ≤ MAX_ATTEMPTS.
 */
export const MAX_ATTEMPTS = 10;

/** A short random pause (jitter growing with the attempt) spreads racing retries apart. */
const backoff = (attempt: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * attempt));

/** Counters of what the write side did, beside the HTTP histogram. */
export interface CommandCounters {
  eventsAppended: { inc(labels: { type: string }): void };
  revisionConflicts: { inc(): void };
  idempotentReplays: { inc(): void };
}

/** The write side's counters on a service's metrics registry. */
export const createCommandCounters = (metrics: ServiceMetrics): CommandCounters => ({
  eventsAppended: metrics.counter('tasksync_events_appended_total', 'Events appended, by type', [
    'type',
  ]),
  revisionConflicts: metrics.counter(
    'tasksync_revision_conflicts_total',
    'Appends refused for a stale revision (retried, or 412 with If-Match)',
  ),
  idempotentReplays: metrics.counter(
    'tasksync_idempotent_replays_total',
    'Requests answered from a stored Idempotency-Key result',
  ),
});

export interface CommandHandlerDeps {
  redis: RedisClient;
  counters: CommandCounters;
  now: () => Date;
  newId: () => string;
}

/** The hash an Idempotency-Key's record keeps: the same key with another request is 422. */
export const requestHash = (method: string, path: string, body: unknown) =>
  createHash('sha256')
    .update(`${method} ${path}\n${JSON.stringify(body ?? null)}`)
    .digest('base64url');

export interface CommandRequest<State, Command, E extends DomainEvent> {
  store: AggregateStore<State, E>;
  aggregateId: string;
  /** The log the aggregate's events go to, and that log's position name (`t0`, `id`, …). */
  log: { key: string; name: string };
  /** The aggregate's rules: pure, given the state folded from its stream. */
  decide: (state: State, command: Command) => E[];
  command: Command;
  /** Who appends: a user id, or `system`. */
  actor: string;
  correlationId: string;
  /**
   * The aggregate must be new: the append expects no stream (`none`), so the
   * load is skipped; only after a conflict is there a state worth reading.
   */
  create?: boolean;
  /** Revision from If-Match; a stale one is 412. */
  ifMatch?: number | undefined;
  /** An Idempotency-Key's Redis key (in the aggregate's slot) and the request's hash. */
  idempotency?: { key: string; requestHash: string } | undefined;
  /** Status and body (without revision and position) of a success; stored for a replay. */
  success: { status: number; body: Record<string, unknown> | null };
  /** Keys written with the events atomically: unique ones (e.g. an e-mail) and plain ones. */
  unique?: AppendRequest['unique'];
  set?: AppendRequest['set'];
  /**
   * Write-side index entries to keep with the events, from the state decided
   * on and the events decided (recomputed on every attempt).
   */
  index?: (state: State, events: E[]) => AppendRequest['hash'];
  /** The answer when a unique key is taken. */
  uniqueTaken?: (key: string) => ProblemError;
}

export interface CommandOutcome<State> {
  status: number;
  /** The success body with `revision` and `position`, or null (204). */
  body: Record<string, unknown> | null;
  revision: number;
  position: string;
  /** Answered from an Idempotency-Key's record: nothing was appended. */
  replayed: boolean;
  /** The aggregate after the command; undefined for a replay. */
  state?: State;
}

const outcomeOf = <State>(
  logName: string,
  record: Pick<IdempotencyRecord, 'status' | 'revision' | 'entryId'>,
  body: Record<string, unknown> | null,
  replayed: boolean,
  state?: State,
): CommandOutcome<State> => {
  const position = formatPosition(logName, record.entryId);
  return {
    status: record.status,
    body: body && { ...body, revision: record.revision, position },
    revision: record.revision,
    position,
    replayed,
    ...(replayed ? {} : { state }),
  };
};

const preconditionFailed = (ifMatch: number, current: number) =>
  problems.preconditionFailed(
    `If-Match names revision ${ifMatch}, the current revision is ${current}.`,
    current,
  );

/**
 * Before a stale If-Match is answered 412 (with the current revision), the
 * command's refusal of the caller: an aggregate hidden from them (404) or a
 * change they may not make (403) is answered as without If-Match, as RFC 9110
 * §13.2.1 evaluates preconditions after such checks. Otherwise a 412 would tell
 * an outsider that a task or project they may not see exists, and its revision.
 */
const refuseCallerFirst = (decide: () => unknown) => {
  try {
    decide();
  } catch (error) {
    if (!(error instanceof ProblemError) || error.status === 403 || error.status === 404)
      throw error;
  }
};

/**
 * The one command handler of every write service (design §3): load the
 * aggregate (cached, reading only newer events), decide, append with the
 * loaded revision as expected revision. A revision conflict reloads and
 * decides again, a bounded number of times with jitter; with If-Match it is
 * 412. A repeated Idempotency-Key answers what the first request answered,
 * and the record is written by the same script as the events, so two racing
 * copies never both append.
 */
export const handleCommand = async <State, Command, E extends DomainEvent>(
  deps: CommandHandlerDeps,
  request: CommandRequest<State, Command, E>,
): Promise<CommandOutcome<State>> => {
  const { store, idempotency } = request;
  const replay = (record: IdempotencyRecord) => {
    if (record.requestHash !== idempotency!.requestHash) {
      throw problems.unprocessable(
        'idempotency-key-reused',
        'This Idempotency-Key was used with a different request within the last 24 hours.',
      );
    }
    deps.counters.idempotentReplays.inc();
    return outcomeOf<State>(
      request.log.name,
      record,
      record.body ? JSON.parse(record.body) : null,
      true,
    );
  };
  if (idempotency) {
    const stored = await deps.redis.get(idempotency.key);
    if (stored) return replay(parseIdempotencyRecord(stored));
  }

  let skipLoad = request.create === true;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const loaded = skipLoad ? store.empty : await store.load(request.aggregateId);
    const { state } = loaded;
    const exists = loaded.revision >= 0;
    if (request.ifMatch !== undefined && exists && loaded.revision !== request.ifMatch) {
      refuseCallerFirst(() => request.decide(state, request.command));
      throw preconditionFailed(request.ifMatch, loaded.revision);
    }
    const decided = request.decide(state, request.command);
    if (!decided.length && !idempotency && exists) {
      // Nothing changes: no append, the current revision is the answer.
      return outcomeOf(
        request.log.name,
        {
          status: request.success.status,
          revision: loaded.revision,
          entryId: loaded.lastEntryId,
        },
        request.success.body,
        false,
        state,
      );
    }
    const at = deps.now().toISOString();
    const events = decided.map(
      (event): NewEvent<E> => ({
        ...event,
        id: deps.newId(),
        at,
        actor: request.actor,
        corr: request.correlationId,
      }),
    );
    const result = await appendToStream(deps.redis, {
      streamKey: store.streamKey(request.aggregateId),
      logKey: request.log.key,
      aggregateId: request.aggregateId,
      expectedRevision: exists ? loaded.revision : 'none',
      events: events as NewEvent[],
      ...(idempotency
        ? {
            idempotency: {
              key: idempotency.key,
              requestHash: idempotency.requestHash,
              status: request.success.status,
              body: request.success.body ? JSON.stringify(request.success.body) : '',
              ttlSeconds: IDEMPOTENCY_TTL_SECONDS,
            },
          }
        : {}),
      ...(request.unique ? { unique: request.unique } : {}),
      ...(request.set ? { set: request.set } : {}),
      ...(request.index ? { hash: request.index(state, decided) } : {}),
    });
    switch (result.outcome) {
      case 'appended': {
        for (const event of events) deps.counters.eventsAppended.inc({ type: event.type });
        return outcomeOf(
          request.log.name,
          { status: request.success.status, revision: result.revision, entryId: result.entryId },
          request.success.body,
          false,
          foldAppended(store, state, events, request.aggregateId, loaded.revision, result.entryId),
        );
      }
      case 'duplicate':
        return replay(result.record);
      case 'conflict':
        deps.counters.revisionConflicts.inc();
        skipLoad = false;
        store.forget(request.aggregateId);
        if (request.ifMatch !== undefined) {
          throw preconditionFailed(request.ifMatch, result.currentRevision);
        }
        await backoff(attempt);
        break;
      case 'unique-violation':
        if (!request.uniqueTaken) throw new Error(`unique key taken: ${result.key}`);
        throw request.uniqueTaken(result.key);
    }
  }
  throw new ProblemError(
    409,
    'concurrency-conflict',
    'Conflict',
    'The target kept changing while this request was applied; try again.',
  );
};

/**
 * The aggregate after the append, folded from the state the command decided
 * on: the events as the log now holds them. All share the last entry id's
 * position; only the revision tells them apart, and no fold reads the entry id.
 */
const foldAppended = <State, E extends DomainEvent>(
  store: AggregateStore<State, E>,
  state: State,
  events: NewEvent<E>[],
  aggregateId: string,
  fromRevision: number,
  entryId: string,
): State => {
  let next = state;
  events.forEach((event, i) => {
    next = store.evolve(next, {
      ...event,
      agg: aggregateId,
      rev: fromRevision + 1 + i,
      entryId,
    } as unknown as StoredEvent<E>);
  });
  return next;
};
