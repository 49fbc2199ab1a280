/**
 * Turning measured steps into the report (pure): ratios to the limits, the target checks, and the
 * terminal table.
 */
import type { RatedStep, StepKind, StepResult, TargetCheck } from './model';
import { ratio } from './stats';

/** The limit step of `kind` at `connections`, if one was measured. */
export function limitAt(limits: readonly StepResult[], kind: StepKind, connections: number): StepResult | undefined {
  return limits.find((l) => l.kind === kind && l.connections === connections);
}

/** Every step with its throughput as a ratio to each limit measured at the same concurrency. */
export function rateSteps(steps: readonly StepResult[], limits: readonly StepResult[]): RatedStep[] {
  return steps.map((s) => ({
    ...s,
    ratios: {
      dataScript: ratio(s.throughput, limitAt(limits, 'data-script', s.connections)?.throughput),
      dataPurchase: ratio(s.throughput, limitAt(limits, 'data-purchase', s.connections)?.throughput),
      proxy: ratio(s.throughput, limitAt(limits, 'proxy-limit', s.connections)?.throughput),
      apiFloor: ratio(s.throughput, limitAt(limits, 'api-floor', s.connections)?.throughput),
    },
  }));
}

/**
 * CPU milliseconds the API instances spent per completed request (all `api-*` roles together): how much
 * work a request costs, which — unlike throughput on a shared machine — hardly depends on what else runs.
 */
export function apiCpuMsPerRequest(step: Pick<StepResult, 'cpuPercent' | 'durationMs' | 'completed'>): number | null {
  const shares = Object.entries(step.cpuPercent).filter(([role]) => role.startsWith('api-')).map(([, v]) => v);
  if (shares.length === 0 || shares.some((v) => v === null) || step.completed <= 0) return null;
  const cores = (shares as number[]).reduce((a, b) => a + b, 0) / 100;
  return (cores * step.durationMs) / step.completed;
}

/**
 * Read + write system calls the API instances made per completed request (socket reads and writes: one
 * per Redis command sent without pipelining, one per HTTP response...). Deterministic for a given code path.
 */
export function apiSyscallsPerRequest(step: Pick<StepResult, 'syscalls' | 'completed'>): number | null {
  const counts = Object.values(step.syscalls ?? {});
  if (counts.length === 0 || step.completed <= 0) return null;
  return counts.reduce((sum, c) => sum + c.reads + c.writes, 0) / step.completed;
}

/** The targets of issue 7, for purchases through nginx at `connections` (32). */
export const TARGETS = { connections: 32, minDataTierRatio: 0.1, maxP99Ms: 15, maxErrors: 0 } as const;

export function evaluateTargets(steps: readonly RatedStep[]): TargetCheck[] {
  const t = TARGETS;
  const step = steps.find((s) => s.kind === 'http' && s.name === 'purchase' && s.connections === t.connections);
  const at = `purchase @${t.connections}`;
  const ratioValue = step?.ratios.dataScript ?? null;
  const p99 = step?.latencyMs.p99 ?? null;
  const errors = step ? step.errors : null;
  return [
    {
      name: `${at}: throughput / data tier (purchase script)`,
      value: ratioValue,
      requirement: `>= ${t.minDataTierRatio}`,
      pass: ratioValue !== null && ratioValue >= t.minDataTierRatio,
    },
    { name: `${at}: p99 ms`, value: p99, requirement: `< ${t.maxP99Ms}`, pass: p99 !== null && p99 < t.maxP99Ms },
    { name: `${at}: errors`, value: errors, requirement: `== ${t.maxErrors}`, pass: errors !== null && errors <= t.maxErrors },
  ];
}

// ------------------------------------------------------------------------------------------------
// Terminal table

/** Fixed-width number formatting: '-' for unknown. */
export function fmt(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  return value.toFixed(digits);
}

/** `{ "503": 2, "429": 1 }` → `429:1 503:2`; '0' when empty and nothing else went wrong. */
export function formatErrors(step: Pick<StepResult, 'errorsByStatus' | 'transportErrors' | 'timeouts'>): string {
  const parts = Object.entries(step.errorsByStatus)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([status, n]) => `${status}:${n}`);
  if (step.transportErrors > 0) parts.push(`conn:${step.transportErrors}`);
  if (step.timeouts > 0) parts.push(`timeout:${step.timeouts}`);
  return parts.length === 0 ? '0' : parts.join(' ');
}

function formatCounted(counted: Readonly<Record<string, number>>): string {
  const parts = Object.entries(counted).map(([status, n]) => `${status}:${n}`);
  return parts.length === 0 ? '' : ` (${parts.join(' ')})`;
}

/** Lays out rows under a header, columns padded to their widest cell; numbers right-aligned. */
export function layoutTable(header: readonly string[], rows: readonly (readonly string[])[], leftAligned = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i < leftAligned ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** CPU columns shown in the table (JSON has every role measured). */
const TABLE_CPU: readonly [string, string][] = [
  ['nginx', 'nginx%'],
  ['api-0', 'api0%'],
  ['api-1', 'api1%'],
  ['redis-master', 'redis%'],
  ['loadgen', 'gen%'],
];

function cpuCells(step: StepResult): string[] {
  return TABLE_CPU.map(([role]) => fmt(step.cpuPercent[role], 0));
}

const LATENCY_HEADER = ['req/s', 'p50 ms', 'p99 ms', 'p99.9 ms'];

function latencyCells(step: StepResult): string[] {
  return [fmt(step.throughput, 0), fmt(step.latencyMs.p50, 2), fmt(step.latencyMs.p99, 2), fmt(step.latencyMs.p999, 2)];
}

/** The limits: one row per limit and concurrency. */
export function renderLimitsTable(limits: readonly StepResult[]): string {
  const header = ['limit', 'conns', ...LATENCY_HEADER, 'errors', ...TABLE_CPU.map(([, h]) => h), 'forks'];
  const rows = limits.map((l) => [l.name, String(l.connections), ...latencyCells(l), formatErrors(l), ...cpuCells(l), fmt(l.redisForks)]);
  return layoutTable(header, rows);
}

/** The scenarios: one row per scenario and concurrency, with the ratios to the limits. */
export function renderStepsTable(steps: readonly RatedStep[]): string {
  const header = [
    'scenario',
    'conns',
    ...LATENCY_HEADER,
    'errors',
    ...TABLE_CPU.map(([, h]) => h),
    'forks',
    'api ms/req',
    'api sysc/req',
    '÷script',
    '÷purchase',
    '÷proxy',
    '÷floor',
  ];
  const rows = steps.map((s) => [
    s.name + formatCounted(s.counted),
    String(s.connections),
    ...latencyCells(s),
    formatErrors(s),
    ...cpuCells(s),
    fmt(s.redisForks),
    fmt(apiCpuMsPerRequest(s), 3),
    fmt(apiSyscallsPerRequest(s), 1),
    fmt(s.ratios.dataScript, 3),
    fmt(s.ratios.dataPurchase, 3),
    fmt(s.ratios.proxy, 3),
    fmt(s.ratios.apiFloor, 3),
  ]);
  return layoutTable(header, rows);
}

export function renderTargets(targets: readonly TargetCheck[]): string {
  return targets
    .map((t) => `${t.pass ? 'PASS' : 'FAIL'}  ${t.name} = ${fmt(t.value, t.value !== null && Math.abs(t.value) < 10 ? 3 : 1)} (${t.requirement})`)
    .join('\n');
}
