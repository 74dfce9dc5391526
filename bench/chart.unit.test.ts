import { describe, expect, it } from 'vitest';
import { formatMs, type LatencyRow, logDomain, logTicks, renderLatencyChart } from './chart';

interface Node {
  name: string;
  attributes: Record<string, string>;
  children: Node[];
  text: string;
}

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decode = (raw: string, where: string) => {
  // A bare & or < is what breaks an XML parser: every & must start one of the five entities.
  if (/<|&(?!(amp|lt|gt|quot|apos);)/.test(raw)) throw new Error(`unescaped markup in ${where}`);
  return raw.replace(/&(amp|lt|gt|quot|apos);/g, (_, name: string) => entities[name]!);
};

/**
 * Enough of an XML parser for the chart: a declaration, elements (nested,
 * self-closing), double-quoted attributes and text. Throws on anything
 * unbalanced, unquoted or unescaped, which a real parser would refuse too.
 */
const parseXml = (xml: string): Node => {
  const body = xml.replace(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n/, '');
  if (body === xml) throw new Error('no XML declaration');
  const root: Node = { name: '#document', attributes: {}, children: [], text: '' };
  const open: Node[] = [root];
  const tag = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>/y;
  let at = 0;
  while (at < body.length) {
    const next = body.indexOf('<', at);
    const text = body.slice(at, next < 0 ? body.length : next);
    open.at(-1)!.text += decode(text, `text of <${open.at(-1)!.name}>`);
    if (next < 0) break;
    tag.lastIndex = next;
    const match = tag.exec(body);
    if (!match) throw new Error(`malformed tag at ${next}: ${body.slice(next, next + 40)}`);
    const [, closing, name, attributeText, selfClosing] = match as unknown as string[];
    if (closing) {
      const element = open.pop()!;
      if (element.name !== name) throw new Error(`</${name}> closes <${element.name}>`);
    } else {
      const attributes: Record<string, string> = {};
      for (const [, key, value] of attributeText!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
        if (key! in attributes) throw new Error(`attribute ${key} twice on <${name}>`);
        attributes[key!] = decode(value!, `attribute ${key} of <${name}>`);
      }
      const element: Node = { name: name!, attributes, children: [], text: '' };
      open.at(-1)!.children.push(element);
      if (!selfClosing) open.push(element);
    }
    at = tag.lastIndex;
  }
  if (open.length !== 1) throw new Error(`<${open.at(-1)!.name}> is never closed`);
  if (root.children.length !== 1 || root.text.trim()) throw new Error('not one root element');
  return root.children[0]!;
};

const byClass = (node: Node, name: string): Node[] => [
  ...(node.attributes.class?.split(' ').includes(name) ? [node] : []),
  ...node.children.flatMap((child) => byClass(child, name)),
];
const describeNode = (node: Node) =>
  node.attributes.class ? `${node.name}.${node.attributes.class}` : node.name;

const rows: LatencyRow[] = [
  { name: 'POST /tasks (appendfsync always)', p50Ms: 1, p99Ms: 100 },
  { name: 'GET /tasks/:id', p50Ms: 10, p99Ms: 1000 },
  { name: 'a <row> & "its" \'name\'', p50Ms: 5.25, p99Ms: 42 },
];
const chart = renderLatencyChart({
  rows,
  at: '2026-11-25T00:53:04.836Z',
  machine: '2 CPUs (AMD EPYC), 24 GB, Node v20.20.2, linux x64',
});

describe('renderLatencyChart', () => {
  it('is one well-formed svg element with its size as its viewBox', () => {
    const svg = parseXml(chart);
    expect(svg.name).toBe('svg');
    expect(svg.attributes.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(svg.attributes.viewBox).toBe(`0 0 ${svg.attributes.width} ${svg.attributes.height}`);
  });

  it('draws title, description, background, header, legend, bands, grid, rows and axis in that order', () => {
    expect(parseXml(chart).children.map(describeNode)).toEqual([
      'title',
      'desc',
      'rect.background',
      'text.title',
      'text.subtitle',
      'g.legend',
      'g.bands',
      'g.grid',
      'g.rows',
      'g.axis',
    ]);
  });

  it('names the run: its date and machine under the title', () => {
    const svg = parseXml(chart);
    expect(byClass(svg, 'title')[0]!.text).toBe(
      'TaskSync bench: latency per measurement, p50 and p99',
    );
    expect(byClass(svg, 'subtitle')[0]!.text).toBe(
      '2026-11-25 00:53 UTC · 2 CPUs (AMD EPYC), 24 GB, Node v20.20.2, linux x64',
    );
    const legend = byClass(svg, 'legend')[0]!
      .children.map((c) => c.text)
      .filter(Boolean);
    expect(legend.slice(0, 2)).toEqual(['p50 (median)', 'p99']);
    expect(byClass(svg, 'axis-title')[0]!.text).toBe('latency, ms (log scale)');
  });

  it('draws exactly one p50 bar and one p99 bar per row, beside its label, in row order', () => {
    const groups = byClass(parseXml(chart), 'row');
    expect(groups).toHaveLength(rows.length);
    groups.forEach((group, i) => {
      expect(group.children.map(describeNode)).toEqual([
        'title',
        'text.label',
        'rect.bar p50',
        'text.value',
        'rect.bar p99',
        'text.value',
      ]);
      expect(group.children[1]!.text).toBe(rows[i]!.name);
      expect(group.children[3]!.text).toBe(`${formatMs(rows[i]!.p50Ms)} ms`);
      expect(group.children[5]!.text).toBe(`${formatMs(rows[i]!.p99Ms)} ms`);
    });
  });

  it('escapes a row name in the text and tooltip, so <&> stays a label', () => {
    expect(chart).toContain('a &lt;row&gt; &amp; &quot;its&quot; &apos;name&apos;');
    expect(chart).not.toContain('<row>');
    const group = byClass(parseXml(chart), 'row')[2]!;
    expect(group.children[0]!.text).toBe('a <row> & "its" \'name\': p50 5.25 ms, p99 42 ms');
  });

  it('lays the bars on a log scale: each decade is as wide as the next', () => {
    const width = (row: number, bar: 'p50' | 'p99') =>
      Number(byClass(byClass(parseXml(chart), 'row')[row]!, bar)[0]!.attributes.width);
    // 0.5 ms to 1,000 ms: 1 → 10 → 100 → 1,000 are equal steps.
    const oneMs = width(0, 'p50');
    const step = width(1, 'p50') - oneMs;
    expect(step).toBeGreaterThan(0);
    expect(width(0, 'p99') - width(1, 'p50')).toBeCloseTo(step, 0);
    expect(width(1, 'p99') - width(0, 'p99')).toBeCloseTo(step, 0);
  });

  it('labels the axis with the decades of its range', () => {
    const ticks = byClass(parseXml(chart), 'tick').map((t) => t.text);
    expect(ticks).toEqual(expect.arrayContaining(['1', '10', '100', '1000']));
    expect(ticks[0]).toBe('0.5');
    expect(ticks.at(-1)).toBe('1000');
  });

  it('stays well-formed without rows, and with a latency that is 0 or missing', () => {
    expect(
      byClass(
        parseXml(renderLatencyChart({ rows: [], at: '2026-01-01T00:00:00Z', machine: 'm' })),
        'row',
      ),
    ).toEqual([]);
    const odd = renderLatencyChart({
      rows: [{ name: 'odd', p50Ms: 0, p99Ms: Number.NaN }],
      at: '2026-01-01T00:00:00Z',
      machine: 'm',
    });
    expect(odd).not.toContain('NaN');
    const [p50, p99] = byClass(parseXml(odd), 'value').map((t) => t.text);
    expect([p50, p99]).toEqual(['0 ms', 'n/a']);
  });
});

describe('the log scale', () => {
  it('spans from the 1-2-5 step below the smallest latency to the one at or above the largest', () => {
    expect(logDomain([12, 1067])).toEqual([10, 2000]);
    expect(logDomain([0.423, 166])).toEqual([0.2, 200]);
    expect(logDomain([1, 100])).toEqual([0.5, 100]);
    expect(logDomain([0, Number.NaN])).toEqual([1, 1000]);
  });

  it('steps 1, 2, 5 in each decade, a major tick at each power of ten', () => {
    expect(logTicks(0.1, 2)).toEqual([
      { ms: 0.1, major: true },
      { ms: 0.2, major: false },
      { ms: 0.5, major: false },
      { ms: 1, major: true },
      { ms: 2, major: false },
    ]);
  });

  it('prints three significant digits, and whole milliseconds from 100', () => {
    expect([0.4234, 75.84, 166.1, 1067.4].map(formatMs)).toEqual(['0.423', '75.8', '166', '1067']);
  });
});
