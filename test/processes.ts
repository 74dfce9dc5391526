import { type ChildProcess, spawn } from 'node:child_process';
import { repoRoot } from '@tasksync/contracts';
import { waitFor } from './support';

export interface RunningProcess {
  child: ChildProcess;
  output: () => string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends a signal and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/** Runs a TypeScript entry point of this repository as its own process, as npm start does. */
export const runTs = (entry: string, env: NodeJS.ProcessEnv): RunningProcess => {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return {
    child,
    output: () => output,
    waitForOutput: async (pattern, timeoutMs = 30_000) => {
      await waitFor(
        () => (pattern.test(output) ? true : child.exitCode !== null ? false : undefined),
        {
          timeoutMs,
          message: `output matching ${pattern}`,
        },
      ).then((found) => {
        if (!found) throw new Error(`process exited before printing ${pattern}:\n${output}`);
      });
    },
    stop: async (signal = 'SIGTERM', timeoutMs = 20_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
};

/** The environment without anything that would point a child at another Redis or port. */
export const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(REDIS_|JWT_|ADMIN_|EVENT_PARTITIONS|.*_PORT$|VITEST|NODE_ENV|LOG_LEVEL)/.test(name))
      delete env[name];
  }
  return { ...env, ...extra };
};
