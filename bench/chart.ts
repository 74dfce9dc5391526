/**
 * The bench's latency chart (bench/results/latest.svg): one pair of horizontal
 * bars, p50 and p99, per measured row, on a log scale because the rows span
 * from a few milliseconds (reads) to hundreds (bcrypt logins). Written by hand
 * as SVG text: a chart this plain does not need a plotting library.
 */

export interface LatencyRow {
  name: string;
  p50Ms: number;
  p99Ms: number;
}

export interface LatencyChartInput {
  rows: readonly LatencyRow[];
  /** When the run happened, as an ISO date. */
  at: string;
  /** The machine the run measured, e.g. "2 CPUs (…), 8 GB, Node v20.20.2, linux x64". */
  machine: string;
  title?: string;
}

const font = {
  family: 'Helvetica, Arial, sans-serif',
  size: 12,
  // An average glyph width at 12 px, a little on the wide side: the SVG is
  // written without font metrics, and a label cut by the margin is worse than space.
  averageWidth: 6.4,
};
const colour = { p50: '#4e79a7', p99: '#f28e2b', grid: '#d9d9d9', text: '#222', muted: '#666' };
const layout = {
  margin: 16,
  plotWidth: 560,
  valueLabelRoom: 64,
  plotTop: 92,
  rowHeight: 30,
  barHeight: 10,
  axisRoom: 52,
};

export const escapeXml = (text: string) =>
  text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');

/** Whole milliseconds from 100 up, three significant digits below: 0.423, 75.8, 1067. */
export const formatMs = (ms: number) =>
  String(ms >= 100 ? Math.round(ms) : Number(ms.toPrecision(3)));

const withUnit = (ms: number) => (Number.isFinite(ms) ? `${formatMs(ms)} ms` : 'n/a');

const attributes = (values: Record<string, string | number>) =>
  Object.entries(values)
    .map(([name, value]) => ` ${name}="${escapeXml(String(value))}"`)
    .join('');
const element = (name: string, values: Record<string, string | number>, content?: string) =>
  content === undefined
    ? `<${name}${attributes(values)}/>`
    : `<${name}${attributes(values)}>${content}</${name}>`;
const round = (n: number) => Math.round(n * 10) / 10;

/** The log scale's 1-2-5 steps from `low` to `high`, both included. */
export const logTicks = (low: number, high: number) => {
  const ticks: { ms: number; major: boolean }[] = [];
  for (let decade = Math.floor(Math.log10(low)); 10 ** decade <= high; decade++) {
    for (const step of [1, 2, 5]) {
      // toPrecision: 10 ** -1 * 2 is 0.2000…04 in binary floating point.
      const ms = Number((step * 10 ** decade).toPrecision(1));
      if (ms >= low && ms <= high) ticks.push({ ms, major: step === 1 });
    }
  }
  return ticks;
};

/**
 * The axis' range: the 1-2-5 step below the smallest positive latency (so its
 * bar has a length) and the one at or above the largest, so no decade is
 * drawn empty.
 */
export const logDomain = (values: readonly number[]): [number, number] => {
  const positive = values.filter((v) => Number.isFinite(v) && v > 0);
  if (!positive.length) return [1, 1000];
  const smallest = Math.min(...positive);
  const largest = Math.max(...positive);
  const steps = logTicks(10 ** (Math.floor(Math.log10(smallest)) - 1), 10 * largest).map(
    (t) => t.ms,
  );
  const low = steps.findLast((ms) => ms < smallest)!;
  const high = steps.find((ms) => ms >= largest)!;
  return [low, high];
};

/** The SVG document for `input`: a pure function of it, so the test can read its structure. */
export const renderLatencyChart = (input: LatencyChartInput): string => {
  const title = input.title ?? 'TaskSync bench: latency per measurement, p50 and p99';
  const longestName = Math.max(0, ...input.rows.map((row) => row.name.length));
  const labelWidth = Math.ceil(Math.max(120, longestName * font.averageWidth) + 12);
  const plotLeft = layout.margin + labelWidth;
  const plotRight = plotLeft + layout.plotWidth;
  const plotBottom = layout.plotTop + Math.max(1, input.rows.length) * layout.rowHeight;
  const width = plotRight + layout.valueLabelRoom + layout.margin;
  const height = plotBottom + layout.axisRoom;

  const [low, high] = logDomain(input.rows.flatMap((row) => [row.p50Ms, row.p99Ms]));
  const decades = Math.log10(high / low);
  const x = (ms: number) =>
    plotLeft + (Math.log10(Math.min(high, Math.max(low, ms)) / low) / decades) * layout.plotWidth;
  // Every 1-2-5 step gets a grid line; 2 and 5 get a label only where they fit.
  const labelMinorTicks = layout.plotWidth / decades >= 120;
  const ticks = logTicks(low, high);

  const date = `${input.at.slice(0, 10)} ${input.at.slice(11, 16)} UTC`;
  const header = [
    element(
      'text',
      { class: 'title', x: layout.margin, y: 26, 'font-size': 17, 'font-weight': 'bold' },
      escapeXml(title),
    ),
    element(
      'text',
      { class: 'subtitle', x: layout.margin, y: 46, fill: colour.muted },
      escapeXml(`${date} · ${input.machine}`),
    ),
  ];
  const legendY = 70;
  const legend = element(
    'g',
    { class: 'legend' },
    [
      element('rect', {
        x: plotLeft,
        y: legendY - 9,
        width: 14,
        height: layout.barHeight,
        fill: colour.p50,
      }),
      element('text', { x: plotLeft + 20, y: legendY }, 'p50 (median)'),
      element('rect', {
        x: plotLeft + 120,
        y: legendY - 9,
        width: 14,
        height: layout.barHeight,
        fill: colour.p99,
      }),
      element('text', { x: plotLeft + 140, y: legendY }, 'p99'),
      element(
        'text',
        { x: plotLeft + 190, y: legendY, fill: colour.muted },
        'bar ends at the value; the scale is logarithmic',
      ),
    ].join(''),
  );
  // Every other row shaded, under the grid lines, so long labels stay on their bars.
  const bands = element(
    'g',
    { class: 'bands', fill: '#f3f3f3' },
    input.rows
      .map((_, i) =>
        i % 2
          ? ''
          : element('rect', {
              x: layout.margin,
              y: layout.plotTop + i * layout.rowHeight,
              width: plotRight + layout.valueLabelRoom - layout.margin * 2,
              height: layout.rowHeight,
            }),
      )
      .join(''),
  );
  const grid = element(
    'g',
    { class: 'grid', stroke: colour.grid },
    ticks
      .map((tick) =>
        element('line', {
          x1: round(x(tick.ms)),
          x2: round(x(tick.ms)),
          y1: layout.plotTop - 6,
          y2: plotBottom,
          ...(tick.major ? {} : { 'stroke-dasharray': '3 3' }),
        }),
      )
      .join(''),
  );
  const bar = (which: 'p50' | 'p99', ms: number, y: number) => {
    const end = Number.isFinite(ms) ? x(ms) : plotLeft;
    return [
      element('rect', {
        class: `bar ${which}`,
        x: plotLeft,
        y,
        width: round(end - plotLeft),
        height: layout.barHeight,
        fill: colour[which],
      }),
      element(
        'text',
        { class: 'value', x: round(end + 4), y: y + 9, 'font-size': 10, fill: colour.muted },
        withUnit(ms),
      ),
    ].join('');
  };
  const rows = element(
    'g',
    { class: 'rows' },
    input.rows.length
      ? input.rows
          .map((row, i) => {
            const top = layout.plotTop + i * layout.rowHeight;
            const name = escapeXml(row.name);
            return element(
              'g',
              { class: 'row' },
              [
                element(
                  'title',
                  {},
                  `${name}: p50 ${withUnit(row.p50Ms)}, p99 ${withUnit(row.p99Ms)}`,
                ),
                element(
                  'text',
                  { class: 'label', x: plotLeft - 8, y: top + 19, 'text-anchor': 'end' },
                  name,
                ),
                bar('p50', row.p50Ms, top + 4),
                bar('p99', row.p99Ms, top + 16),
              ].join(''),
            );
          })
          .join('')
      : element(
          'text',
          { x: plotLeft, y: layout.plotTop + 19, fill: colour.muted },
          'no latency was measured in this run',
        ),
  );
  const axis = element(
    'g',
    { class: 'axis' },
    [
      element('line', {
        x1: plotLeft,
        x2: plotRight,
        y1: plotBottom,
        y2: plotBottom,
        stroke: colour.text,
      }),
      ...ticks
        .filter((tick) => tick.major || labelMinorTicks)
        .map((tick) =>
          element(
            'text',
            {
              class: 'tick',
              x: round(x(tick.ms)),
              y: plotBottom + 16,
              'text-anchor': 'middle',
              'font-size': 11,
              ...(tick.major ? {} : { fill: colour.muted }),
            },
            formatMs(tick.ms),
          ),
        ),
      element(
        'text',
        {
          class: 'axis-title',
          x: round((plotLeft + plotRight) / 2),
          y: plotBottom + 38,
          'text-anchor': 'middle',
        },
        'latency, ms (log scale)',
      ),
    ].join(''),
  );

  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg${attributes({
      xmlns: 'http://www.w3.org/2000/svg',
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      'font-family': font.family,
      'font-size': font.size,
      fill: colour.text,
      role: 'img',
      'aria-labelledby': 'chart-title chart-desc',
    })}>`,
    element('title', { id: 'chart-title' }, escapeXml(title)),
    element('desc', { id: 'chart-desc' }, escapeXml(`${date} · ${input.machine}`)),
    element('rect', { class: 'background', width, height, fill: '#fff' }),
    ...header,
    legend,
    bands,
    grid,
    rows,
    axis,
    '</svg>',
    '',
  ].join('\n');
};
