import {
  evolveUser,
  type KeyLayout,
  type Role,
  type UserEvent,
  type UserState,
} from '@tasksync/contracts';
import type { RedisClient } from '../redis/client';
import { type AggregateStore, createAggregateStore } from './aggregate-store';

export type UserStore = AggregateStore<UserState, UserEvent>;

/** Users folded from their streams (`ts:{id}:user:<id>`), cached like every aggregate. */
export const createUserStore = (redis: RedisClient, keys: KeyLayout): UserStore =>
  createAggregateStore<UserState, UserEvent>({
    redis,
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
