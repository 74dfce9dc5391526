import { describe, expect, it } from 'vitest';
import { ftsQuery, ListTasksQuery, taskListStatement } from './list-tasks';

const me = '0190b6a0-0000-7000-8000-0000000000a1';
const statement = (query: Record<string, unknown>) =>
  taskListStatement(ListTasksQuery.parse(query), me);

describe('ftsQuery', () => {
  it('quotes every word, so no character is FTS5 syntax, and drops control characters', () => {
    expect(ftsQuery('fix "login" OR bug*')).toBe('"fix" """login""" "OR" "bug*"');
    expect(ftsQuery('a\u0000b\tc')).toBe('"a" "b" "c"');
    expect(ftsQuery('\u0000')).toBe('');
  });
});

describe('taskListStatement', () => {
  it('reads `me` as the caller, and marks the answer as the caller’s own', () => {
    const mine = statement({ assigneeId: 'me' });
    expect(mine.params.assigneeId).toBe(me);
    expect(mine.mine).toBe(true);
    expect(statement({ assigneeId: me }).mine).toBe(false);
  });

  it('matches nothing for text with no word in it, instead of an empty MATCH', () => {
    const { sql, params } = statement({ q: '\u0001' });
    expect(sql).not.toContain('MATCH');
    expect(sql).toContain('AND 0');
    expect(params).not.toHaveProperty('q');
  });

  it('refuses a cursor given for another sort, or not by this API, with 400', () => {
    const cursor = Buffer.from(JSON.stringify({ s: '-updatedAt', k: 'x', id: me })).toString(
      'base64url',
    );
    expect(statement({ cursor }).params).toMatchObject({ cursorKey: 'x', cursorId: me });
    for (const bad of [cursor, 'not-a-cursor']) {
      expect(() => statement({ sort: 'priority', cursor: bad })).toThrow(
        expect.objectContaining({ status: 400 }),
      );
    }
  });
});
