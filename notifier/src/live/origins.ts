import type { IncomingMessage } from 'node:http';

/**
 * The Origin allow-list for Socket.IO handshakes (design §7). Browsers send
 * `Origin` with every WebSocket and cross-origin request, and a page cannot
 * forge it; a request without one comes from a program, which the token
 * check covers. The board's own origin (the notifier's host) is always allowed.
 */
export const originAllowed =
  (allowed: readonly string[]) =>
  (req: Pick<IncomingMessage, 'headers'>): boolean => {
    const { origin, host } = req.headers;
    if (origin === undefined) return true;
    if (host !== undefined && (origin === `http://${host}` || origin === `https://${host}`)) {
      return true;
    }
    return allowed.includes(origin);
  };
