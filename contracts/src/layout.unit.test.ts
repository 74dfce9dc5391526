import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, commonEnv, parseConfig, resolveJwtSecret } from './config';
import { compareEntryIds, PositionList } from './positions';
import { createKeyLayout } from './redis/keys';

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

  it('names the logs as positions name them', () => {
    expect(keys.logs()).toEqual([
      { name: 't0', key: 'ts:{t0}:log' },
      { name: 't1', key: 'ts:{t1}:log' },
      { name: 't2', key: 'ts:{t2}:log' },
      { name: 't3', key: 'ts:{t3}:log' },
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

describe('configuration', () => {
  it('names every wrong variable', () => {
    expect(() =>
      parseConfig(commonEnv, { EVENT_PARTITIONS: 'zero', REDIS_PREFIX: 'has space' }),
    ).toThrow(ConfigError);
    try {
      parseConfig(commonEnv, { EVENT_PARTITIONS: 'zero', REDIS_PREFIX: 'has space' });
    } catch (error) {
      expect((error as Error).message).toMatch(/EVENT_PARTITIONS/);
      expect((error as Error).message).toMatch(/REDIS_PREFIX/);
    }
  });

  it('treats empty variables as unset and applies defaults', () => {
    expect(parseConfig(commonEnv, { EVENT_PARTITIONS: '', LOG_LEVEL: '' })).toMatchObject({
      EVENT_PARTITIONS: 1,
      LOG_LEVEL: 'info',
      REDIS_PREFIX: 'ts',
    });
  });

  it('refuses production without a long JWT secret', () => {
    const DATA_DIR = mkdtempSync(join(tmpdir(), 'cfg-'));
    expect(() => resolveJwtSecret({ NODE_ENV: 'production', DATA_DIR })).toThrow(
      /JWT_SECRET is required in production/,
    );
    expect(() =>
      resolveJwtSecret({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(31), DATA_DIR }),
    ).toThrow(/at least 32 bytes/);
    expect(
      resolveJwtSecret({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), DATA_DIR }),
    ).toEqual({ secret: 'x'.repeat(32), generated: false });
    expect(existsSync(join(DATA_DIR, 'dev-jwt-secret'))).toBe(false);
  });

  it('keeps one random development secret in the data directory, readable only by its owner', () => {
    const DATA_DIR = mkdtempSync(join(tmpdir(), 'cfg-'));
    const first = resolveJwtSecret({ NODE_ENV: 'development', DATA_DIR });
    const second = resolveJwtSecret({ NODE_ENV: 'development', DATA_DIR });
    expect(first.generated).toBe(true);
    expect(second).toEqual({ secret: first.secret, generated: false });
    expect(Buffer.byteLength(first.secret)).toBeGreaterThanOrEqual(32);
    expect(readFileSync(join(DATA_DIR, 'dev-jwt-secret'), 'utf8')).toBe(first.secret);
    expect(statSync(join(DATA_DIR, 'dev-jwt-secret')).mode & 0o077).toBe(0);
  });
});
