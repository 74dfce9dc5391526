/**
 * The live side's figures for `npm run bench` (issue: live feed): command →
 * socket delivery latency with every client receiving every event, at 100
 * clients × 500 commands/s and 1,000 clients × 50 commands/s. The clients and
 * the command driver each run in a process of their own.
 */
import { runTs, waitUntilReady } from '../scripts/processes';
import { freePort } from '../scripts/redis-server';
import type { Figure } from './read-side';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

const lastJsonLine = <T>(output: string) => JSON.parse(output.trim().split('\n').pop()!) as T;

export const benchLiveSide = async (options: {
  env: NodeJS.ProcessEnv;
  token: string;
  commandsUrl: string;
  duration: number;
}): Promise<Figure[]> => {
  const port = await freePort();
  const notifierUrl = `http://127.0.0.1:${port}`;
  const notifier = runTs('notifier/src/main.ts', { ...options.env, NOTIFIER_PORT: String(port) });
  const figures: Figure[] = [];
  try {
    if (!(await waitUntilReady(notifierUrl, notifier.child))) throw new Error(notifier.output());
    const scenarios = [
      { clients: 100, rate: 500, p50: '≤ 5', p99: '≤ 25' },
      { clients: 1_000, rate: 50, p50: '', p99: '≤ 50' },
    ];
    for (const scenario of scenarios) {
      log(`command → socket: ${scenario.clients} clients at ${scenario.rate} commands/s …`);
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
      const name = `command → socket, ${scenario.clients} clients at ${scenario.rate}/s`;
      const note = `${result.deliveries} deliveries; ${result.complete}/${scenario.clients} clients got all ${sent - failed} events, ${result.duplicates} duplicates`;
      figures.push({
        name: `${name}, p50`,
        value: result.p50,
        unit: 'ms',
        target: scenario.p50,
        note,
      });
      figures.push({ name: `${name}, p99`, value: result.p99, unit: 'ms', target: scenario.p99 });
    }
    return figures;
  } finally {
    await notifier.stop();
  }
};
