import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createProgress, formatClock, type ProgressStream } from './progress';

const plan = [
  { name: 'start', seconds: 5 },
  { name: 'POST /tasks (appendfsync always)', seconds: 10 },
  { name: 'POST /tasks (appendfsync everysec)', seconds: 10 },
];

/** A stream that records what is written, and a clock the test moves. */
const setUp = (stream: Partial<ProgressStream> = {}) => {
  let written = '';
  let ms = 0;
  const progress = createProgress(plan, {
    stream: {
      write: (text: string) => {
        written += text;
      },
      ...stream,
    },
    now: () => ms,
    redrawMs: 100,
  });
  return {
    progress,
    advance: (seconds: number) => {
      ms += seconds * 1000;
      vi.advanceTimersByTime(seconds * 1000);
    },
    written: () => written,
  };
};

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('progress on a log (not a terminal)', () => {
  it('writes one line per phase with its number, the time elapsed and the estimate left', () => {
    const { progress, advance, written } = setUp();
    progress.phase('start');
    advance(7);
    progress.phase('POST /tasks (appendfsync always)', '32 connections for 10 s');
    advance(11);
    progress.phase('POST /tasks (appendfsync everysec)');
    advance(10);
    progress.finish();
    expect(written()).toBe(
      [
        '[bench] [1/3] start · 0:00 elapsed, ~0:25 left',
        '[bench] [2/3] POST /tasks (appendfsync always): 32 connections for 10 s · 0:07 elapsed, ~0:20 left',
        '[bench] [3/3] POST /tasks (appendfsync everysec) · 0:18 elapsed, ~0:10 left',
        '[bench] done in 0:28 (estimated 0:25)',
        '',
      ].join('\n'),
    );
  });

  it('writes no control character but the newline', () => {
    const { progress, advance, written } = setUp({ isTTY: false });
    progress.phase('start');
    advance(3);
    progress.log('a line');
    progress.finish();
    const controls = [...written()].filter((c) => c !== '\n' && (c < ' ' || c === '\u007f'));
    expect(controls).toEqual([]);
  });

  it('counts a phase it was not told about rather than failing the run', () => {
    const { progress, written } = setUp();
    progress.phase('start');
    progress.phase('unplanned');
    expect(written()).toContain('[2/4] unplanned');
  });
});

describe('progress on a terminal', () => {
  it("redraws the current phase's status line in place, within the terminal's width", () => {
    const { progress, advance, written } = setUp({ isTTY: true, columns: 80 });
    progress.phase('POST /tasks (appendfsync always)');
    advance(5);
    const frames = written().split('\r\x1b[2K').filter(Boolean);
    const status = frames.at(-1)!;
    // Skipped "start", so phase 2; half of its 10 s estimate done.
    // The name comes last, so a narrow terminal cuts it and not the figures.
    expect(status).toBe(
      '  2/3 ██████████·········· 5.0/~10 s │ 0:05 elapsed, ~0:15 left │ POST /tasks (',
    );
    expect([...status]).toHaveLength(79);
    expect(frames.length).toBeGreaterThan(10);
  });

  it('keeps logged lines above the status line and clears it when finished', () => {
    const { progress, advance, written } = setUp({ isTTY: true, columns: 200 });
    progress.phase('start');
    advance(1);
    progress.log('a line');
    progress.finish();
    const output = written();
    expect(output).toContain('\r\x1b[2K[bench] a line\n');
    expect(output.endsWith('\r\x1b[2K[bench] done in 0:01 (estimated 0:25)\n')).toBe(true);
    advance(1);
    expect(written()).toBe(output);
  });
});

describe('formatClock', () => {
  it('prints m:ss, and h:mm:ss from an hour', () => {
    expect([0, 59.6, 61, 3599, 3661].map(formatClock)).toEqual([
      '0:00',
      '1:00',
      '1:01',
      '59:59',
      '1:01:01',
    ]);
  });
});
