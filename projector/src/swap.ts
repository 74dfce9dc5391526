import {
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  openSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { KeyLayout } from '@tasksync/contracts';
import { newLeaseOwner, type RedisClient } from '@tasksync/platform';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { groupLease, LEASE_MS } from './lease';

/**
 * Takes a group's lease from its live projector (replay --swap): asks it to
 * hand over, which it does after finishing and acking the batch in hand and
 * closing the file. With no projector running, the lease is simply taken.
 */
export const pauseProjector = async (
  redis: RedisClient,
  keys: KeyLayout,
  group: string,
  timeoutMs = 30_000,
) => {
  const owner = newLeaseOwner('replay');
  const lease = groupLease(redis, keys, group, owner);
  const control = keys.readModelControl(group);
  const deadline = Date.now() + timeoutMs;
  let asked = 0;
  while (!(await lease.tryTake()) && (await lease.holder()) !== owner) {
    if (Date.now() > deadline)
      throw new Error(
        `the projector of group ${group} did not hand over its read model within ${timeoutMs / 1000} s`,
      );
    // Asked again now and then: a request published while it was reconnecting is lost.
    if (Date.now() - asked > 2_000) {
      await redis.publish(control, `handover ${owner}`);
      asked = Date.now();
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  let held = true;
  const timer = setInterval(async () => {
    if (!(await lease.renew().catch(() => true))) held = false;
  }, LEASE_MS / 3);
  timer.unref();
  return {
    /** False once the lease was lost (Redis unreachable for longer than the lease). */
    held: async () => held && (await lease.holder()) === owner,
    /** Releases the lease and wakes the waiting projector, which reopens the path. */
    resume: async () => {
      clearInterval(timer);
      await lease.release();
      await redis.publish(control, 'released');
    },
  };
};

const fsyncPath = (path: string, flags = 'r') => {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
};

/**
 * Points `path` at `file` in one rename: `path` becomes a symlink, and SQLite
 * resolves it, so each file keeps its own `-wal` and `-shm` beside it. Readers
 * that still hold the old file keep reading it until they reopen; its names
 * are removed here (an open file lives on until its last handle closes).
 * Returns the old file's path, if there was one.
 */
export const switchReadModelFile = (path: string, file: string) => {
  fsyncPath(file, 'r+');
  const dir = dirname(path);
  const target = dirname(resolve(file)) === resolve(dir) ? basename(file) : resolve(file);
  let old: string | undefined;
  if (existsSync(path)) {
    old = lstatSync(path).isSymbolicLink() ? resolve(dir, readlinkSync(path)) : path;
  }
  const link = `${path}.swap-${process.pid}`;
  rmSync(link, { force: true });
  symlinkSync(target, link);
  renameSync(link, path);
  fsyncPath(dir);
  if (old && resolve(old) !== resolve(file)) {
    // A regular file at `path` was unlinked by the rename; its WAL and shm names remain.
    const names = old === path ? [`${path}-wal`, `${path}-shm`] : [old, `${old}-wal`, `${old}-shm`];
    for (const name of names) rmSync(name, { force: true });
  }
  return old;
};

/**
 * Catches a model being built beside the live one up with the live logs while
 * the live projector still runs: a few passes, each shorter than the one
 * before, so the pause for the last events (`swapInRebuilt`) is short.
 * `build` applies what the logs hold beyond the model's checkpoints.
 */
export const catchUpRebuilt = async (build: () => Promise<number>) => {
  let total = 0;
  for (let pass = 0; pass < 5; pass++) {
    const more = await build();
    total += more;
    if (more < 1_000) break;
  }
  return total;
};

/**
 * The switch itself (replay --swap, the projector's read-model upgrade), with
 * the group's lease held so no projector writes meanwhile: applies the last
 * events, closes the rebuilt model, points `path` at it and tells the
 * group's readers (`swapped`), who reopen the path. Nothing is switched if
 * the lease was lost. Returns the events applied.
 */
export const swapInRebuilt = async (options: {
  redis: RedisClient;
  keys: KeyLayout;
  group: string;
  /** READ_MODEL_PATH, which readers open. */
  path: string;
  /** The rebuilt model, open for writing; closed here. */
  db: ReadModelDb;
  build: () => Promise<number>;
  /** Whether the caller still holds the group's lease. */
  held: () => Promise<boolean>;
}) => {
  const { db } = options;
  const applied = await options.build();
  db.pragma('wal_checkpoint(TRUNCATE)');
  const file = db.name;
  db.close();
  if (!(await options.held()))
    throw new Error('lost the projector lease during the swap; nothing was switched');
  switchReadModelFile(options.path, file);
  await options.redis.publish(options.keys.readModelControl(options.group), 'swapped');
  return applied;
};
