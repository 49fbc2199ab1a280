import { benchChart, escapeXml, logScale, niceScale, renderChartSvg } from '../../../scripts/bench/chart';
import type { StepResult } from '../../../scripts/bench/model';
import { wellFormedXml } from './xml';

function step(name: string, kind: StepResult['kind'], connections: number, throughput: number, p99: number | null): StepResult {
  return {
    kind, name, connections, throughput, durationMs: 1000, completed: throughput,
    latencyMs: { count: 1, mean: p99, p50: p99, p99, p999: p99, max: p99 },
    ok: throughput, counted: {}, errorsByStatus: {}, transportErrors: 0, timeouts: 0, errors: 0, cpuPercent: {},
  };
}

describe('axis scales', () => {
  it('niceScale covers the maximum with 1/2/2.5/5 × 10^k steps', () => {
    expect(niceScale(4_321)).toEqual({ max: 5_000, step: 1_000 });
    expect(niceScale(12)).toEqual({ max: 12.5, step: 2.5 });
    expect(niceScale(0)).toEqual({ max: 1, step: 0.2 });
  });

  it('logScale spans whole decades around the data with 1, 2, 5 ticks', () => {
    expect(logScale(150, 42_000)).toEqual({ min: 100, max: 100_000, ticks: [100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000] });
  });
});

describe('renderChartSvg', () => {
  const svg = renderChartSvg(
    'title <&>',
    [{ title: 'T', yLabel: 'y', series: [{ label: 'a & b', color: '#000', points: [[1, 10], [8, null], [32, 30]] }] }],
    [1, 8, 32],
  );

  it('is well-formed XML with escaped text', () => {
    expect(wellFormedXml(svg)).toBe(true);
    expect(svg).toContain('title &lt;&amp;&gt;');
    expect(svg).toContain('a &amp; b');
    expect(escapeXml(`"'`)).toBe('&quot;&apos;');
  });

  it('draws one point per known value and skips unknown ones', () => {
    expect(svg.match(/<circle /g)).toHaveLength(2);
    expect(svg).toMatch(/<path d="M[\d.]+,[\d.]+ L[\d.]+,[\d.]+"/);
  });

  it('puts concurrency on a log2 axis: 8 is 3/5 of the way from 1 to 32', () => {
    const xs = [...svg.matchAll(/<circle cx="([\d.]+)"/g)].map((m) => Number(m[1]));
    const labelX = (label: string) => Number(new RegExp(`<text x="([\\d.]+)"[^>]*>${label}</text>`).exec(svg)?.[1]);
    const [x1, x32] = xs as [number, number];
    expect(labelX('8')).toBeCloseTo(x1 + ((x32 - x1) * 3) / 5, 0);
  });

  it('refuses to draw without concurrency levels', () => {
    expect(() => renderChartSvg('t', [], [])).toThrow(/no concurrency/);
  });
});

describe('benchChart', () => {
  it('draws every scenario in both panels and the limits dashed in the throughput panel only', () => {
    const steps = [1, 8].flatMap((c) => [step('purchase', 'http', c, 1000 * c, 2 * c), step('product-read', 'http', c, 2000 * c, c)]);
    const limits = [1, 8].map((c) => step('nginx static', 'proxy-limit', c, 20_000 * c, 0.5));
    const svg = benchChart('run', steps, limits);
    expect(wellFormedXml(svg)).toBe(true);
    expect(svg.match(/<path /g)).toHaveLength(2 + 1 + 2); // throughput: 2 scenarios + 1 limit; p99: 2 scenarios
    expect(svg.match(/<path [^>]*stroke-dasharray/g)).toHaveLength(1);
    expect(svg).toContain('limit: nginx static');
    expect(svg).toContain('Throughput (log scale)');
    expect(svg).toContain('p99 latency');
  });
});

describe('wellFormedXml (the check used above)', () => {
  it('rejects unbalanced tags, stray "<" and unknown entities', () => {
    expect(wellFormedXml('<svg><g></svg>')).toMatch(/closes/);
    expect(wellFormedXml('<svg><text>a < b</text></svg>')).toMatch(/stray/);
    expect(wellFormedXml('<svg><text>a & b</text></svg>')).toMatch(/entity/);
    expect(wellFormedXml('<svg><g>')).toMatch(/unclosed/);
    expect(wellFormedXml('<svg a="1"><g/></svg>')).toBe(true);
  });
});
