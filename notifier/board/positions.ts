import { compareEntryIds, formatPosition } from '@tasksync/contracts';

const ENTRY_ID = /^\d+-\d+$/;

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
      for (const position of (list ?? '').split(',')) {
        const colon = position.indexOf(':');
        const log = position.slice(0, colon).trim();
        const entryId = position.slice(colon + 1).trim();
        // Lenient where the server's PositionList is strict: one odd part, or a
        // log this page does not know yet, must not cost it the others.
        if (colon < 1 || !ENTRY_ID.test(entryId)) continue;
        const known = latest.get(log);
        if (!known || compareEntryIds(entryId, known) > 0) latest.set(log, entryId);
      }
    },
    since: () => [...latest].map(([log, entryId]) => formatPosition(log, entryId)).join(','),
  };
};

export type PositionTracker = ReturnType<typeof createPositionTracker>;

/** Asks the query-service to answer only once its read model has applied these positions. */
export const readAfter = (positions: string | null | undefined): Record<string, string> =>
  positions?.trim() ? { 'X-Min-Position': positions, 'X-Max-Wait-Ms': '10000' } : {};
