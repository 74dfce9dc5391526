import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { newId } from '@tasksync/contracts';
import { createLogger } from '@tasksync/platform';
import {
  OutdatedReadModelError,
  openReadModel,
  openReadModelReadOnly,
  READ_MODEL_VERSION,
  readModelVersion,
} from '@tasksync/platform/read-model';
import { afterAll, describe, expect, it } from 'vitest';
import { connectTestRedis, testKeys } from '../../test/support';
import { startProjector } from './projector';
import { countLogEntries, rebuildReadModel } from './rebuild';
import { writeV1Log, writeV1ReadModel } from './testing/before-projects';
import { upgradeReadModel } from './upgrade';

const redis = connectTestRedis();
afterAll(() => redis.quit());
const logger = createLogger({ name: 'upgrade-test', level: 'silent' });

/** A directory holding a version-1 model of a log from before projects. */
const givenV1Model = async () => {
  const keys = testKeys();
  await writeV1Log(redis, keys, { userId: newId(), tasks: 100 });
  const dir = mkdtempSync(join(tmpdir(), 'upgrade-'));
  const scratch = openReadModel(join(mkdtempSync(join(tmpdir(), 'v1-')), 'scratch.sqlite'));
  await rebuildReadModel(scratch, redis, keys);
  const path = join(dir, 'read-model.sqlite');
  writeV1ReadModel(path, scratch);
  scratch.close();
  return { keys, dir, path };
};

const versionAt = (path: string) => {
  const db = openReadModelReadOnly(path);
  const version = readModelVersion(db);
  db.close();
  return version;
};

describe('a read-model upgrade', () => {
  it('cut short by a stop leaves the old model as it was, nothing half-built, and the lease free', async () => {
    const { keys, dir, path } = await givenV1Model();
    const before = readFileSync(path);
    const stop = new AbortController();
    const started = startProjector({
      redis,
      keys,
      db: () => openReadModel(path),
      upgrade: (outdated, lease) =>
        upgradeReadModel({
          redis,
          keys,
          group: 'projector',
          path,
          outdated,
          logger,
          batchSize: 10,
          // Stopped once the rebuild is under way.
          gauges: { started: () => {}, progress: () => stop.abort(), ended: () => {} },
          ...lease,
        }),
      signal: stop.signal,
      group: 'projector',
      logger,
    });
    await expect(started).rejects.toThrow(/abort/i);
    expect(readdirSync(dir)).toEqual(['read-model.sqlite']);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(await redis.get(keys.projectorLease('projector'))).toBeNull();
  });

  it('clears what an upgrade that died left beside the path, then upgrades', async () => {
    const { keys, dir, path } = await givenV1Model();
    // A projector killed mid-upgrade leaves its half-built model (and WAL) behind.
    const leftover = `${path}.upgrade-v${READ_MODEL_VERSION}-1000`;
    writeFileSync(leftover, 'half-built');
    writeFileSync(`${leftover}-wal`, 'half-built');
    const { file, events } = await upgradeReadModel({
      redis,
      keys,
      group: 'projector',
      path,
      outdated: new OutdatedReadModelError(path, 1),
      logger,
      held: async () => true,
    });
    expect(events).toBe(await countLogEntries(redis, keys));
    expect(versionAt(path)).toBe(READ_MODEL_VERSION);
    expect(readlinkSync(path)).toBe(basename(file));
    expect(readdirSync(dir).filter((name) => !name.startsWith(basename(file)))).toEqual([
      'read-model.sqlite',
    ]);
  });

  it('switches nothing when the lease was lost meanwhile', async () => {
    const { keys, dir, path } = await givenV1Model();
    const before = readFileSync(path);
    await expect(
      upgradeReadModel({
        redis,
        keys,
        group: 'projector',
        path,
        outdated: new OutdatedReadModelError(path, 1),
        logger,
        held: async () => false,
      }),
    ).rejects.toThrow(/lost the projector lease/);
    expect(readdirSync(dir)).toEqual(['read-model.sqlite']);
    expect(readFileSync(path).equals(before)).toBe(true);
  });
});
