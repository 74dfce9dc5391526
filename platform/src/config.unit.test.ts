import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, commonEnv, parseConfig, resolveJwtSecret } from './config';

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
