import type { StoredEvent } from '@tasksync/contracts';

/**
 * The `default` of every projection's switch over event types. Its parameter
 * is `never`, so an event type added to the contracts fails to compile until
 * each projection handles it or names it among those it ignores. Unreachable
 * at run time: the decoder refuses types it does not know.
 */
export const unhandledEvent = (event: never): never => {
  throw new Error(`no projection handles ${(event as StoredEvent).type}`);
};
