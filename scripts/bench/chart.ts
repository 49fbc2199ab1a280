/**
 * The benchmark chart as a standalone SVG (pure): throughput and p99 latency against concurrency, one line
 * per scenario, the limits as dashed lines. Concurrency is on a log₂ axis (1, 8, 32, 128 are evenly spread).
 */
import type { StepResult } from './model';

export interface ChartSeries {
  readonly label: string;
  /** [connections, value] pairs; null values are skipped. */
  readonly points: readonly (readonly [number, number | null])[];
  readonly color: string;
  readonly dashed?: boolean;
}

export interface ChartPanel {
  readonly title: string;
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
  /**
   * `log`: log₁₀ axis, so that limits 10–100× above the scenarios do not flatten them.
   * @default 'linear'
   */
  readonly yScale?: 'linear' | 'log';
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#7f7f7f'];

/** Escapes text for SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

/** A "nice" axis maximum and step (1, 2, 2.5 or 5 × 10^k) with about `ticks` steps covering `max`. */
export function niceScale(max: number, ticks = 5): { max: number; step: number } {
  if (!(max > 0) || !Number.isFinite(max)) return { max: 1, step: 0.2 };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude);
  return { max: Math.ceil(max / step - 1e-9) * step, step };
}

/** Log axis bounds (powers of ten around the data) and ticks at 1, 2, 5 × 10^k inside them. */
export function logScale(min: number, max: number): { min: number; max: number; ticks: number[] } {
  const lo = 10 ** Math.floor(Math.log10(min > 0 && Number.isFinite(min) ? min : 1));
  const hi = 10 ** Math.ceil(Math.log10(max > 0 && Number.isFinite(max) ? max : 10));
  const top = hi > lo ? hi : lo * 10;
  const ticks: number[] = [];
  for (let decade = lo; decade <= top * 1.0001; decade *= 10) {
    for (const m of [1, 2, 5]) if (decade * m <= top * 1.0001) ticks.push(decade * m);
  }
  return { min: lo, max: top, ticks };
}

function tickLabel(v: number): string {
  if (v >= 10_000) return `${Math.round(v / 1000)}k`;
  if (v >= 1000) return `${(v / 1000).toFixed(1).replace(/\.0$/, '')}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

const PANEL_W = 520;
const PANEL_H = 340;
const M = { left: 60, right: 16, top: 36, bottom: 44 };

function renderPanel(panel: ChartPanel, xs: readonly number[], offsetX: number): string[] {
  const w = PANEL_W - M.left - M.right;
  const h = PANEL_H - M.top - M.bottom;
  const values = panel.series.flatMap((s) => s.points.map(([, v]) => v)).filter((v): v is number => v !== null && Number.isFinite(v));
  let py: (y: number) => number;
  let ticks: number[];
  if (panel.yScale === 'log') {
    const positive = values.filter((v) => v > 0);
    const scale = logScale(Math.min(...positive), Math.max(...positive));
    const [a, b] = [Math.log10(scale.min), Math.log10(scale.max)];
    py = (y) => M.top + h - ((Math.log10(Math.max(y, scale.min)) - a) / (b - a)) * h;
    ticks = scale.ticks;
  } else {
    const { max, step } = niceScale(Math.max(0, ...values));
    py = (y) => M.top + h - (y / max) * h;
    ticks = [];
    for (let v = 0; v <= max + 1e-9; v += step) ticks.push(v);
  }
  const logs = xs.map((x) => Math.log2(x));
  const lo = Math.min(...logs);
  const hi = Math.max(...logs);
  const px = (x: number) => offsetX + M.left + (hi === lo ? w / 2 : ((Math.log2(x) - lo) / (hi - lo)) * w);
  const out: string[] = [];
  out.push(`<text x="${offsetX + PANEL_W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(panel.title)}</text>`);
  for (const v of ticks) {
    const y = py(v).toFixed(1);
    out.push(`<line x1="${offsetX + M.left}" x2="${offsetX + M.left + w}" y1="${y}" y2="${y}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${offsetX + M.left - 6}" y="${y}" dy="4" text-anchor="end" font-size="11">${tickLabel(v)}</text>`);
  }
  for (const x of xs) {
    const X = px(x).toFixed(1);
    out.push(`<line x1="${X}" x2="${X}" y1="${M.top}" y2="${M.top + h}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${X}" y="${M.top + h + 16}" text-anchor="middle" font-size="11">${x}</text>`);
  }
  out.push(`<rect x="${offsetX + M.left}" y="${M.top}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${offsetX + M.left + w / 2}" y="${PANEL_H - 8}" text-anchor="middle" font-size="12">connections</text>`);
  out.push(
    `<text transform="translate(${offsetX + 14},${M.top + h / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(panel.yLabel)}</text>`,
  );
  for (const s of panel.series) {
    const pts = s.points.filter((p): p is readonly [number, number] => p[1] !== null && Number.isFinite(p[1]));
    if (pts.length === 0) continue;
    const d = pts.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    for (const [x, y] of pts) {
      out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"><title>${escapeXml(`${s.label} @${x}: ${y.toFixed(2)}`)}</title></circle>`);
    }
  }
  return out;
}

/** Two panels side by side with one legend below them. */
export function renderChartSvg(title: string, panels: readonly ChartPanel[], xs: readonly number[]): string {
  if (xs.length === 0) throw new Error('renderChartSvg: no concurrency levels');
  const labels = new Map<string, ChartSeries>();
  for (const p of panels) for (const s of p.series) if (!labels.has(s.label)) labels.set(s.label, s);
  const legendRows = Math.ceil(labels.size / 3);
  const width = PANEL_W * panels.length;
  const height = PANEL_H + 40 + legendRows * 20;
  const body: string[] = [];
  body.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  panels.forEach((panel, i) => body.push(...renderPanel(panel, xs, i * PANEL_W)));
  [...labels.values()].forEach((s, i) => {
    const x = Math.round(40 + (i % 3) * (width / 3));
    const y = PANEL_H + 20 + Math.floor(i / 3) * 20;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    body.push(`<line x1="${x}" x2="${x + 28}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    body.push(`<text x="${x + 34}" y="${y}" dy="4" font-size="12">${escapeXml(s.label)}</text>`);
  });
  body.push(`<text x="${width - 8}" y="${height - 6}" text-anchor="end" font-size="10" fill="#666">${escapeXml(title)}</text>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    ...body.map((l) => `  ${l}`),
    '</svg>',
    '',
  ].join('\n');
}

/** The two panels of a run: throughput (scenarios + limits) and p99 (scenarios) against concurrency. */
export function benchChart(title: string, steps: readonly StepResult[], limits: readonly StepResult[]): string {
  const xs = [...new Set([...steps, ...limits].map((s) => s.connections))].sort((a, b) => a - b);
  const names = [...new Set(steps.map((s) => s.name))];
  const limitNames = [...new Set(limits.map((l) => l.name))];
  const series = (items: readonly StepResult[], name: string, pick: (s: StepResult) => number | null) =>
    xs.map((x) => {
      const s = items.find((i) => i.name === name && i.connections === x);
      return [x, s ? pick(s) : null] as const;
    });
  const color = (i: number) => PALETTE[i % PALETTE.length] ?? '#000';
  const scenarioSeries = (pick: (s: StepResult) => number | null): ChartSeries[] =>
    names.map((name, i) => ({ label: name, color: color(i), points: series(steps, name, pick) }));
  const limitSeries = limitNames.map((name, i) => ({
    label: `limit: ${name}`,
    color: color(names.length + i),
    dashed: true,
    points: series(limits, name, (s) => s.throughput),
  }));
  return renderChartSvg(
    title,
    [
      { title: 'Throughput (log scale)', yLabel: 'requests / s', yScale: 'log', series: [...scenarioSeries((s) => s.throughput), ...limitSeries] },
      { title: 'p99 latency', yLabel: 'ms', series: scenarioSeries((s) => s.latencyMs.p99) },
    ],
    xs,
  );
}
