import type { KeyLayout } from '@tasksync/contracts';
import { createLease, type RedisClient } from '@tasksync/platform';

export const LEASE_MS = 15_000;

/**
 * A group's lease (design §5: one writer per read model). Two projectors would
 * split the log between them, and the one behind would find its events under
 * the other's checkpoint and skip them, so a second one waits. `replay --swap`
 * takes the same lease to pause the projector while it switches the file.
 */
export const groupLease = (redis: RedisClient, keys: KeyLayout, group: string, owner: string) =>
  createLease(redis, keys.projectorLease(group), owner, LEASE_MS);
