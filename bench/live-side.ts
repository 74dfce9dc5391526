/**
 * The live side's figures for `npm run bench` (issue: live feed): command →
 * socket delivery latency with every client receiving every event, at 100
 * clients × 500 commands/s and 1,000 clients × 50 commands/s. The clients and
 * the command driver each run in a process of their own.
 */
import { runTs, waitUntilReady } from '../scripts/processes';
import { freePort } from '../scripts/redis-server';
import type { PlannedPhase, Progress } from './progress';
import type { Figure } from './read-side';

const scenarios = [
  { clients: 100, rate: 500, p50: '≤ 5', p99: '≤ 25' },
  { clients: 1_000, rate: 50, p50: '', p99: '≤ 50' },
];
const scenarioName = (scenario: (typeof scenarios)[number]) =>
  `command → socket, ${scenario.clients} clients at ${scenario.rate}/s`;

const startNotifier = 'start the notifier';

/**
 * The live side's phases for the progress display: each scenario's duration,
 * its 2 s warm-up, and a guess at connecting the clients and draining.
 */
export const liveSidePhases = (duration: number): PlannedPhase[] => [
  { name: startNotifier, seconds: 3 },
  ...scenarios.map((scenario) => ({
    name: scenarioName(scenario),
    seconds: duration + 2 + 4 + Math.ceil(scenario.clients / 250),
  })),
];

const lastJsonLine = <T>(output: string) => JSON.parse(output.trim().split('\n').pop()!) as T;

/** Starts a notifier process on a free port and resolves once it answers /ready. */
export const startNotifierProcess = async (env: NodeJS.ProcessEnv) => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const notifier = runTs('notifier/src/main.ts', { ...env, NOTIFIER_PORT: String(port) });
  if (!(await waitUntilReady(url, notifier.child))) {
    await notifier.stop();
    throw new Error(notifier.output());
  }
  return { process: notifier, url };
};

export interface SocketClientsResult {
  p50: number;
  p99: number;
  deliveries: number;
  complete: number;
  duplicates: number;
}

/**
 * Starts `count` socket clients in a process of their own (bench/socket-clients.ts),
 * client i with `tokens[i % tokens.length]`, and resolves once all are live. `collect(expected)` then tells them how many
 * measured TaskCreated events were sent and resolves with their figures once
 * each has them all or `drainSeconds` have passed.
 */
export const connectSocketClients = async (options: {
  notifierUrl: string;
  tokens: string[];
  count: number;
  drainSeconds?: number;
}) => {
  const clients = runTs(
    'bench/socket-clients.ts',
    {
      ...process.env,
      NOTIFIER_URL: options.notifierUrl,
      TOKENS: options.tokens.join(','),
      CLIENTS: String(options.count),
      ...(options.drainSeconds ? { DRAIN_SECONDS: String(options.drainSeconds) } : {}),
    },
    [],
    { stdin: true },
  );
  try {
    await clients.waitForOutput(/^ready$/m, 60_000);
  } catch (error) {
    await clients.stop();
    throw error;
  }
  return {
    stop: () => clients.stop(),
    collect: async (expected: number) => {
      clients.child.stdin!.end(`${expected}\n`);
      if ((await clients.exited) !== 0) throw new Error(clients.output());
      return lastJsonLine<SocketClientsResult>(clients.output());
    },
  };
};

export const benchLiveSide = async (options: {
  env: NodeJS.ProcessEnv;
  token: string;
  commandsUrl: string;
  duration: number;
  progress: Progress;
}): Promise<Figure[]> => {
  options.progress.phase(startNotifier);
  const { process: notifier, url: notifierUrl } = await startNotifierProcess(options.env);
  const figures: Figure[] = [];
  try {
    for (const scenario of scenarios) {
      const name = scenarioName(scenario);
      options.progress.phase(name, `2 s warm-up, then ${options.duration} s`);
      const clients = await connectSocketClients({
        notifierUrl,
        tokens: [options.token],
        count: scenario.clients,
      });
      const driver = runTs('bench/socket-driver.ts', {
        ...process.env,
        NOTIFIER_URL: notifierUrl,
        TOKEN: options.token,
        COMMANDS_URL: options.commandsUrl,
        RATE: String(scenario.rate),
        DURATION: String(options.duration),
      });
      if ((await driver.exited) !== 0) {
        await clients.stop();
        throw new Error(driver.output());
      }
      const { sent, failed } = lastJsonLine<{ sent: number; failed: number }>(driver.output());
      const result = await clients.collect(sent - failed);
      const note = `${result.deliveries} deliveries; ${result.complete}/${scenario.clients} clients got all ${sent - failed} events, ${result.duplicates} duplicates`;
      figures.push({
        name: `${name}, p50`,
        value: result.p50,
        unit: 'ms',
        target: scenario.p50,
        note,
        latency: { name, p50Ms: result.p50, p99Ms: result.p99 },
      });
      figures.push({ name: `${name}, p99`, value: result.p99, unit: 'ms', target: scenario.p99 });
    }
    return figures;
  } finally {
    await notifier.stop();
  }
};
