/**
 * Command → visible in the query-service (`npm run bench`, read side), in a
 * process of its own: POST /tasks, then GET /tasks/:id with X-Min-Position,
 * one command every 2 ms on a fixed schedule whatever the answers' latency,
 * after a 5 s warm-up. Prints one JSON line: p50 and p99 in ms.
 */
import http from 'node:http';

const commandsUrl = process.env.COMMANDS_URL!;
const queryUrl = process.env.QUERY_URL!;
const duration = Number(process.env.DURATION ?? 10);
const headers = {
  authorization: `Bearer ${process.env.TOKEN}`,
  'content-type': 'application/json',
};

// node:http with keep-alive: fetch costs the client more CPU than the services it
// measures, and on 2 cores that CPU is taken from them.
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const call = (url: string, options: http.RequestOptions, body?: string) =>
  new Promise<{ status: number; text: string }>((resolve, reject) => {
    const request = http.request(url, { ...options, agent }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
    });
    request.on('error', reject);
    request.end(body);
  });

let latencies: number[] = [];
let failed = 0;
const send = async () => {
  const t0 = performance.now();
  const created = await call(
    `${commandsUrl}/tasks`,
    { method: 'POST', headers },
    '{"title":"visible?"}',
  );
  const { id, position } = JSON.parse(created.text) as { id: string; position: string };
  const seen = await call(`${queryUrl}/tasks/${id}`, {
    headers: { ...headers, 'x-min-position': position },
  });
  if (seen.status === 200) latencies.push(performance.now() - t0);
  else failed++;
};

const drive = async (seconds: number) => {
  const sends: Promise<void>[] = [];
  const start = Date.now();
  const end = start + seconds * 1000;
  for (let n = 0; Date.now() < end; ) {
    while (start + n * 2 <= Date.now()) {
      sends.push(send());
      n++;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(sends);
};

await drive(5);
latencies = [];
failed = 0;
await drive(duration);
agent.destroy();
latencies.sort((a, b) => a - b);
const at = (p: number) =>
  Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]! * 10) /
  10;
console.log(JSON.stringify({ p50: at(0.5), p99: at(0.99), visible: latencies.length, failed }));
