import { compareEntryIds } from '@tasksync/contracts';
import { describe, expect, it } from 'vitest';
import { inclusiveEnd, minEntryId, nextEntryId, previousEntryId } from './entry-id';

const MAX_SEQ = '18446744073709551615';

describe('entry ids', () => {
  it('compare as numbers, not as text (the contracts compare them for the archive too)', () => {
    expect(compareEntryIds('9-0', '10-0')).toBe(-1);
    expect(compareEntryIds('10-2', '10-10')).toBe(-1);
    expect(compareEntryIds('10-10', '10-10')).toBe(0);
    expect(compareEntryIds('0', '1-0')).toBe(-1);
    expect(minEntryId('10-1', '9-5')).toBe('9-5');
    expect(minEntryId(undefined, '9-5')).toBe('9-5');
  });

  it('step to the next and previous id across the sequence limit', () => {
    expect(nextEntryId('5-3')).toBe('5-4');
    expect(nextEntryId(`5-${MAX_SEQ}`)).toBe('6-0');
    expect(previousEntryId('6-0')).toBe(`5-${MAX_SEQ}`);
    expect(previousEntryId('6-1')).toBe('6-0');
    expect(previousEntryId('0-0')).toBeUndefined();
  });

  it('read XRANGE ends as inclusive bounds', () => {
    expect(inclusiveEnd('+')).toBeUndefined();
    expect(inclusiveEnd('7')).toBe(`7-${MAX_SEQ}`);
    expect(inclusiveEnd('7-2')).toBe('7-2');
    expect(inclusiveEnd('(7-2')).toBe('7-1');
    expect(inclusiveEnd('(0-0')).toBeNull();
  });
});
