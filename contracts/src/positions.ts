import { z } from 'zod';

/** A position: `<log>:<entryId>`, e.g. `t0:1732460000000-0` (design §2). */
export interface Position {
  log: string;
  entryId: string;
}

const POSITION = /^(t\d{1,4}|id):(\d{1,20})-(\d{1,20})$/;
const MAX_ID_PART = 2n ** 64n - 1n;

export const formatPosition = (log: string, entryId: string) => `${log}:${entryId}`;

/** Compares two stream entry ids (`ms-seq`) numerically. */
export const compareEntryIds = (a: string, b: string): number => {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
};

/** Parses a comma-separated list of positions, keeping the highest per log. */
export const PositionList = z
  .string()
  .max(4_000)
  .transform((value, ctx) => {
    const byLog = new Map<string, string>();
    for (const part of value
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const match = POSITION.exec(part);
      // Both halves of a Redis entry id are unsigned 64-bit numbers.
      if (!match || BigInt(match[2]!) > MAX_ID_PART || BigInt(match[3]!) > MAX_ID_PART) {
        ctx.addIssue({
          code: 'custom',
          message: `"${part}" is not a position like t0:1732460000000-0`,
        });
        return z.NEVER;
      }
      const [, log, ms, seq] = match;
      const entryId = `${ms}-${seq}`;
      const known = byLog.get(log!);
      if (!known || compareEntryIds(entryId, known) > 0) byLog.set(log!, entryId);
    }
    return [...byLog].map(([log, entryId]): Position => ({ log, entryId }));
  });
