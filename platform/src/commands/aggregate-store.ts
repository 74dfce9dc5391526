import type { DomainEvent, StoredEvent } from '@tasksync/contracts';
import type { RedisClient } from '../redis/client';
import { type ArchivedEntries, readAggregate } from '../redis/readers';

export interface LoadedAggregate<State> {
  state: State;
  /** Revision of the last event folded in; -1 for an aggregate with no events. */
  revision: number;
  /** Entry id of the last event folded in; '' for an aggregate with no events. */
  lastEntryId: string;
}

export interface AggregateStore<State, E extends DomainEvent> {
  readonly evolve: (state: State, event: StoredEvent<E>) => State;
  /** The aggregate before its first event. */
  readonly empty: LoadedAggregate<State>;
  /** The aggregate's index into its log (design §11). */
  streamKey(aggregateId: string): string;
  load(aggregateId: string): Promise<LoadedAggregate<State>>;
  /** Drops a cached state (after a revision conflict: someone else appended). */
  forget(aggregateId: string): void;
}

/**
 * Loads aggregates by folding their events with `evolve`, read through their
 * index into their log (layout 2, design §11). Folded states are kept in a
 * bounded in-process cache (least recently used out); a load then reads only
 * the events after the cached revision, so a long-lived aggregate costs one
 * short read instead of its whole history. The cache is only a starting
 * point: every append still checks the revision.
 */
export const createAggregateStore = <State, E extends DomainEvent>(options: {
  redis: RedisClient;
  streamKey: (aggregateId: string) => string;
  /** The log an aggregate's events go to, which its index points into. */
  logKey: (aggregateId: string) => string;
  evolve: (state: State, event: StoredEvent<E>) => State;
  initial: State;
  /** Where events no longer in the log are read (design §11); none: they are an error. */
  archive?: ArchivedEntries | undefined;
  capacity?: number;
}): AggregateStore<State, E> => {
  const capacity = options.capacity ?? 10_000;
  const cache = new Map<string, LoadedAggregate<State>>();
  const empty: LoadedAggregate<State> = { state: options.initial, revision: -1, lastEntryId: '' };

  const remember = (aggregateId: string, loaded: LoadedAggregate<State>) => {
    cache.delete(aggregateId);
    cache.set(aggregateId, loaded);
    if (cache.size > capacity) cache.delete(cache.keys().next().value!);
  };

  return {
    evolve: options.evolve,
    empty,
    streamKey: options.streamKey,
    async load(aggregateId) {
      const cached = cache.get(aggregateId);
      const events = (await readAggregate(
        options.redis,
        { streamKey: options.streamKey(aggregateId), logKey: options.logKey(aggregateId) },
        cached && { revision: cached.revision, entryId: cached.lastEntryId },
        options.archive,
      )) as StoredEvent<E>[];
      if (!events.length) return cached ?? empty;
      let state = cached ? cached.state : options.initial;
      for (const event of events) state = options.evolve(state, event);
      const last = events[events.length - 1]!;
      const loaded = { state, revision: last.rev, lastEntryId: last.entryId };
      remember(aggregateId, loaded);
      return loaded;
    },
    forget(aggregateId) {
      cache.delete(aggregateId);
    },
  };
};
