/**
 * Stream entry ids (`<ms>-<seq>`, both unsigned 64-bit) as numbers to compare
 * and step: the archive works with inclusive id bounds, and XTRIM MINID needs
 * the id right after the last archived one.
 */
import { compareEntryIds } from '@tasksync/contracts';

const MAX_SEQ = 2n ** 64n - 1n;

export interface EntryId {
  ms: bigint;
  seq: bigint;
}

/** `<ms>-<seq>`, or `<ms>` alone as XRANGE reads it: `missingSeq` (0 at a start, the largest at an end). */
export const parseEntryId = (id: string, missingSeq: 'first' | 'last' = 'first'): EntryId => {
  const [ms, seq] = id.split('-');
  if (!ms || !/^\d+$/.test(ms) || (seq !== undefined && !/^\d+$/.test(seq)))
    throw new Error(`not a stream entry id: ${id}`);
  return {
    ms: BigInt(ms),
    seq: seq === undefined ? (missingSeq === 'first' ? 0n : MAX_SEQ) : BigInt(seq),
  };
};

export const formatEntryId = ({ ms, seq }: EntryId) => `${ms}-${seq}`;

/** The smallest id after `id`. */
export const nextEntryId = (id: string): string => {
  const { ms, seq } = parseEntryId(id);
  return formatEntryId(seq === MAX_SEQ ? { ms: ms + 1n, seq: 0n } : { ms, seq: seq + 1n });
};

/** The largest id before `id`, or undefined before `0-0`. */
export const previousEntryId = (id: string): string | undefined => {
  const { ms, seq } = parseEntryId(id);
  if (seq > 0n) return formatEntryId({ ms, seq: seq - 1n });
  return ms > 0n ? formatEntryId({ ms: ms - 1n, seq: MAX_SEQ }) : undefined;
};

/**
 * The inclusive upper bound an XRANGE end argument names: `+` (none), `<ms>`,
 * `<ms>-<seq>` or the exclusive `(<id>`; undefined for `+`, null for an end
 * before every id.
 */
export const inclusiveEnd = (end: string): string | null | undefined => {
  if (end === '+') return undefined;
  if (end.startsWith('(')) return previousEntryId(end.slice(1)) ?? null;
  return formatEntryId(parseEntryId(end, 'last'));
};

/** The smaller of two ids, undefined standing for "no bound". */
export const minEntryId = (a: string | undefined, b: string | undefined) =>
  a === undefined ? b : b === undefined ? a : compareEntryIds(a, b) <= 0 ? a : b;
