import type { io as connect, Socket } from 'socket.io-client';
import type { MembershipNotice } from '../src/live/messages';
import type { AssignedNotice, FeedEvent } from './fold';

export type { MembershipNotice };

/**
 * The Socket.IO client, as index.html loads it: the script the notifier's own
 * Socket.IO server serves (`/socket.io/socket.io.min.js`), so client and
 * server versions always match. Only its types are imported here.
 */
declare const io: typeof connect;

export type ConnectionState = 'connecting' | 'live' | 'offline';

export interface FeedHandlers {
  /** The token to join with; read on every (re)connect. */
  token(): string;
  /** Positions seen so far; read on every (re)connect. */
  since(): string;
  onEvent(event: FeedEvent): void;
  onLive(position: string): void;
  onResync(position: string | undefined): void;
  onAssigned(notice: AssignedNotice): void;
  /** The feed now carries this project's events: they follow the notice. */
  onProjectJoined(notice: MembershipNotice): void;
  /** The feed carries no more of this project's events. */
  onProjectLeft(notice: MembershipNotice): void;
  /** The token expired, or the server refused it: the session is over. */
  onSessionEnded(message: string): void;
  onConnection(state: ConnectionState, text: string): void;
}

export const SESSION_ENDED = 'Your session has ended. Please sign in again.';

/** Follows the notifier's feed (design §7); `close` lets go for good. */
export const connectFeed = (handlers: FeedHandlers) => {
  let closed = false;
  const socket: Socket = io({
    // A function: every reconnect sends the positions seen by then, and always a
    // `since`, even empty, since a log it does not name replays from its start.
    auth: (send) => send({ token: handlers.token(), since: handlers.since() }),
    transports: ['websocket'],
  });
  socket.on('connect', () => handlers.onConnection('connecting', 'Catching up…'));
  socket.on('event', handlers.onEvent);
  socket.on('live', ({ position }: { position: string }) => handlers.onLive(position));
  socket.on('resync', ({ position }: { reason: string; position?: string }) =>
    handlers.onResync(position),
  );
  socket.on('assigned', handlers.onAssigned);
  socket.on('project-joined', handlers.onProjectJoined);
  socket.on('project-left', handlers.onProjectLeft);
  socket.on('expired', () => handlers.onSessionEnded(SESSION_ENDED));
  socket.on('disconnect', (reason) => {
    if (socket.active) {
      handlers.onConnection('connecting', 'Reconnecting…');
      return;
    }
    handlers.onConnection('offline', 'Offline');
    // The server let go of us on purpose (a notifier shutting down, say), so Socket.IO
    // will not retry: reconnect after a moment, spread out so clients do not come back
    // at once. A refusal then ends in connect_error, which ends the session.
    if (reason === 'io server disconnect') {
      setTimeout(() => closed || socket.connect(), 1_000 + Math.random() * 2_000);
    }
  });
  socket.on('connect_error', (error: Error & { data?: { detail?: string } }) => {
    // Socket.IO keeps retrying network failures by itself; a refusal by the server stops it.
    if (socket.active) handlers.onConnection('connecting', 'Reconnecting…');
    else
      handlers.onSessionEnded(`Live updates were refused: ${error.data?.detail ?? error.message}`);
  });
  return {
    get connected() {
      return socket.connected;
    },
    close() {
      closed = true;
      socket.close();
    },
  };
};

export type Feed = ReturnType<typeof connectFeed>;
