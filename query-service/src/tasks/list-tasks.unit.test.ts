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
  it('reads `me` as the caller', () => {
    expect(statement({ assigneeId: 'me' }).params.assigneeId).toBe(me);
    expect(statement({ createdBy: 'me' }).params.createdBy).toBe(me);
  });

  it('limits a list to the projects the caller sees, unless it reads every task', () => {
    const visible = taskListStatement(ListTasksQuery.parse({}), me, { visibleTo: me });
    expect(visible.sql).toContain('project_members');
    expect(visible.params.me).toBe(me);
    const one = taskListStatement(ListTasksQuery.parse({ sort: 'priority' }), me, {
      projectId: me,
    });
    expect(one.params.projectId).toBe(me);
    expect(statement({}).sql).not.toContain('project_members');
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
