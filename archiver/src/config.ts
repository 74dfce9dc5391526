import { commonEnv, Duration, parseConfig, ports } from '@tasksync/platform';
import { z } from 'zod';

/**
 * The archiver (design §11). Without ARCHIVE_AFTER the archive is off: the
 * process serves /health, /ready and /metrics and moves nothing.
 */
export const loadArchiverConfig = (env: NodeJS.ProcessEnv = process.env) =>
  parseConfig(
    {
      ...commonEnv,
      ARCHIVER_PORT: ports.ARCHIVER_PORT,
      /** Entries whose id time is older than this move to the archive: `30d`, `12h`, `10s`. */
      ARCHIVE_AFTER: Duration.optional(),
      /** How often each log is looked at. */
      ARCHIVE_INTERVAL: Duration.default(60_000),
      /** Entries per segment file at most. */
      ARCHIVE_SEGMENT_ENTRIES: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
      /**
       * For the crash tests only: the archiver kills itself (SIGKILL) right
       * after this step of its first segment, as a crash there would stop it.
       */
      ARCHIVER_CRASH_AFTER: z.enum(['segment', 'manifest', 'trim']).optional(),
    },
    env,
  );

export type ArchiverConfig = ReturnType<typeof loadArchiverConfig>;
