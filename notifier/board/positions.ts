import { compareEntryIds, formatPosition } from '@tasksync/contracts';

const ENTRY_ID = /^\d+-\d+$/;

/**
 * The [log, entryId] parts of a comma-separated position list. Lenient where the
 * server's PositionList is strict: one odd part, or a log this page does not know
 * yet, must not cost it the others.
 */
const positionParts = (list: string | null | undefined) =>
  (list ?? '').split(',').flatMap((position): [string, string][] => {
    const colon = position.indexOf(':');
    const log = position.slice(0, colon).trim();
    const entryId = position.slice(colon + 1).trim();
    return colon < 1 || !ENTRY_ID.test(entryId) ? [] : [[log, entryId]];
  });

/**
 * Per log, the last entry id this page has seen (from the snapshot's read
 * position, `live`, `resync` and every event); sent back as `since`, so a
 * reconnect resumes without a gap.
 */
export const createPositionTracker = () => {
  const latest = new Map<string, string>();
  return {
    /** Records a comma-separated position list, keeping the latest entry per log. */
    record(list: string | null | undefined) {
      for (const [log, entryId] of positionParts(list)) {
        const known = latest.get(log);
        if (!known || compareEntryIds(entryId, known) > 0) latest.set(log, entryId);
      }
    },
    since: () => [...latest].map(([log, entryId]) => formatPosition(log, entryId)).join(','),
  };
};

export type PositionTracker = ReturnType<typeof createPositionTracker>;

/** The latest position per log of these lists, as one list. */
export const latestOf = (...lists: (string | null | undefined)[]) => {
  const tracker = createPositionTracker();
  for (const list of lists) tracker.record(list);
  return tracker.since();
};

/** Asks the query-service to answer only once its read model has applied these positions. */
export const readAfter = (positions: string | null | undefined): Record<string, string> =>
  positions?.trim() ? { 'X-Min-Position': positions, 'X-Max-Wait-Ms': '10000' } : {};

/**
 * Whether the event at `position` is later than what a read at `readPosition`
 * (its `X-Read-Position`) reflects. A read that names no position for the
 * event's log says nothing of it: the event counts as later.
 */
export const isAfterRead = (position: string, readPosition: string | null | undefined) => {
  const [event] = positionParts(position);
  if (!event) return true;
  const read = positionParts(readPosition).find(([log]) => log === event[0]);
  return !read || compareEntryIds(event[1], read[1]) > 0;
};
