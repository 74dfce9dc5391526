/** How far a rebuild has come: events done of a total, the rate so far and the time left. */
export interface Progress {
  done: number;
  total: number;
  eventsPerSecond: number;
  etaSeconds: number;
  /** 0 to 1. */
  fraction: number;
}

/**
 * Measures a rebuild of `total` events from now on: replay's progress bar and
 * the projector's upgrade log and gauges read the same numbers.
 */
export const progressMeter = (total: number) => {
  const started = Date.now();
  return (done: number): Progress => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const eventsPerSecond = Math.round(done / seconds);
    return {
      done,
      total,
      eventsPerSecond,
      etaSeconds:
        eventsPerSecond > 0 ? Math.max(0, Math.round((total - done) / eventsPerSecond)) : 0,
      fraction: total > 0 ? Math.min(1, done / total) : 1,
    };
  };
};

/** Calls `report` at most once per `intervalMs`, and always for the final call. */
export const throttled = <T>(intervalMs: number, report: (value: T, final: boolean) => void) => {
  let last = 0;
  return (value: T, final = false) => {
    const now = Date.now();
    if (!final && now - last < intervalMs) return;
    last = now;
    report(value, final);
  };
};

/**
 * A CLI's progress on stderr: a bar redrawn in place on a terminal (ended by
 * the final call), a line `<name>: <text>` otherwise.
 */
export const writeProgress = (name: string, fraction: number, text: string, final: boolean) => {
  if (!process.stderr.isTTY) {
    process.stderr.write(`${name}: ${text}\n`);
    return;
  }
  const width = 30;
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  process.stderr.write(
    `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}${final ? '\n' : ''}`,
  );
};
