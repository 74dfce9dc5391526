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

export const benchLiveSide = async (options: {
  env: NodeJS.ProcessEnv;
  token: string;
  commandsUrl: string;
  duration: number;
  progress: Progress;
}): Promise<Figure[]> => {
  options.progress.phase(startNotifier);
  const port = await freePort();
  const notifierUrl = `http://127.0.0.1:${port}`;
  const notifier = runTs('notifier/src/main.ts', { ...options.env, NOTIFIER_PORT: String(port) });
  const figures: Figure[] = [];
  try {
    if (!(await waitUntilReady(notifierUrl, notifier.child))) throw new Error(notifier.output());
    for (const scenario of scenarios) {
      const name = scenarioName(scenario);
      options.progress.phase(name, `2 s warm-up, then ${options.duration} s`);
      const env = { ...process.env, NOTIFIER_URL: notifierUrl, TOKEN: options.token };
      const clients = runTs(
        'bench/socket-clients.ts',
        { ...env, CLIENTS: String(scenario.clients) },
        [],
        { stdin: true },
      );
      await clients.waitForOutput(/^ready$/m, 60_000);
      const driver = runTs('bench/socket-driver.ts', {
        ...env,
        COMMANDS_URL: options.commandsUrl,
        RATE: String(scenario.rate),
        DURATION: String(options.duration),
      });
      if ((await driver.exited) !== 0) throw new Error(driver.output());
      const { sent, failed } = lastJsonLine<{ sent: number; failed: number }>(driver.output());
      clients.child.stdin!.end(`${sent - failed}\n`);
      if ((await clients.exited) !== 0) throw new Error(clients.output());
      const result = lastJsonLine<{
        p50: number;
        p99: number;
        deliveries: number;
        complete: number;
        duplicates: number;
      }>(clients.output());
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
