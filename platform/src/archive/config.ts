import { join } from 'node:path';
import { z } from 'zod';
import { createDirectoryArchive } from './store';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration as `30d`, `12h`, `15m`, `10s` or `500ms`, in milliseconds. */
export const Duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 30d, 12h, 15m, 10s or 500ms')
  .transform((text) => {
    const [, amount, unit] = /^(\d+)(ms|s|m|h|d)$/.exec(text) as unknown as [
      string,
      string,
      keyof typeof UNIT_MS,
    ];
    return Number(amount) * UNIT_MS[unit];
  });

/**
 * Where the archive is (design §11), for the archiver and for every reader:
 * `ARCHIVE_DIR`, by default `archive` in the data directory.
 */
export const archiveEnv = {
  ARCHIVE_DIR: z.string().min(1).optional(),
};

/** The archive directory of a config: ARCHIVE_DIR, else `<DATA_DIR>/archive`. */
export const archiveDirectoryOf = (config: {
  ARCHIVE_DIR?: string | undefined;
  DATA_DIR: string;
}) => config.ARCHIVE_DIR ?? join(config.DATA_DIR, 'archive');

/** The archive store of a config's REDIS_PREFIX (the directory backend). */
export const openArchive = (config: {
  ARCHIVE_DIR?: string | undefined;
  DATA_DIR: string;
  REDIS_PREFIX: string;
}) => createDirectoryArchive(archiveDirectoryOf(config), config.REDIS_PREFIX);
