import { type KeyLayout, newId, type StoredEvent } from '@tasksync/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import {
  readAllAggregates,
  type StoredAggregate,
  v1Appender,
  writeV1Store,
} from '../../../test/fixtures/v1-store';
import { connectTestRedis, testKeys } from '../../../test/support';
import { appendToStream, INDEX_ENTRY_BYTES } from '../redis/append';
import { masters } from '../redis/client';
import { type RawEntry, readAggregate } from '../redis/readers';
import { MigrationError, migrateLayout } from './migrate-layout';

const redis = connectTestRedis();
afterAll(() => redis.quit());

const layoutVersion = (keys: KeyLayout) => redis.hget(keys.meta, 'layoutVersion');

/** Every key the migration keeps beside the logs (shadows, checkpoints, differences), on every master. */
const bookkeepingKeys = async (keys: KeyLayout) => {
  const found: string[] = [];
  for (const node of masters(redis)) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', `${keys.prefix}:*migrating*`);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
  }
  return found;
};

const typesOf = (aggregates: StoredAggregate[]) =>
  Promise.all(aggregates.map((aggregate) => redis.type(aggregate.streamKey)));

/** Rewrites a stream with the same entry ids (XADD refuses ids at or below a stream's top otherwise). */
const rewriteStream = async (key: string, edit: (entries: RawEntry[]) => RawEntry[]) => {
  const entries = edit((await redis.xrange(key, '-', '+')) as RawEntry[]);
  await redis.del(key);
  for (const [id, fields] of entries) await redis.xadd(key, id, ...fields);
};

const withData = (fields: string[], data: string) =>
  fields.map((value, i) => (fields[i - 1] === 'data' ? data : value));

describe('migrateLayout', () => {
  it('turns every aggregate stream into an index with the same events, revisions, idempotency records and unique keys; a second run does nothing', async () => {
    const keys = testKeys(2);
    const store = await writeV1Store(redis, keys);
    const before = await readAllAggregates(redis, store.aggregates, 1);

    const phases: string[] = [];
    const result = await migrateLayout({
      redis,
      keys,
      batchSize: 7,
      onProgress: ({ phase, done, total }) => phases.push(`${phase} ${done}/${total}`),
    });

    expect(result).toMatchObject({
      outcome: 'migrated',
      copiedEvents: store.events,
      totalEvents: store.events,
      aggregates: store.aggregates.length,
    });
    expect(phases).toContain(`copy ${store.events}/${store.events}`);
    expect(phases.at(-1)).toBe(`switch ${store.aggregates.length}/${store.aggregates.length}`);
    expect(await layoutVersion(keys)).toBe('2');
    expect(new Set(await typesOf(store.aggregates))).toEqual(new Set(['string']));
    expect(await readAllAggregates(redis, store.aggregates, 2)).toEqual(before);
    for (const { streamKey } of store.aggregates) {
      expect((await redis.strlen(streamKey)) / INDEX_ENTRY_BYTES).toBe(
        before.get(streamKey)!.length,
      );
    }
    expect(await bookkeepingKeys(keys)).toEqual([]);

    expect(await migrateLayout({ redis, keys })).toEqual({ outcome: 'already-migrated' });
    expect(await readAllAggregates(redis, store.aggregates, 2)).toEqual(before);
    expect(await bookkeepingKeys(keys)).toEqual([]);
  });

  it('leaves a store whose writers go on on layout 2 where they left off: idempotent replays, revisions, unique keys', async () => {
    const keys = testKeys(2);
    const store = await writeV1Store(redis, keys, { tasks: 14 });
    await migrateLayout({ redis, keys });

    expect(store.idempotent.length).toBeGreaterThan(14);
    for (const { request, record } of store.idempotent) {
      expect(await appendToStream(redis, request, 2)).toEqual({ outcome: 'duplicate', record });
    }

    const taskId = store.tasks[3]!;
    const task = {
      streamKey: keys.taskStream(taskId),
      logKey: keys.taskLog(keys.partitionOf(taskId)),
    };
    const history = await readAggregate(redis, { layout: 2, ...task });
    const last = history.at(-1)!;
    const comment = {
      id: newId(),
      type: 'CommentAdded' as const,
      data: { commentId: newId(), text: 'after the migration', authorId: store.users[0]! },
      at: new Date().toISOString(),
      actor: store.users[0]!,
      corr: 'test',
    };
    const append = (expectedRevision: number) =>
      appendToStream(
        redis,
        { ...task, aggregateId: taskId, expectedRevision, events: [comment] },
        2,
      );
    expect(await append(last.rev - 1)).toEqual({
      outcome: 'conflict',
      currentRevision: last.rev,
    });
    const appended = await append(last.rev);
    expect(appended).toMatchObject({ outcome: 'appended', revision: last.rev + 1 });
    expect(await readAggregate(redis, { layout: 2, ...task })).toEqual([
      ...history,
      expect.objectContaining({
        type: 'CommentAdded',
        rev: last.rev + 1,
        entryId: (appended as { entryId: string }).entryId,
      }),
    ]);

    const email = `${store.users[1]}@example.com`;
    expect(
      await appendToStream(
        redis,
        {
          streamKey: keys.userStream(newId()),
          logKey: keys.identityLog,
          aggregateId: newId(),
          expectedRevision: 'none',
          events: [
            {
              id: newId(),
              type: 'UserRegistered',
              data: { email, name: 'Again', role: 'member' },
              at: new Date().toISOString(),
              actor: 'system',
              corr: 'test',
            },
          ],
          unique: [{ key: keys.email(email), value: 'someone else' }],
        },
        2,
      ),
    ).toEqual({ outcome: 'unique-violation', key: keys.email(email) });
  });

  it('includes what layout-1 writers append while the copy runs and after it, before the switch', async () => {
    const keys = testKeys(2);
    const store = await writeV1Store(redis, keys, { tasks: 10 });
    const writer = v1Appender(redis, keys);
    const [owner, assignee] = store.users as [string, string];
    const later: string[] = [];
    const writeTasks = async (from: number, count: number) => {
      for (let i = from; i < from + count; i++) {
        const taskId = await writer.createTask(owner, store.projects[0]!, `later-${i}`);
        await writer.liveTask(taskId, owner, assignee, store.projects[1]!, 5);
        later.push(taskId);
      }
    };

    const [copied] = await Promise.all([
      migrateLayout({ redis, keys, copyOnly: true, batchSize: 3 }),
      writeTasks(0, 20),
    ]);
    expect(copied).toMatchObject({ outcome: 'copied' });
    expect(await layoutVersion(keys)).toBe('1');
    await writeTasks(20, 5);
    // An aggregate the copy saw, written again after it.
    await writer.addComment(store.tasks[0]!, owner, 0);
    await writer.changeRole(store.users[2]!, 0);

    const aggregates = [
      ...store.aggregates,
      ...later.map((id) => ({
        streamKey: keys.taskStream(id),
        logKey: keys.taskLog(keys.partitionOf(id)),
      })),
    ];
    const before = await readAllAggregates(redis, aggregates, 1);
    expect(await migrateLayout({ redis, keys, batchSize: 3 })).toMatchObject({
      outcome: 'migrated',
      copiedEvents: store.events + writer.events(),
      aggregates: aggregates.length,
    });
    expect(await readAllAggregates(redis, aggregates, 2)).toEqual(before);
    expect(before.get(keys.userStream(store.users[2]!))!.map((e) => e.type)).toEqual([
      'UserRegistered',
      'UserRoleChanged',
    ]);
  });

  it('indexes each entry once when a batch is copied again (a checkpoint behind its shadows)', async () => {
    const keys = testKeys(2);
    const store = await writeV1Store(redis, keys, { tasks: 10 });
    const before = await readAllAggregates(redis, store.aggregates, 1);
    await migrateLayout({ redis, keys, copyOnly: true, batchSize: 4 });
    for (const log of keys.logs())
      await redis.hset(log.key.replace(/:log$/, ':migrating:progress'), 'after', '0');

    expect(await migrateLayout({ redis, keys, batchSize: 4 })).toMatchObject({
      outcome: 'migrated',
    });
    expect(await readAllAggregates(redis, store.aggregates, 2)).toEqual(before);
  });

  it('indexes each entry once when two runs copy at the same time', async () => {
    const keys = testKeys(2);
    const store = await writeV1Store(redis, keys, { tasks: 20 });
    const before = await readAllAggregates(redis, store.aggregates, 1);

    await Promise.all([
      migrateLayout({ redis, keys, copyOnly: true, batchSize: 2 }),
      migrateLayout({ redis, keys, copyOnly: true, batchSize: 3 }),
    ]);
    expect(await migrateLayout({ redis, keys })).toMatchObject({ outcome: 'migrated' });
    expect(await readAllAggregates(redis, store.aggregates, 2)).toEqual(before);
  });

  describe.each([
    {
      defect: 'an entry of an aggregate stream differs from its log entry',
      plant: (key: string) =>
        rewriteStream(key, (entries) =>
          entries.map(([id, fields], i) => [
            id,
            i === 0 ? withData(fields, '{"planted":1}') : fields,
          ]),
        ),
      reason: /differs between the aggregate stream and the log/,
    },
    {
      defect: 'an aggregate stream lacks an entry of its log',
      plant: (key: string) => rewriteStream(key, (entries) => entries.slice(1)),
      reason: /missing from the aggregate stream/,
    },
    {
      defect: 'an aggregate stream holds an entry its log does not',
      plant: (key: string) =>
        redis.xadd(key, '*', 'id', newId(), 'type', 'TaskDeleted').then(() => {}),
      reason: /the stream holds \d+ ending .*, the new index \d+ ending/,
    },
  ])('when $defect', ({ plant, reason }) => {
    it('refuses to switch, changes nothing, and migrates once the stream is repaired', async () => {
      const keys = testKeys(2);
      const store = await writeV1Store(redis, keys, { tasks: 8 });
      const before = await readAllAggregates(redis, store.aggregates, 1);
      const planted = keys.taskStream(store.tasks[5]!);
      const original = (await redis.xrange(planted, '-', '+')) as RawEntry[];
      await plant(planted);

      const refused = await migrateLayout({ redis, keys, batchSize: 4 });
      // Named by every check that sees it, and only the planted aggregate.
      expect(refused).toEqual({
        outcome: 'refused',
        mismatches: expect.arrayContaining([
          expect.objectContaining({ key: planted, reason: expect.stringMatching(reason) }),
        ]),
      });
      expect(
        new Set(refused.outcome === 'refused' ? refused.mismatches.map((m) => m.key) : []),
      ).toEqual(new Set([planted]));
      expect(await layoutVersion(keys)).toBe('1');
      expect(new Set(await typesOf(store.aggregates))).toEqual(new Set(['stream']));
      const unplanted = store.aggregates.filter((a) => a.streamKey !== planted);
      expect(await readAllAggregates(redis, unplanted, 1)).toEqual(
        new Map(unplanted.map((a) => [a.streamKey, before.get(a.streamKey)])),
      );
      // Refused again on a second run: the difference is not forgotten.
      expect(await migrateLayout({ redis, keys })).toMatchObject({ outcome: 'refused' });

      await rewriteStream(planted, () => original);
      expect(await migrateLayout({ redis, keys })).toMatchObject({ outcome: 'migrated' });
      expect(await readAllAggregates(redis, store.aggregates, 2)).toEqual(before);
    });
  });

  it('refuses a stream that looks like an aggregate but has no events in any log', async () => {
    const keys = testKeys(2);
    const store = await writeV1Store(redis, keys, { tasks: 4 });
    const stray = keys.taskStream(newId());
    const [[, fields]] = (await redis.xrange(keys.taskStream(store.tasks[0]!), '-', '+')) as [
      RawEntry,
    ];
    await redis.xadd(stray, '*', ...fields);

    expect(await migrateLayout({ redis, keys })).toEqual({
      outcome: 'refused',
      mismatches: [
        {
          key: stray,
          reason: expect.stringMatching(/the stream holds 1 ending .*, the new index 0 ending $/),
        },
      ],
    });
    expect(await layoutVersion(keys)).toBe('1');
    expect(new Set(await typesOf(store.aggregates))).toEqual(new Set(['stream']));
  });

  it('drops an aggregate stream whose entries were all deleted: layout 2 keeps no key for an aggregate without events', async () => {
    const keys = testKeys(2);
    const store = await writeV1Store(redis, keys, { tasks: 4 });
    const emptied = keys.taskStream(newId());
    const id = await redis.xadd(emptied, '*', 'id', 'soon deleted');
    await redis.xdel(emptied, id!);

    expect(await migrateLayout({ redis, keys })).toMatchObject({
      outcome: 'migrated',
      aggregates: store.aggregates.length + 1,
    });
    expect(await redis.exists(emptied)).toBe(0);
  });

  it('stops when an append lands during the switch, and the next run, writers stopped, includes it', async () => {
    const keys = testKeys(2);
    const store = await writeV1Store(redis, keys, { tasks: 6 });
    const writer = v1Appender(redis, keys);
    const taskId = store.tasks[6 - 1]!;

    await expect(
      migrateLayout({
        redis,
        keys,
        onPhase: async (phase) => {
          if (phase === 'switch') await writer.addComment(taskId, store.users[0]!, 5);
        },
      }),
    ).rejects.toThrow(MigrationError);
    expect(await layoutVersion(keys)).toBe('1');

    const before = await readAllAggregates(
      redis,
      store.aggregates.filter((a) => a.streamKey === keys.taskStream(taskId)),
      1,
    );
    expect(await migrateLayout({ redis, keys })).toMatchObject({ outcome: 'migrated' });
    const after = await readAllAggregates(
      redis,
      store.aggregates.filter((a) => a.streamKey === keys.taskStream(taskId)),
      2,
    );
    expect(after).toEqual(before);
    expect((after.get(keys.taskStream(taskId)) as StoredEvent[]).map((e) => e.type)).toEqual([
      'TaskCreated',
      'TaskDetailsChanged',
      'TaskStatusChanged',
      'TaskAssigned',
      'CommentAdded',
      'TaskMoved',
      'CommentAdded',
    ]);
  });

  it('finds nothing to do where no store is', async () => {
    expect(await migrateLayout({ redis, keys: testKeys() })).toEqual({
      outcome: 'nothing-to-migrate',
    });
  });
});
