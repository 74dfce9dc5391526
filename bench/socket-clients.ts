/**
 * Command → socket delivery (`npm run bench`, live side), the receiving end:
 * CLIENTS Socket.IO clients on the board, in a process of their own. Prints
 * `ready` once every client is live, then reads from stdin how many measured
 * commands were sent, waits until every client has them (at most 20 s) and
 * prints one JSON line: latency p50/p99 over every delivery, and how many
 * clients got every event exactly once.
 */
import { createInterface } from 'node:readline';
import { io, type Socket } from 'socket.io-client';
import { quantile } from './http-client';

const url = process.env.NOTIFIER_URL!;
const token = process.env.TOKEN!;
const clients = Number(process.env.CLIENTS ?? 100);
const now = () => performance.timeOrigin + performance.now();

const latencies: number[] = [];
const seen = Array.from({ length: clients }, () => new Set<string>());
let duplicates = 0;
const sockets: Socket[] = [];

const connect = (i: number) =>
  new Promise<void>((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], auth: { token }, forceNew: true });
    sockets.push(socket);
    socket.on(
      'event',
      (message: { type: string; aggregateId: string; data: { title?: string } }) => {
        const title = message.data.title;
        if (message.type !== 'TaskCreated' || !title?.startsWith('bench ')) return;
        latencies.push(now() - Number(title.slice(6)));
        if (seen[i]!.has(message.aggregateId)) duplicates++;
        else seen[i]!.add(message.aggregateId);
      },
    );
    socket.once('live', () => resolve());
    socket.once('connect_error', reject);
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
const deadline = Date.now() + 20_000;
while (seen.some((set) => set.size < expected) && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
for (const socket of sockets) socket.disconnect();
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
