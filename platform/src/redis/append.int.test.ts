import { type NewEvent, newId } from '@tasksync/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { appendUserRegistered, connectTestRedis, testKeys } from '../../../test/support';
import { appendToStream } from './append';
import { readLog, readStream } from './readers';

const redis = connectTestRedis();
afterAll(() => redis.quit());

const comment = (text: string): NewEvent => ({
  id: newId(),
  type: 'CommentAdded',
  data: { commentId: newId(), text, authorId: newId() },
  at: new Date().toISOString(),
  actor: 'system',
  corr: 'test',
});

describe('appendToStream', () => {
  it('lets exactly one of 50 concurrent appends with the same expected revision win', async () => {
    const keys = testKeys();
    const taskId = newId();
    const streamKey = keys.taskStream(taskId);
    const logKey = keys.taskLog(keys.partitionOf(taskId));
    const first = await appendToStream(redis, {
      streamKey,
      logKey,
      aggregateId: taskId,
      expectedRevision: 'none',
      events: [comment('seed')],
    });
    expect(first).toMatchObject({ outcome: 'appended', revision: 0 });

    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        appendToStream(redis, {
          streamKey,
          logKey,
          aggregateId: taskId,
          expectedRevision: 0,
          events: [comment(`racer ${i}`), comment(`racer ${i} again`)],
        }),
      ),
    );
    const winners = results.filter((r) => r.outcome === 'appended');
    expect(winners).toHaveLength(1);
    expect(winners[0]).toMatchObject({ revision: 2 });
    expect(results.filter((r) => r.outcome === 'conflict')).toEqual(
      Array.from({ length: 49 }, () => ({ outcome: 'conflict', currentRevision: 2 })),
    );

    const stream = await readStream(redis, streamKey);
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
      await appendToStream(redis, { ...base, expectedRevision: 0, events: [comment('a')] }),
    ).toEqual({
      outcome: 'conflict',
      currentRevision: -1,
    });
    expect(
      await appendToStream(redis, { ...base, expectedRevision: 'any', events: [comment('a')] }),
    ).toMatchObject({
      outcome: 'appended',
      revision: 0,
    });
    expect(
      await appendToStream(redis, { ...base, expectedRevision: 'none', events: [comment('b')] }),
    ).toEqual({
      outcome: 'conflict',
      currentRevision: 0,
    });
    expect(
      await appendToStream(redis, { ...base, expectedRevision: 0, events: [comment('b')] }),
    ).toMatchObject({
      outcome: 'appended',
      revision: 1,
    });
    expect((await readStream(redis, base.streamKey)).map((e) => e.rev)).toEqual([0, 1]);
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
    const first = await appendToStream(redis, { ...request, events: [comment('once')] });
    expect(first.outcome).toBe('appended');
    const copies = await Promise.all(
      Array.from({ length: 10 }, () =>
        appendToStream(redis, { ...request, events: [comment('twice?')] }),
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
    expect(await redis.xlen(request.streamKey)).toBe(1);
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
        appendToStream(fresh, {
          streamKey: keys.taskStream(taskId),
          logKey: keys.taskLog(keys.partitionOf(taskId)),
          aggregateId: taskId,
          expectedRevision: 'none',
          events: [comment('first')],
        }),
      ]);
      expect(read).toBeNull();
      expect(appended).toMatchObject({ outcome: 'appended', revision: 0 });
    } finally {
      await fresh.quit();
    }
  });
});
