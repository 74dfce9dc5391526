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
const SLICE_SECONDS = 2;

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
  const slices = Math.max(1, Math.round(duration / SLICE_SECONDS));
  const tallies: [Tally, Tally] = [
    { latencies: [], requests: 0, seconds: 0, errors: 0 },
    { latencies: [], requests: 0, seconds: 0, errors: 0 },
  ];
  for (let i = 0; i < slices; i++) {
    await slice(measured, duration / slices, tallies[0]);
    await slice(yardstick, duration / slices, tallies[1]);
  }
  return [summary(tallies[0]), summary(tallies[1])];
};
