import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '@tasksync/contracts';
import { createLogger } from '@tasksync/platform';
import { openReadModel, type ReadModelDb } from '@tasksync/platform/read-model';
import { afterAll, describe, expect, it } from 'vitest';
import { appendUserRegistered, connectTestRedis, testKeys, waitFor } from '../../test/support';
import { startProjector } from './projector';
import { rebuildReadModel } from './rebuild';

const redis = connectTestRedis();
afterAll(() => redis.quit());
const logger = createLogger({ name: 'projector-test', level: 'silent' });
const model = () => openReadModel(join(mkdtempSync(join(tmpdir(), 'proj-')), 'rm.sqlite'));
const users = (db: ReadModelDb) =>
  db.prepare('SELECT id, email, revision FROM users ORDER BY id').all();
const fast = { blockMs: 50, retryDelayMs: 5, claimIdleMs: 60_000 };

describe('projector', () => {
  it('survives a crash between the SQLite commit and XACK: nothing missing, nothing doubled', async () => {
    const keys = testKeys();
    const ids = Array.from({ length: 12 }, () => newId());
    for (const userId of ids)
      await appendUserRegistered(redis, keys, { userId, email: `${userId}@example.com` });
    const db = model();
    let crashes = 0;
    const projector = await startProjector({
      redis,
      keys,
      db,
      group: 'projector',
      logger,
      batchSize: 5,
      consumerOptions: fast,
      // The commit has happened; the process "dies" before XACK, twice.
      onApplied: () => {
        if (crashes++ < 2) throw new Error('crash after commit');
      },
    });
    await waitFor(() => ((users(db) as unknown[]).length === 12 && crashes > 2 ? true : undefined));
    await waitFor(async () =>
      ((await redis.xpending(keys.identityLog, 'projector')) as [number])[0] === 0
        ? true
        : undefined,
    );
    await projector.stop();
    const clean = model();
    await rebuildReadModel(clean, redis, keys);
    expect(users(db)).toEqual(users(clean));
    expect(users(db)).toHaveLength(12);
  });

  it('sends an unknown event type to the dead-letter stream and keeps projecting', async () => {
    const keys = testKeys();
    const before = newId();
    const after = newId();
    await appendUserRegistered(redis, keys, { userId: before, email: 'before@example.com' });
    const poison = await redis.xadd(
      keys.identityLog,
      '*',
      'id',
      newId(),
      'type',
      'UserExploded',
      'v',
      '1',
      'agg',
      newId(),
      'rev',
      '0',
      'at',
      new Date().toISOString(),
      'actor',
      'system',
      'corr',
      'x',
      'data',
      '{}',
    );
    await appendUserRegistered(redis, keys, { userId: after, email: 'after@example.com' });
    const db = model();
    const projector = await startProjector({
      redis,
      keys,
      db,
      group: 'projector',
      logger,
      consumerOptions: { ...fast, maxDeliveries: 3 },
    });
    await waitFor(() => ((users(db) as unknown[]).length === 2 ? true : undefined));
    const dlq = keys.deadLetters(keys.identityLog, 'projector');
    await waitFor(async () => ((await redis.xlen(dlq)) === 1 ? true : undefined));
    await projector.stop();
    const fields = ((await redis.xrange(dlq, '-', '+')) as [string, string[]][])[0]![1];
    expect(fields[fields.indexOf('entry') + 1]).toBe(poison);
    expect(fields[fields.indexOf('error') + 1]).toMatch(/unknown type UserExploded/);
  });

  it('re-reads from its checkpoint on start, whatever the group acked', async () => {
    const keys = testKeys();
    const first = newId();
    await appendUserRegistered(redis, keys, { userId: first, email: 'first@example.com' });
    const db = model();
    let projector = await startProjector({
      redis,
      keys,
      db,
      group: 'projector',
      logger,
      consumerOptions: fast,
    });
    await waitFor(() => ((users(db) as unknown[]).length === 1 ? true : undefined));
    await projector.stop();
    // The file loses its last transaction (an unsynced write), though the group had acked it.
    db.exec('DELETE FROM users; DELETE FROM checkpoints;');
    projector = await startProjector({
      redis,
      keys,
      db,
      group: 'projector',
      logger,
      consumerOptions: fast,
    });
    await waitFor(() => ((users(db) as unknown[]).length === 1 ? true : undefined));
    // The first projector's consumer is gone from the group: consumers do not pile up.
    const consumers = (await redis.xinfo(
      'CONSUMERS',
      keys.identityLog,
      'projector',
    )) as unknown[][];
    expect(consumers).toHaveLength(1);
    await projector.stop();
    expect(users(db)).toEqual([expect.objectContaining({ id: first, revision: 0 })]);
  });

  it('lets one projector write a group at a time; a second waits for the lease', async () => {
    const keys = testKeys();
    const path = join(mkdtempSync(join(tmpdir(), 'proj-')), 'rm.sqlite');
    const dbA = openReadModel(path);
    const dbB = openReadModel(path);
    const first = await startProjector({
      redis,
      keys,
      db: dbA,
      group: 'projector',
      logger,
      consumerOptions: fast,
    });
    let secondStarted = false;
    const second = startProjector({
      redis,
      keys,
      db: dbB,
      group: 'projector',
      logger,
      consumerOptions: fast,
    }).then((p) => {
      secondStarted = true;
      return p;
    });
    const ids = Array.from({ length: 10 }, () => newId());
    for (const userId of ids.slice(0, 5))
      await appendUserRegistered(redis, keys, { userId, email: `${userId}@example.com` });
    await waitFor(() => ((users(dbA) as unknown[]).length === 5 ? true : undefined));
    expect(secondStarted).toBe(false);
    await first.stop();
    const taken = await second;
    for (const userId of ids.slice(5))
      await appendUserRegistered(redis, keys, { userId, email: `${userId}@example.com` });
    await waitFor(() => ((users(dbB) as unknown[]).length === 10 ? true : undefined));
    await taken.stop();
    const clean = model();
    await rebuildReadModel(clean, redis, keys);
    expect(users(dbB)).toEqual(users(clean));
  });
});
