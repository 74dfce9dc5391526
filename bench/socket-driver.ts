/**
 * Command → socket delivery (`npm run bench`, live side), the sending end:
 * POST /tasks at RATE per second, each title carrying the time it was sent,
 * after a 2 s warm-up whose titles the clients ignore. Prints one JSON line.
 */
import { call, closeClient, driveAtRate } from './http-client';

const commandsUrl = process.env.COMMANDS_URL!;
const rate = Number(process.env.RATE ?? 500);
const duration = Number(process.env.DURATION ?? 10);
const headers = {
  authorization: `Bearer ${process.env.TOKEN}`,
  'content-type': 'application/json',
};

let failed = 0;
const create = (title: () => string) => async () => {
  const answer = await call(
    `${commandsUrl}/tasks`,
    { method: 'POST', headers },
    JSON.stringify({ title: title() }),
  );
  if (answer.status !== 201) failed++;
};

await driveAtRate(
  rate,
  2,
  create(() => 'warm-up'),
);
failed = 0;
const sent = await driveAtRate(
  rate,
  duration,
  create(() => `bench ${performance.timeOrigin + performance.now()}`),
);
closeClient();
console.log(JSON.stringify({ sent, failed }));
