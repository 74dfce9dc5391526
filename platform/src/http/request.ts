import type { AuthContext } from '@tasksync/contracts';
import type { Logger } from 'pino';

declare global {
  namespace Express {
    interface Request {
      /** X-Request-Id, accepted from the client or generated; stored as events' `corr`. */
      id: string;
      /** Child logger carrying the request id. */
      log: Logger;
      /** Set by `requireAuth`. */
      auth?: AuthContext;
    }
  }
}
