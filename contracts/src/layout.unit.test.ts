import { describe, expect, it } from 'vitest';
import { PositionList } from './api';
import { aggregateKeyParts, createKeyLayout } from './keys';
import { compareEntryIds } from './positions';

/** Redis Cluster hashes only the part between the first `{` and the next `}`. */
const hashTag = (key: string) => /\{([^}]*)\}/.exec(key)?.[1];

describe('key layout', () => {
  const keys = createKeyLayout('ts', 4);
  const taskId = '0190b6a0-0000-7000-8000-000000000001';

  it('keeps a task, its log and its idempotency records in one slot', () => {
    const partition = keys.partitionOf(taskId);
    expect(partition).toBeGreaterThanOrEqual(0);
    expect(partition).toBeLessThan(4);
    const tag = `t${partition}`;
    expect(
      [keys.taskStream(taskId), keys.taskLog(partition), keys.idempotency(partition, 'u', 'k')].map(
        hashTag,
      ),
    ).toEqual([tag, tag, tag]);
    expect(hashTag(keys.deadLetters(keys.taskLog(partition), 'projector'))).toBe(tag);
    expect(hashTag(keys.assignedTasks(partition, 'project'))).toBe(tag);
  });

  it('keeps every project and the project log in one slot of their own', () => {
    expect(
      [keys.projectLog, keys.projectStream('x'), keys.projectIdempotency('u', 'k')].map(hashTag),
    ).toEqual(['p', 'p', 'p']);
  });

  it('keeps everything of identity in one slot', () => {
    for (const key of [
      keys.identityLog,
      keys.userStream('u'),
      keys.email('a@b.c'),
      keys.credentials('u'),
      keys.loginFailures('a@b.c'),
    ]) {
      expect(hashTag(key)).toBe('id');
    }
  });

  it("finds an aggregate's log from its key", () => {
    expect(keys.logOf(keys.taskStream(taskId))).toBe(keys.taskLog(keys.partitionOf(taskId)));
    expect(keys.logOf(keys.projectStream('x'))).toBe(keys.projectLog);
    expect(keys.logOf(keys.userStream('u'))).toBe(keys.identityLog);
    expect(() => keys.logOf(keys.email('a@b.c'))).toThrow(/not an aggregate's key/);
    expect(() => keys.logOf(`other:{t0}:task:${taskId}`)).toThrow(/not an aggregate's key/);
    expect(aggregateKeyParts(keys.taskStream(taskId))).toEqual({
      prefix: 'ts',
      tag: `{t${keys.partitionOf(taskId)}}`,
      kind: 'task',
      id: taskId,
    });
    expect(aggregateKeyParts(keys.taskLog(0))).toBeUndefined();
  });

  it('names the logs as positions name them', () => {
    expect(keys.logs()).toEqual([
      { name: 't0', key: 'ts:{t0}:log' },
      { name: 't1', key: 'ts:{t1}:log' },
      { name: 't2', key: 'ts:{t2}:log' },
      { name: 't3', key: 'ts:{t3}:log' },
      { name: 'p', key: 'ts:{p}:log' },
      { name: 'id', key: 'ts:{id}:log' },
    ]);
  });
});

describe('positions', () => {
  it('compares entry ids numerically, not as text', () => {
    expect(compareEntryIds('9-0', '10-0')).toBe(-1);
    expect(compareEntryIds('10-2', '10-10')).toBe(-1);
    expect(compareEntryIds('10-0', '10-0')).toBe(0);
  });

  it('parses a comma-separated list, keeping the highest position per log', () => {
    expect(PositionList.parse('t0:10-1, id:5-0,t0:9-9')).toEqual([
      { log: 't0', entryId: '10-1' },
      { log: 'id', entryId: '5-0' },
    ]);
    expect(PositionList.safeParse('t0:abc').success).toBe(false);
    // Redis entry ids are two unsigned 64-bit numbers.
    expect(PositionList.parse('t0:18446744073709551615-18446744073709551615')).toHaveLength(1);
    expect(PositionList.safeParse('t0:18446744073709551616-0').success).toBe(false);
    expect(PositionList.safeParse('t0:0-99999999999999999999').success).toBe(false);
    expect(PositionList.safeParse('x9:1-0').success).toBe(false);
  });
});
