/**
 * Command → visible in the query-service (`npm run bench`, read side), in a
 * process of its own: POST /tasks, then GET /tasks/:id with X-Min-Position,
 * one command every 2 ms on a fixed schedule whatever the answers' latency,
 * after a 5 s warm-up. Prints one JSON line: p50 and p99 in ms.
 */
import { call, closeClient, driveAtRate, quantile } from './http-client';

const commandsUrl = process.env.COMMANDS_URL!;
const queryUrl = process.env.QUERY_URL!;
const duration = Number(process.env.DURATION ?? 10);
const headers = {
  authorization: `Bearer ${process.env.TOKEN}`,
  'content-type': 'application/json',
};

let latencies: number[] = [];
let failed = 0;
const send = async () => {
  const t0 = performance.now();
  const created = await call(
    `${commandsUrl}/tasks`,
    { method: 'POST', headers },
    '{"title":"visible?"}',
  );
  if (created.status !== 201) {
    failed++;
    return;
  }
  const { id, position } = JSON.parse(created.text) as { id: string; position: string };
  const seen = await call(`${queryUrl}/tasks/${id}`, {
    headers: { ...headers, 'x-min-position': position },
  });
  if (seen.status === 200) latencies.push(performance.now() - t0);
  else failed++;
};

await driveAtRate(500, 5, send);
latencies = [];
failed = 0;
await driveAtRate(500, duration, send);
closeClient();
latencies.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    visible: latencies.length,
    failed,
  }),
);
