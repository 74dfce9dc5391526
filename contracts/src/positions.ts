/** A position: `<log>:<entryId>`, e.g. `t0:1732460000000-0` (design §2). */
export interface Position {
  log: string;
  entryId: string;
}

export const formatPosition = (log: string, entryId: string) => `${log}:${entryId}`;

/** Compares two stream entry ids (`ms-seq`) numerically. */
export const compareEntryIds = (a: string, b: string): number => {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
};

const POSITION = /^(t\d{1,4}|p|id):(\d{1,20})-(\d{1,20})$/;
const MAX_ID_PART = 2n ** 64n - 1n;

/** One `<log>:<entryId>` part, or undefined when it is not a position Redis could have written. */
export const parsePosition = (part: string): Position | undefined => {
  const match = POSITION.exec(part);
  // Both halves of a Redis entry id are unsigned 64-bit numbers.
  if (!match || BigInt(match[2]!) > MAX_ID_PART || BigInt(match[3]!) > MAX_ID_PART)
    return undefined;
  return { log: match[1]!, entryId: `${match[2]}-${match[3]}` };
};
