import {
  evolveUser,
  type KeyLayout,
  type Role,
  type UserEvent,
  type UserState,
} from '@tasksync/contracts';
import type { RedisClient } from '../redis/client';
import type { ArchivedEntries } from '../redis/readers';
import { type AggregateStore, createAggregateStore } from './aggregate-store';

export type UserStore = AggregateStore<UserState, UserEvent>;

/**
 * Users folded from their events (by their index `ts:{id}:user:<id>`; those
 * archived from `archive`), cached like every aggregate.
 */
export const createUserStore = (
  redis: RedisClient,
  keys: KeyLayout,
  archive?: ArchivedEntries,
): UserStore =>
  createAggregateStore<UserState, UserEvent>({
    redis,
    archive,
    streamKey: keys.userStream,
    logKey: () => keys.identityLog,
    evolve: evolveUser,
    initial: null,
  });

/** A user's role now, from their own stream: what `withCurrentRole` checks on the write side. */
export const roleInStream =
  (users: UserStore) =>
  async (userId: string): Promise<Role | undefined> =>
    (await users.load(userId)).state?.role;
