// The live feed under load: LISTENERS sockets on the notifier, each connected
// for HOLD_SECONDS at a time and counting what it receives, while a small
// writer creates WRITE_RATE tasks/s, in an open project setup() creates (so
// every listener's user sees it, design §10), whose title carries the send
// time, so each listener measures command → socket delivery (ws_delivery_ms).
//
// k6/ws, not k6/websockets or k6/experimental/websockets: k6/ws is in every k6
// release these scenarios support (>= 0.47) and @types/k6 2.x types it, while
// @types/k6 2.x no longer types k6/experimental/websockets and k6/websockets
// does not exist before k6 0.5x. k6/ws holds the VU in connect() until the
// socket closes, which is exactly a listener that stays for a while.
import { check } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import ws from 'k6/ws';
import {
  bodyOf,
  call,
  createProject,
  envDuration,
  envNumber,
  expectStatus,
  httpThresholds,
  loginOnce,
  newIdempotencyKey,
  urls,
} from './lib/config.js';

const HOLD_MS = envNumber('HOLD_SECONDS', 30) * 1000;
/** A handshake not acknowledged within this long counts as a connect error. */
const HANDSHAKE_TIMEOUT_MS = 5000;
const WRITER_START = '5s';
const TITLE_PREFIX = 'live-feed sent ';

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    listeners: {
      executor: 'constant-vus',
      exec: 'listen',
      vus: envNumber('LISTENERS', 50),
      duration: envDuration('LISTEN_DURATION', '70s'),
      // A connection started near the end stays its HOLD_SECONDS.
      gracefulStop: `${HOLD_MS / 1000 + 10}s`,
    },
    writer: {
      executor: 'constant-arrival-rate',
      exec: 'write',
      startTime: WRITER_START,
      rate: envNumber('WRITE_RATE', 20),
      timeUnit: '1s',
      duration: envDuration('WRITE_DURATION', '60s'),
      preAllocatedVUs: 2,
      maxVUs: 20,
    },
  },
  thresholds: {
    ...httpThresholds({ apis: ['command'], scenarios: ['listeners', 'writer'] }),
    ws_delivery_ms: ['p(95)<100'],
    ws_connect_errors: ['rate<0.01'],
    // Per task, revisions arrive in order and once (design §7).
    ws_out_of_order: ['count<1'],
  },
};

/** From the writer's Date.now() before its POST to the listener's on receipt (one clock: one k6 process). */
const deliveryMs = new Trend('ws_delivery_ms', true);
const connectErrors = new Rate('ws_connect_errors');
const handshakeMs = new Trend('ws_handshake_ms', true);
const eventsReceived = new Counter('ws_events');
const eventsPerConnection = new Trend('ws_events_per_connection');
const outOfOrder = new Counter('ws_out_of_order');
const resyncs = new Counter('ws_resyncs');

/** @param {string} httpUrl */
const socketUrl = (httpUrl) =>
  `${httpUrl.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;

/**
 * One listener connection: Socket.IO v5 spoken by hand over engine.io v4.
 * Packets are text frames: engine.io type digit first (0 open, 1 close, 2 ping,
 * 3 pong, 4 message), and inside a message the Socket.IO type (0 connect,
 * 1 disconnect, 2 event, 4 connect error).
 */
export function listen() {
  const { token } = loginOnce();
  const startedAt = Date.now();
  let handshaken = false;
  let refusal = '';
  let received = 0;
  /** @type {Map<string, number>} last revision seen per task on this connection */
  const revisions = new Map();

  /** @param {[string, any]} message */
  const onEvent = ([name, payload]) => {
    if (name === 'resync') resyncs.add(1);
    if (name !== 'event') return;
    received++;
    eventsReceived.add(1);
    const last = revisions.get(payload.aggregateId);
    if (last !== undefined && payload.revision <= last) outOfOrder.add(1);
    revisions.set(payload.aggregateId, payload.revision);
    const title = payload.data?.title;
    if (payload.type === 'TaskCreated' && typeof title === 'string') {
      if (title.startsWith(TITLE_PREFIX)) {
        deliveryMs.add(Date.now() - Number(title.slice(TITLE_PREFIX.length)));
      }
    }
  };

  /** @param {import('k6/ws').Socket} socket */
  const speakSocketIo = (socket) => {
    socket.on('message', (packet) => {
      if (packet.startsWith('0')) {
        // engine.io open: now the Socket.IO connect, carrying the handshake auth.
        socket.send(`40${JSON.stringify({ token })}`);
      } else if (packet.startsWith('2')) {
        socket.send(`3${packet.slice(1)}`);
      } else if (packet.startsWith('40')) {
        handshaken = true;
        handshakeMs.add(Date.now() - startedAt);
      } else if (packet.startsWith('44')) {
        refusal = packet.slice(2);
        socket.close();
      } else if (packet.startsWith('42')) {
        onEvent(JSON.parse(packet.slice(2)));
      } else if (packet.startsWith('41') || packet.startsWith('1')) {
        socket.close();
      }
    });

    socket.on('error', (error) => {
      if (!handshaken) refusal = error.error();
    });
    socket.setTimeout(() => {
      if (!handshaken) socket.close();
    }, HANDSHAKE_TIMEOUT_MS);
    socket.setTimeout(() => socket.close(), HOLD_MS);
  };

  let status = 0;
  try {
    status = ws.connect(
      socketUrl(urls.notifier),
      { tags: { api: 'notifier' } },
      speakSocketIo,
    ).status;
  } catch (error) {
    // A refused TCP connection throws rather than answering; it is a connect error all the same.
    refusal = String(error);
  }
  const connected = check(status, {
    'socket upgraded (101)': (s) => s === 101,
    'Socket.IO handshake accepted': () => handshaken,
  });
  connectErrors.add(!connected);
  if (connected) eventsPerConnection.add(received);
  else console.warn(`live feed connect failed: ${status} ${refusal}`);
}

/**
 * The project the writer writes to: open, so every listener sees its tasks.
 * @returns {{ projectId: string }}
 */
export function setup() {
  const { token } = loginOnce();
  return {
    projectId: createProject(token, {
      name: `k6 live feed ${Date.now().toString(36)}`,
      visibility: 'open',
      setup: true,
    }),
  };
}

/**
 * The writer: one task per iteration, its title carrying the send time.
 * @param {{ projectId: string }} data
 */
export function write(data) {
  const { token } = loginOnce();
  const res = call('command', 'POST', '/tasks', {
    token,
    name: 'POST /tasks',
    headers: { 'Idempotency-Key': newIdempotencyKey() },
    body: { projectId: data.projectId, title: `${TITLE_PREFIX}${Date.now()}` },
  });
  expectStatus(res, 201, 'POST /tasks', {
    'POST /tasks answers the new id': (r) => typeof bodyOf(r)?.id === 'string',
  });
}
