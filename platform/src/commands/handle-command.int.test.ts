import {
  evolveTask,
  newId,
  ProblemError,
  problems,
  type TaskEvent,
  type TaskState,
} from '@tasksync/contracts';
import { taskCreated } from '@tasksync/contracts/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { connectTestRedis, testKeys } from '../../../test/support';
import { readAggregate, readLog } from '../redis/readers';
import { createAggregateStore } from './aggregate-store';
import { type CommandRequest, handleCommand, MAX_ATTEMPTS } from './handle-command';

const redis = connectTestRedis();
afterAll(() => redis.quit());

const counted = () => {
  const counts = { appended: 0, conflicts: 0, replays: 0 };
  return {
    counts,
    counters: {
      eventsAppended: { inc: () => void counts.appended++ },
      revisionConflicts: { inc: () => void counts.conflicts++ },
      idempotentReplays: { inc: () => void counts.replays++ },
    },
  };
};

/** A task aggregate whose command is "add this comment", or "create" on an empty stream. */
const setup = () => {
  const keys = testKeys();
  const taskId = newId();
  const author = newId();
  const { counts, counters } = counted();
  const store = createAggregateStore<TaskState, TaskEvent>({
    redis,
    streamKey: keys.taskStream,
    logKey: (id) => keys.taskLog(keys.partitionOf(id)),
    evolve: evolveTask,
    initial: null,
  });
  const deps = { redis, counters, now: () => new Date('2026-01-01T00:00:00Z'), newId };
  const partition = keys.partitionOf(taskId);
  const log = { key: keys.taskLog(partition), name: `t${partition}` };
  const decide = (state: TaskState, text: string): TaskEvent[] => {
    if (text === 'create') return state ? [] : [taskCreated(author)];
    if (!state) throw problems.notFound('No task with this id.');
    if (text === 'nothing') return [];
    return [{ type: 'CommentAdded', data: { commentId: newId(), text, authorId: author } }];
  };
  const request = (
    text: string,
    extra: Partial<CommandRequest<TaskState, string, TaskEvent>> = {},
  ): CommandRequest<TaskState, string, TaskEvent> => ({
    store,
    aggregateId: taskId,
    log,
    decide,
    command: text,
    actor: author,
    correlationId: 'test',
    success: { status: 200, body: { id: taskId } },
    ...extra,
  });
  const run = (text: string, extra?: Partial<CommandRequest<TaskState, string, TaskEvent>>) =>
    handleCommand(deps, request(text, extra));
  const stream = () =>
    readAggregate(redis, { streamKey: keys.taskStream(taskId), logKey: log.key });
  return { keys, taskId, partition, deps, store, counts, run, request, stream, log };
};

const failure = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ProblemError);
    const problem = error as ProblemError;
    return { status: problem.status, slug: problem.slug };
  }
  throw new Error('expected the command to fail');
};

describe('handleCommand', () => {
  it('appends what decide returns with the loaded revision, and answers the folded state', async () => {
    const { run, stream, counts, log } = setup();
    const created = await run('create', { create: true });
    expect(created).toMatchObject({ status: 200, revision: 0, replayed: false });
    expect(created.body).toEqual({
      id: expect.any(String),
      revision: 0,
      position: created.position,
    });
    const commented = await run('hello');
    expect(commented.revision).toBe(1);
    expect(commented.state).toMatchObject({ revision: 1, commentCount: 1 });
    const events = await stream();
    expect(events.map((e) => [e.type, e.rev])).toEqual([
      ['TaskCreated', 0],
      ['CommentAdded', 1],
    ]);
    expect(commented.position).toBe(`${log.name}:${events[1]!.entryId}`);
    expect(counts).toEqual({ appended: 2, conflicts: 0, replays: 0 });
  });

  it('appends nothing for a command that changes nothing, answering the current revision', async () => {
    const { run, stream } = setup();
    await run('create', { create: true });
    const first = await run('first');
    const noop = await run('nothing');
    expect(noop).toMatchObject({ revision: 1, position: first.position, replayed: false });
    expect(await stream()).toHaveLength(2);
  });

  it(`lands ${MAX_ATTEMPTS} concurrent writers to one aggregate, each exactly once, by retrying conflicts`, async () => {
    const { run, stream, counts } = setup();
    await run('create', { create: true });
    const texts = Array.from({ length: MAX_ATTEMPTS }, (_, i) => `writer ${i}`);
    const outcomes = await Promise.all(texts.map((text) => run(text)));
    expect(outcomes.map((o) => o.revision).sort((a, b) => a - b)).toEqual(
      texts.map((_, i) => i + 1),
    );
    const comments = (await stream()).flatMap((e) =>
      e.type === 'CommentAdded' ? [e.data.text] : [],
    );
    expect(comments.sort()).toEqual([...texts].sort());
    // Every round of the race had one winner: the others conflicted and retried.
    expect(counts.conflicts).toBeGreaterThan(0);
  });

  it('answers 412 with If-Match naming a stale revision, before and after a conflict', async () => {
    const { run, stream } = setup();
    await run('create', { create: true });
    await run('one');
    expect(await failure(run('two', { ifMatch: 0 }))).toEqual({
      status: 412,
      slug: 'precondition-failed',
    });
    expect(await stream()).toHaveLength(2);
    expect((await run('two', { ifMatch: 1 })).revision).toBe(2);
  });

  it('replays an Idempotency-Key exactly once, and refuses it for another request (422)', async () => {
    const { run, stream, keys, taskId, partition, counts } = setup();
    await run('create', { create: true });
    // The record lives in the task's slot, as the command-service keeps it.
    const idempotency = {
      key: keys.idempotency(partition, 'user', `key-${taskId}`),
      requestHash: 'h1',
    };
    const [a, b] = await Promise.all([run('once', { idempotency }), run('once', { idempotency })]);
    expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
    expect(a.body).toEqual(b.body);
    expect((await stream()).filter((e) => e.type === 'CommentAdded')).toHaveLength(1);
    expect(counts.replays).toBe(1);
    expect(
      await failure(run('once', { idempotency: { ...idempotency, requestHash: 'h2' } })),
    ).toEqual({ status: 422, slug: 'idempotency-key-reused' });
  });

  it('answers a taken unique key with the given problem, appending nothing', async () => {
    const { run, keys, stream, log, partition } = setup();
    const unique = [{ key: `${keys.prefix}:{t${partition}}:unique-test`, value: 'x' }];
    await redis.set(unique[0]!.key, 'taken');
    const before = await readLog(redis, log.key, '0', 100);
    expect(
      await failure(
        run('create', {
          create: true,
          unique,
          uniqueTaken: () => problems.conflict('taken', 'Taken.'),
        }),
      ),
    ).toEqual({ status: 409, slug: 'taken' });
    expect(await stream()).toEqual([]);
    expect(await readLog(redis, log.key, '0', 100)).toEqual(before);
  });

  it('reads only newer events into a cached aggregate, and sees what another process appended', async () => {
    const first = setup();
    await first.run('create', { create: true });
    await first.run('a');
    // A second store (another process) appends to the same task.
    const other = createAggregateStore<TaskState, TaskEvent>({
      redis,
      streamKey: first.keys.taskStream,
      logKey: () => first.log.key,
      evolve: evolveTask,
      initial: null,
    });
    await handleCommand(first.deps, { ...first.request('b'), store: other });
    const loaded = await first.store.load(first.taskId);
    expect(loaded).toMatchObject({ revision: 2, state: { commentCount: 2, revision: 2 } });
  });
});
