import type { Logger } from 'pino';
import type { AuthContext } from '../auth/jwt';

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
