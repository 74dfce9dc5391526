import { decodeEvent, fieldsToRecord, newId } from '@tasksync/contracts';
import { newComment } from '@tasksync/contracts/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { appendUserRegistered, connectTestRedis, testKeys } from '../../../test/support';
import {
  appendToStream,
  INDEX_ENTRY_BYTES,
  parseIdempotencyRecord,
  readIndexed,
  type StoreLayout,
} from './append';
import { readLog, readStream } from './readers';

const redis = connectTestRedis();
afterAll(() => redis.quit());

const comment = newComment;

/*
 * Every guarantee of the append holds on both layouts (design §11): a stream
 * per aggregate (1), or only an index of its log entry ids (2).
 */
describe.each([1, 2] as const)('appendToStream, layout %i', (layout: StoreLayout) => {
  /** The aggregate's events as its stream (1) or its index into the log (2) gives them. */
  const eventsOf = async (streamKey: string, logKey: string) => {
    if (layout === 1) return readStream(redis, streamKey);
    const { entries, missing } = await readIndexed(redis, streamKey, logKey);
    expect(missing).toEqual([]);
    return entries.map(([id, fields]) => decodeEvent(id, fieldsToRecord(fields)));
  };
  /** How many events the aggregate's stream or index holds. */
  const countOf = async (streamKey: string) =>
    layout === 1 ? redis.xlen(streamKey) : (await redis.strlen(streamKey)) / INDEX_ENTRY_BYTES;

  it('lets exactly one of 50 concurrent appends with the same expected revision win', async () => {
    const keys = testKeys();
    const taskId = newId();
    const streamKey = keys.taskStream(taskId);
    const logKey = keys.taskLog(keys.partitionOf(taskId));
    const first = await appendToStream(
      redis,
      {
        streamKey,
        logKey,
        aggregateId: taskId,
        expectedRevision: 'none',
        events: [comment('seed')],
      },
      layout,
    );
    expect(first).toMatchObject({ outcome: 'appended', revision: 0 });

    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        appendToStream(
          redis,
          {
            streamKey,
            logKey,
            aggregateId: taskId,
            expectedRevision: 0,
            events: [comment(`racer ${i}`), comment(`racer ${i} again`)],
          },
          layout,
        ),
      ),
    );
    const winners = results.filter((r) => r.outcome === 'appended');
    expect(winners).toHaveLength(1);
    expect(winners[0]).toMatchObject({ revision: 2 });
    expect(results.filter((r) => r.outcome === 'conflict')).toEqual(
      Array.from({ length: 49 }, () => ({ outcome: 'conflict', currentRevision: 2 })),
    );

    const stream = await eventsOf(streamKey, logKey);
    expect(stream.map((e) => e.rev)).toEqual([0, 1, 2]);
    const log = await readLog(redis, logKey, '0', 100);
    // Same events, same entry ids, same order in the task stream and its log.
    expect(log.map(([id]) => id)).toEqual(stream.map((e) => e.entryId));
    expect(stream[1]!.type === 'CommentAdded' && stream[1]!.data.text).toMatch(/^racer \d+$/);
  });

  it('honours any, none and numeric expected revisions', async () => {
    const keys = testKeys();
    const taskId = newId();
    const base = {
      streamKey: keys.taskStream(taskId),
      logKey: keys.taskLog(keys.partitionOf(taskId)),
      aggregateId: taskId,
    };
    expect(
      await appendToStream(redis, { ...base, expectedRevision: 0, events: [comment('a')] }, layout),
    ).toEqual({
      outcome: 'conflict',
      currentRevision: -1,
    });
    expect(
      await appendToStream(
        redis,
        { ...base, expectedRevision: 'any', events: [comment('a')] },
        layout,
      ),
    ).toMatchObject({
      outcome: 'appended',
      revision: 0,
    });
    expect(
      await appendToStream(
        redis,
        { ...base, expectedRevision: 'none', events: [comment('b')] },
        layout,
      ),
    ).toEqual({
      outcome: 'conflict',
      currentRevision: 0,
    });
    expect(
      await appendToStream(redis, { ...base, expectedRevision: 0, events: [comment('b')] }, layout),
    ).toMatchObject({
      outcome: 'appended',
      revision: 1,
    });
    expect((await eventsOf(base.streamKey, base.logKey)).map((e) => e.rev)).toEqual([0, 1]);
  });

  it('returns the stored result for a repeated idempotency key and appends nothing', async () => {
    const keys = testKeys();
    const taskId = newId();
    const request = {
      streamKey: keys.taskStream(taskId),
      logKey: keys.taskLog(keys.partitionOf(taskId)),
      aggregateId: taskId,
      expectedRevision: 'any' as const,
      idempotency: {
        key: keys.idempotency(keys.partitionOf(taskId), 'user-1', 'key-1'),
        requestHash: 'hash-1',
        status: 201,
        body: JSON.stringify({ id: taskId }),
        ttlSeconds: 86_400,
      },
    };
    const first = await appendToStream(redis, { ...request, events: [comment('once')] }, layout);
    expect(first.outcome).toBe('appended');
    const copies = await Promise.all(
      Array.from({ length: 10 }, () =>
        appendToStream(redis, { ...request, events: [comment('twice?')] }, layout),
      ),
    );
    for (const copy of copies) {
      expect(copy).toEqual({
        outcome: 'duplicate',
        record: {
          requestHash: 'hash-1',
          status: 201,
          revision: 0,
          entryId: first.outcome === 'appended' ? first.entryId : '',
          body: JSON.stringify({ id: taskId }),
        },
      });
    }
    expect(await countOf(request.streamKey)).toBe(1);
    expect(await redis.xlen(request.logKey)).toBe(1);
    const ttl = await redis.ttl(request.idempotency.key);
    expect(ttl).toBeGreaterThan(86_000);
    expect(ttl).toBeLessThanOrEqual(86_400);
  });

  it('refuses a taken unique key and writes nothing', async () => {
    const keys = testKeys();
    const userA = newId();
    const userB = newId();
    const register = (userId: string) =>
      appendUserRegistered(
        redis,
        keys,
        { userId, email: 'a@example.com' },
        {
          unique: [{ key: keys.email('a@example.com'), value: userId }],
          set: [{ key: keys.credentials(userId), value: 'hash' }],
        },
        layout,
      );
    const [a, b] = await Promise.all([register(userA), register(userB)]);
    expect([a.outcome, b.outcome].sort()).toEqual(['appended', 'unique-violation']);
    const winner = a.outcome === 'appended' ? userA : userB;
    const loser = winner === userA ? userB : userA;
    expect(await redis.get(keys.email('a@example.com'))).toBe(winner);
    expect(await redis.exists(keys.credentials(loser), keys.userStream(loser))).toBe(0);
    expect(await redis.xlen(keys.identityLog)).toBe(1);
  });

  it('appends on a fresh client in the same tick as another command (the first request after a restart)', async () => {
    const fresh = connectTestRedis();
    try {
      const keys = testKeys();
      const taskId = newId();
      // Auto-pipelining puts both into one pipeline: the script must already be defined on it.
      const [read, appended] = await Promise.all([
        fresh.get(keys.meta),
        appendToStream(
          fresh,
          {
            streamKey: keys.taskStream(taskId),
            logKey: keys.taskLog(keys.partitionOf(taskId)),
            aggregateId: taskId,
            expectedRevision: 'none',
            events: [comment('first')],
          },
          layout,
        ),
      ]);
      expect(read).toBeNull();
      expect(appended).toMatchObject({ outcome: 'appended', revision: 0 });
    } finally {
      await fresh.quit();
    }
  });
});

describe('readIndexed (layout 2)', () => {
  it('gives an aggregate its log entries from any revision, in one call, and names the ids the log no longer holds', async () => {
    const keys = testKeys();
    // Two tasks of one partition (the cluster run has several), so one log holds both.
    const taskA = newId();
    const partition = keys.partitionOf(taskA);
    const another = () => {
      for (;;) {
        const id = newId();
        if (keys.partitionOf(id) === partition) return id;
      }
    };
    const taskB = another();
    const logKey = keys.taskLog(partition);
    const append = (taskId: string, text: string) =>
      appendToStream(
        redis,
        {
          streamKey: keys.taskStream(taskId),
          logKey,
          aggregateId: taskId,
          expectedRevision: 'any',
          events: [comment(text)],
        },
        2,
      );
    // Interleaved in one log: each index holds its own aggregate's entries only.
    const ids: Record<string, string[]> = { [taskA]: [], [taskB]: [] };
    for (const [taskId, text] of [
      [taskA, 'a0'],
      [taskB, 'b0'],
      [taskA, 'a1'],
      [taskA, 'a2'],
      [taskB, 'b1'],
    ] as const) {
      const appended = await append(taskId, text);
      if (appended.outcome !== 'appended') throw new Error(appended.outcome);
      ids[taskId]!.push(appended.entryId);
    }
    const textsOf = async (taskId: string, from: number) => {
      const { entries, missing } = await readIndexed(redis, keys.taskStream(taskId), logKey, from);
      return {
        ids: entries.map(([id]) => id),
        texts: entries.map(([id, fields]) => {
          const event = decodeEvent(id, fieldsToRecord(fields));
          return event.type === 'CommentAdded' ? `${event.rev}:${event.data.text}` : event.type;
        }),
        missing,
      };
    };
    expect(await textsOf(taskA, 0)).toEqual({
      ids: ids[taskA],
      texts: ['0:a0', '1:a1', '2:a2'],
      missing: [],
    });
    expect(await textsOf(taskA, 2)).toEqual({
      ids: ids[taskA]!.slice(2),
      texts: ['2:a2'],
      missing: [],
    });
    expect(await textsOf(taskA, 3)).toEqual({ ids: [], texts: [], missing: [] });
    expect(await textsOf(taskB, 0)).toEqual({
      ids: ids[taskB],
      texts: ['0:b0', '1:b1'],
      missing: [],
    });
    expect(await textsOf(another(), 0)).toEqual({ ids: [], texts: [], missing: [] });

    // An entry trimmed from the log (archived) is named, not dropped silently.
    await redis.xdel(logKey, ids[taskA]![0]!);
    expect(await textsOf(taskA, 0)).toEqual({
      ids: ids[taskA]!.slice(1),
      texts: ['1:a1', '2:a2'],
      missing: [ids[taskA]![0]],
    });

    // A command that appends nothing answers the aggregate's last position from its index.
    const noOp = await appendToStream(
      redis,
      {
        streamKey: keys.taskStream(taskB),
        logKey,
        aggregateId: taskB,
        expectedRevision: 1,
        events: [],
        idempotency: {
          key: keys.idempotency(partition, 'user-1', 'no-op'),
          requestHash: 'h',
          status: 200,
          body: '{}',
          ttlSeconds: 60,
        },
      },
      2,
    );
    expect(noOp).toEqual({ outcome: 'appended', revision: 1, entryId: ids[taskB]![1] });
    expect(
      parseIdempotencyRecord((await redis.get(keys.idempotency(partition, 'user-1', 'no-op')))!),
    ).toMatchObject({
      revision: 1,
      entryId: ids[taskB]![1],
    });
  });
});
