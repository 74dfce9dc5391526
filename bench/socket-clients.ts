/**
 * Command → socket delivery (`npm run bench`, live side), the receiving end:
 * CLIENTS clients on the board, in a process of their own, client i with
 * the i-th of TOKENS (comma-separated, taken in turn). Prints `ready`
 * once every client is live, then reads from stdin how many measured
 * commands were sent, waits until every client has them (at most
 * DRAIN_SECONDS, 20 by default) and prints one JSON line: latency p50/p99
 * over every delivery, and how many clients got every event exactly once.
 *
 * The clients speak the Socket.IO protocol (engine.io v4 over WebSocket)
 * with `ws` directly: a hundred socket.io-client instances sharing this
 * process's one core would measure their own parsing queue, not the
 * notifier, where each real client has a CPU of its own.
 */
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { quantile } from './http-client';

const url = new URL('/socket.io/?EIO=4&transport=websocket', process.env.NOTIFIER_URL!);
url.protocol = 'ws:';
const tokens = process.env.TOKENS!.split(',');
const clients = Number(process.env.CLIENTS ?? 100);
const now = () => performance.timeOrigin + performance.now();

const latencies: number[] = [];
const seen = Array.from({ length: clients }, () => new Set<string>());
let duplicates = 0;
const sockets: WebSocket[] = [];

interface Event {
  type: string;
  aggregateId: string;
  data: { title?: string };
}

const connect = (i: number) =>
  new Promise<void>((resolve, reject) => {
    const socket = new WebSocket(url);
    sockets.push(socket);
    socket.on('error', reject);
    socket.on('message', (raw) => {
      const text = raw.toString();
      if (text === '2') return socket.send('3'); // engine.io ping → pong
      if (text.startsWith('0'))
        return socket.send(`40${JSON.stringify({ token: tokens[i % tokens.length] })}`);
      if (text.startsWith('44')) return reject(new Error(`refused: ${text}`));
      if (!text.startsWith('42')) return;
      const [name, message] = JSON.parse(text.slice(2)) as [string, Event];
      if (name === 'live') return resolve();
      const title = message.data?.title;
      if (name !== 'event' || message.type !== 'TaskCreated' || !title?.startsWith('bench '))
        return;
      latencies.push(now() - Number(title.slice(6)));
      if (seen[i]!.has(message.aggregateId)) duplicates++;
      else seen[i]!.add(message.aggregateId);
    });
  });

// In groups, so the handshakes do not all land in the same millisecond.
for (let start = 0; start < clients; start += 50) {
  await Promise.all(
    Array.from({ length: Math.min(50, clients - start) }, (_, k) => connect(start + k)),
  );
}
console.log('ready');

const lines = createInterface({ input: process.stdin });
const expected = Number(await new Promise<string>((resolve) => lines.once('line', resolve)));
const deadline = Date.now() + 1_000 * Number(process.env.DRAIN_SECONDS ?? 20);
while (seen.some((set) => set.size < expected) && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
for (const socket of sockets) socket.close();
lines.close();
const sorted = Float64Array.from(latencies).sort();
console.log(
  JSON.stringify({
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    deliveries: latencies.length,
    complete: seen.filter((set) => set.size === expected).length,
    duplicates,
  }),
);
process.exit(0);
