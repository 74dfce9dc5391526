import { v7 as referenceV7, validate, version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { fnv1a32, idFromIdempotencyKey, newId } from './ids';

describe('newId', () => {
  it('makes valid, distinct uuid v7 whose first 48 bits are the current Unix milliseconds', () => {
    const before = Date.now();
    const ids = Array.from({ length: 5_000 }, () => newId());
    const after = Date.now();
    expect(new Set(ids).size).toBe(5_000);
    for (const id of ids) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
      expect(id[19]).toMatch(/[89ab]/);
      const ms = Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);
      expect(ms).toBeGreaterThanOrEqual(before);
      expect(ms).toBeLessThanOrEqual(after);
    }
  });

  it('sorts with the reference implementation by time', () => {
    const reference = referenceV7({ msecs: Date.now() - 5 });
    expect([newId(), reference].sort()[0]).toBe(reference);
  });
});

describe('ids derived from keys and partitions', () => {
  it('derives the same task id from the same user and Idempotency-Key, another for another user', () => {
    expect(idFromIdempotencyKey('u1', 'k')).toBe(idFromIdempotencyKey('u1', 'k'));
    expect(idFromIdempotencyKey('u1', 'k')).not.toBe(idFromIdempotencyKey('u2', 'k'));
    expect(version(idFromIdempotencyKey('u1', 'k'))).toBe(5);
  });

  it('computes FNV-1a 32 as published (test vectors)', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });
});
