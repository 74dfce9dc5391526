/**
 * The bench's progress on stderr: a line per phase with its number, the time
 * elapsed and an estimate of the time left, from the planned phases'
 * estimates (mostly the configured durations). On a terminal, a status line
 * below it is redrawn in place with the current phase's progress; anywhere
 * else (a CI log, a file) only whole lines are written, with no control
 * characters.
 */

export interface PlannedPhase {
  name: string;
  /** Estimated seconds: the configured duration plus its warm-up and start-up. */
  seconds: number;
}

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Progress {
  /** Starts the planned phase of this name; phases planned before it and not run count as done. */
  phase(name: string, detail?: string): void;
  /** A line of its own, kept above the status line. */
  log(line: string): void;
  /** Stops the status line and prints the total time against the estimate. */
  finish(): void;
  /** Stops the status line without a summary (on failure); later lines are still written. */
  close(): void;
}

/** m:ss, or h:mm:ss from an hour. */
export const formatClock = (seconds: number) => {
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
};

const sum = (phases: readonly PlannedPhase[]) => phases.reduce((t, p) => t + p.seconds, 0);

export const createProgress = (
  planned: readonly PlannedPhase[],
  options: { stream?: ProgressStream; now?: () => number; redrawMs?: number } = {},
): Progress => {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => performance.now());
  const live = stream.isTTY === true;
  const plan = [...planned];
  const started = now();
  let current = -1;
  let phaseStarted = started;
  let statusShown = false;
  let closed = false;

  const elapsed = () => (now() - started) / 1000;
  /** What is left of the current phase's estimate (never below 0) and every later phase's. */
  const secondsLeft = () => {
    if (current < 0) return sum(plan);
    const inPhase = (now() - phaseStarted) / 1000;
    return Math.max(0, plan[current]!.seconds - inPhase) + sum(plan.slice(current + 1));
  };
  const counter = () => `${current + 1}/${plan.length}`;
  const times = () => `${formatClock(elapsed())} elapsed, ~${formatClock(secondsLeft())} left`;

  const clearStatus = () => {
    if (statusShown) stream.write('\r\x1b[2K');
    statusShown = false;
  };
  const drawStatus = () => {
    if (!live || closed || current < 0) return;
    const phase = plan[current]!;
    const inPhase = (now() - phaseStarted) / 1000;
    const share = phase.seconds > 0 ? Math.min(1, inPhase / phase.seconds) : 1;
    const filled = Math.round(share * 20);
    const bar = `${'█'.repeat(filled)}${'·'.repeat(20 - filled)}`;
    const status = `  ${counter()} ${bar} ${inPhase.toFixed(1)}/~${phase.seconds} s │ ${times()} │ ${phase.name}`;
    // A line wider than the terminal wraps, and \r then returns only to its last part.
    const width = Math.max(20, (stream.columns || 80) - 1);
    stream.write(`\r\x1b[2K${[...status].slice(0, width).join('')}`);
    statusShown = true;
  };
  const line = (text: string) => {
    clearStatus();
    stream.write(`[bench] ${text}\n`);
    drawStatus();
  };
  const timer = live ? setInterval(drawStatus, options.redrawMs ?? 250) : undefined;
  timer?.unref();
  const close = () => {
    closed = true;
    if (timer) clearInterval(timer);
    clearStatus();
  };

  return {
    phase: (name, detail) => {
      let index = plan.findIndex((p, i) => i > current && p.name === name);
      if (index < 0) {
        // Not planned: counted from here on with no estimate rather than failing the run.
        plan.splice(current + 1, 0, { name, seconds: 0 });
        index = current + 1;
      }
      current = index;
      phaseStarted = now();
      line(`[${counter()}] ${name}${detail ? `: ${detail}` : ''} · ${times()}`);
    },
    log: line,
    finish: () => {
      close();
      stream.write(
        `[bench] done in ${formatClock(elapsed())} (estimated ${formatClock(sum(planned))})\n`,
      );
    },
    close,
  };
};
