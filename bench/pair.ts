/**
 * A measurement and its yardstick, interleaved: slices of about two seconds
 * of one, then of the other, in turn, for the duration of each. On this
 * shared 2-core machine the load from other processes comes and goes within
 * seconds; two rows of 10 s one after the other then measure two different
 * machines (the bare POST /tasks reference alone gave 3,404 and 4,591
 * requests/s in two runs of the same code twenty minutes apart), while
 * interleaved slices share whatever the machine does, so their ratio is what
 * compares across runs, machines and versions.
 */
import autocannon from 'autocannon';
import { quantile } from './http-client';

export interface Measured {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** Seconds per slice: short enough to share the machine's moods, long enough to load it. */
export const SLICE_SECONDS = 2;

/**
 * Runs each side for `duration` seconds in all, in slices of about
 * SLICE_SECONDS taken in turn (the first side first).
 */
export const interleaveSlices = async (
  sides: readonly ((seconds: number) => Promise<void>)[],
  duration: number,
) => {
  const slices = Math.max(1, Math.round(duration / SLICE_SECONDS));
  for (let i = 0; i < slices; i++) for (const side of sides) await side(duration / slices);
};

interface Tally {
  latencies: number[];
  requests: number;
  seconds: number;
  errors: number;
}

/** One slice of `seconds` with autocannon; every response's latency goes into `tally`. */
const slice = (options: autocannon.Options, seconds: number, tally: Tally) =>
  new Promise<void>((resolve, reject) => {
    const instance = autocannon({ ...options, duration: seconds }, (error, result) => {
      if (error) return reject(error);
      tally.requests += result.requests.total;
      tally.seconds += result.duration;
      tally.errors += result.errors + result.timeouts + result.non2xx;
      resolve();
    });
    instance.on('response', (_client, _status, _bytes, ms) => {
      tally.latencies.push(ms);
    });
  });

const summary = (tally: Tally): Measured => {
  const sorted = Float64Array.from(tally.latencies).sort();
  return {
    requestsPerSecond: Math.round(tally.requests / tally.seconds),
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    errors: tally.errors,
  };
};

/**
 * Runs `measured` and `yardstick` for `duration` seconds each, interleaved in
 * slices (measured first), and returns their figures: requests/s over all
 * their slices, p50/p99 over every response.
 */
export const measurePair = async (
  measured: autocannon.Options,
  yardstick: autocannon.Options,
  duration: number,
): Promise<[Measured, Measured]> => {
  const tallies: [Tally, Tally] = [
    { latencies: [], requests: 0, seconds: 0, errors: 0 },
    { latencies: [], requests: 0, seconds: 0, errors: 0 },
  ];
  await interleaveSlices(
    [
      (seconds) => slice(measured, seconds, tallies[0]),
      (seconds) => slice(yardstick, seconds, tallies[1]),
    ],
    duration,
  );
  return [summary(tallies[0]), summary(tallies[1])];
};
