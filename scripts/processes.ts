import { type ChildProcess, spawn } from 'node:child_process';
import { repoRoot } from '@tasksync/platform';

export interface RunningProcess {
  child: ChildProcess;
  output: () => string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code once the process ends on its own (null: killed by a signal). */
  exited: Promise<number | null>;
  /** Sends a signal and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

const waitFor = async <T>(
  check: () => T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

/** Runs a TypeScript entry point of this repository as its own process, as npm start does. */
export const runTs = (
  entry: string,
  env: NodeJS.ProcessEnv,
  args: string[] = [],
  options: { stdin?: boolean } = {},
): RunningProcess => {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: repoRoot,
    env,
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
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
    exited,
    output: () => output,
    waitForOutput: async (pattern, timeoutMs = 30_000) => {
      const found = await waitFor(
        () => (pattern.test(output) ? true : child.exitCode !== null ? false : undefined),
        timeoutMs,
        `output matching ${pattern}`,
      );
      if (!found) throw new Error(`process exited before printing ${pattern}:\n${output}`);
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

/** Polls `<url>/ready` until it answers 200, the process exits, or the time is up. */
export const waitUntilReady = async (url: string, child: ChildProcess, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      if ((await fetch(`${url}/ready`)).ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
};

/** Whether a process with this pid exists (signal 0 only checks). */
export const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
