/**
 * What the bench's load drivers share: a lean keep-alive HTTP client (fetch
 * costs the client more CPU than the services it measures, and on 2 cores
 * that CPU is taken from them) and a fixed-rate schedule.
 */
import http from 'node:http';

// A kept-alive socket idle for the services' 5 s keep-alive timeout is closed
// by them; reusing it at that instant resets the request. The agent drops idle
// sockets after 4 s, first.
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, timeout: 4_000 });

/**
 * One request; a connection error answers status 0, so a driver counts it as
 * failed instead of dying with it.
 */
export const call = (url: string, options: http.RequestOptions, body?: string) =>
  new Promise<{ status: number; text: string }>((resolve) => {
    const request = http.request(url, { ...options, agent }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
    });
    request.on('error', (error) => resolve({ status: 0, text: error.message }));
    request.end(body);
  });

/** Calls `send` `perSecond` times a second on a fixed schedule, whatever the answers' latency. */
export const driveAtRate = async (
  perSecond: number,
  seconds: number,
  send: (n: number) => Promise<void>,
) => {
  const sends: Promise<void>[] = [];
  const start = Date.now();
  const end = start + seconds * 1000;
  for (let n = 0; Date.now() < end; ) {
    while (start + (n * 1000) / perSecond <= Date.now()) {
      sends.push(send(n));
      n++;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(sends);
  return sends.length;
};

export const closeClient = () => agent.destroy();

/** The value at quantile `q` of ascending `sorted`, to 0.1. */
export const quantile = (sorted: ArrayLike<number>, q: number) =>
  Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 10) / 10;
