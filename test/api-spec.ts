import { type DomainEvent, type KeyLayout, newId, type StoredEvent } from '@tasksync/contracts';
import {
  appendToStream,
  type RedisClient,
  readIndexIds,
  readLastEntryId,
  readRevisionCount,
  readStream,
} from '@tasksync/platform';
import { expect } from 'vitest';
import { type client, expectProblem, type JsonAnswer } from './support';

/**
 * Given/When/Then for the API (style.md, Tests): given these streams, when this
 * request reaches a real app over HTTP, then this status (and body or problem
 * type) and exactly these new events. "New events" are the entries every log
 * gained while the request was answered, so `thenAppends([])` means that
 * nothing was appended anywhere, not just to the stream a test thought of.
 */

/** Past events of one aggregate, appended through the append script before the request. */
export interface GivenHistory {
  stream: string;
  log: string;
  aggregateId: string;
  events: DomainEvent[];
  actor: string;
}

/**
 * What a test starts from: a history to append, or the key of an aggregate it set
 * up through the API. Either aggregate is also watched: whatever it indexes anew must
 * have gone through a log.
 */
export type Given = GivenHistory | string;

/** A task's past events, as the command-service would have appended them. */
export const taskHistory = (
  keys: KeyLayout,
  taskId: string,
  events: DomainEvent[],
  actor = 'system',
): GivenHistory => ({
  stream: keys.taskStream(taskId),
  log: keys.taskLog(keys.partitionOf(taskId)),
  aggregateId: taskId,
  events,
  actor,
});

/** A project's past events, as the command-service would have appended them. */
export const projectHistory = (
  keys: KeyLayout,
  projectId: string,
  events: DomainEvent[],
  actor = 'system',
): GivenHistory => ({
  stream: keys.projectStream(projectId),
  log: keys.projectLog,
  aggregateId: projectId,
  events,
  actor,
});

export interface ApiRequest {
  method: string;
  path: string;
  token?: string;
  body?: unknown;
  /** A body sent as these exact characters (with the headers given). */
  raw?: string;
  headers?: Record<string, string>;
}

/** An appended event as a test expects it: its type and whichever envelope fields matter. */
export interface ExpectedEvent {
  type: string;
  data?: unknown;
  agg?: string;
  rev?: number;
  actor?: string;
  corr?: string;
  entryId?: string;
}

export interface ApiOutcome {
  answer: JsonAnswer;
  /** Every log's new events, log by log in the layout's order, each log in its own order. */
  appended: StoredEvent[];
  /** A success (or any status given) with exactly this body, when one is given. */
  thenAnswers(status: number, body?: unknown): ApiOutcome;
  /** A problem+json answer of this status and problem type. */
  thenFails(status: number, slug?: string): ApiOutcome;
  /** Exactly these new events, in order, compared on the fields each expected event names. */
  thenAppends(expected: ExpectedEvent[]): ApiOutcome;
}

type Sender = Pick<ReturnType<typeof client>, 'request'>;

const appendHistory = async (redis: RedisClient, history: GivenHistory) => {
  const result = await appendToStream(redis, {
    streamKey: history.stream,
    logKey: history.log,
    aggregateId: history.aggregateId,
    expectedRevision: 'any',
    events: history.events.map((event) => ({
      ...event,
      id: newId(),
      at: new Date().toISOString(),
      actor: history.actor,
      corr: 'given',
    })),
  });
  expect(result.outcome, `given ${history.stream}`).toBe('appended');
};

/** Projects an event on the fields the expected one names (type, agg and data without one). */
const shown = (event: StoredEvent, expected: ExpectedEvent | undefined) => {
  const fields = Object.keys(expected ?? { type: '', agg: '', data: '' });
  const record = event as unknown as Record<string, unknown>;
  return Object.fromEntries(fields.map((field) => [field, record[field]]));
};

/**
 * An API spec on one app: `api` sends the requests (support's `client`, or one
 * that records its answers), `redis` and `keys` are the app's.
 */
export const apiSpec = ({
  redis,
  keys,
  api,
}: {
  redis: RedisClient;
  keys: KeyLayout;
  api: Sender;
}) => {
  const run = async (
    given: Given[],
    request: ApiRequest | (() => Promise<JsonAnswer>),
  ): Promise<ApiOutcome> => {
    const watched: string[] = [];
    for (const item of given) {
      if (typeof item !== 'string') await appendHistory(redis, item);
      watched.push(typeof item === 'string' ? item : item.stream);
    }
    const logs = keys.logs().map((log) => log.key);
    const heads = await Promise.all(logs.map((key) => readLastEntryId(redis, key)));
    const revisions = await Promise.all(watched.map((key) => readRevisionCount(redis, key)));

    const answer =
      typeof request === 'function'
        ? await request()
        : await api.request(request.method, request.path, {
            ...(request.token ? { token: request.token } : {}),
            ...(request.body !== undefined ? { body: request.body } : {}),
            ...(request.raw !== undefined ? { raw: request.raw } : {}),
            ...(request.headers ? { headers: request.headers } : {}),
          });

    const appended = (
      await Promise.all(logs.map((key, i) => readStream(redis, key, heads[i])))
    ).flat();
    // The append script indexes an aggregate's event by its entry id in the log.
    const logged = new Set(appended.map((event) => event.entryId));
    const unlogged = (
      await Promise.all(
        watched.map(async (key, i) => {
          const ids = await readIndexIds(redis, key, revisions[i]);
          return ids.filter((id) => !logged.has(id)).map((id) => `${key} ${id}`);
        }),
      )
    ).flat();

    const outcome: ApiOutcome = {
      answer,
      appended,
      thenAnswers(status, ...body) {
        expect({ status: answer.status }, answer.text).toEqual({ status });
        if (body.length) expect(answer.body).toEqual(body[0]);
        return outcome;
      },
      thenFails(status, slug) {
        expectProblem(answer, status, slug);
        return outcome;
      },
      thenAppends(expected) {
        expect(unlogged, 'events an aggregate indexes that no log gained').toEqual([]);
        expect(appended.map((event, i) => shown(event, expected[i]))).toEqual(expected);
        return outcome;
      },
    };
    return outcome;
  };

  return {
    given: (...given: Given[]) => ({
      when: (request: ApiRequest | (() => Promise<JsonAnswer>)) => run(given, request),
    }),
    when: (request: ApiRequest | (() => Promise<JsonAnswer>)) => run([], request),
  };
};

export type ApiSpec = ReturnType<typeof apiSpec>;
