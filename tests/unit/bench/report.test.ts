import type { StepResult } from '../../../scripts/bench/model';
import {
  apiCpuMsPerRequest,
  apiSyscallsPerRequest,
  evaluateTargets,
  formatErrors,
  layoutTable,
  limitAt,
  rateSteps,
  renderLimitsTable,
  renderStepsTable,
  renderTargets,
} from '../../../scripts/bench/report';

function step(over: Partial<StepResult> & Pick<StepResult, 'kind' | 'name' | 'connections' | 'throughput'>): StepResult {
  return {
    durationMs: 1000,
    completed: Math.round(over.throughput),
    latencyMs: { count: 10, mean: 1, p50: 1, p99: 2, p999: 3, max: 4 },
    ok: Math.round(over.throughput),
    counted: {},
    errorsByStatus: {},
    transportErrors: 0,
    timeouts: 0,
    errors: 0,
    cpuPercent: { nginx: 10, 'api-0': 50, 'api-1': 48, 'redis-master': 5, loadgen: 30 },
    ...over,
  };
}

const limits = [
  step({ kind: 'data-script', name: 'redis-benchmark EVALSHA purchase', connections: 32, throughput: 40_000 }),
  step({ kind: 'data-purchase', name: 'EVALSHA purchase + WAIT loop', connections: 32, throughput: 8_000 }),
  step({ kind: 'proxy-limit', name: 'nginx static', connections: 32, throughput: 20_000 }),
  step({ kind: 'proxy-limit', name: 'nginx static', connections: 8, throughput: 15_000 }),
  step({ kind: 'api-floor', name: 'GET /healthz', connections: 32, throughput: 5_000 }),
];

describe('rateSteps', () => {
  it('divides each throughput by the limits measured at the same concurrency only', () => {
    const [at32, at8, at128] = rateSteps(
      [
        step({ kind: 'http', name: 'purchase', connections: 32, throughput: 4_000 }),
        step({ kind: 'http', name: 'purchase', connections: 8, throughput: 3_000 }),
        step({ kind: 'http', name: 'purchase', connections: 128, throughput: 3_000 }),
      ],
      limits,
    );
    expect(at32?.ratios).toEqual({ dataScript: 0.1, dataPurchase: 0.5, proxy: 0.2, apiFloor: 0.8 });
    expect(at8?.ratios).toEqual({ dataScript: null, dataPurchase: null, proxy: 0.2, apiFloor: null });
    expect(at128?.ratios).toEqual({ dataScript: null, dataPurchase: null, proxy: null, apiFloor: null });
  });

  it('finds limits by kind and concurrency', () => {
    expect(limitAt(limits, 'proxy-limit', 8)?.throughput).toBe(15_000);
    expect(limitAt(limits, 'data-script', 8)).toBeUndefined();
  });
});

describe('evaluateTargets', () => {
  it('passes purchases @32 at 10 % of the script limit, p99 under 15 ms and no errors', () => {
    const rated = rateSteps([step({ kind: 'http', name: 'purchase', connections: 32, throughput: 4_000 })], limits);
    expect(evaluateTargets(rated).map((t) => [t.value, t.pass])).toEqual([
      [0.1, true],
      [2, true],
      [0, true],
    ]);
  });

  it('fails each target on its own: low ratio, slow p99, any error', () => {
    const rated = rateSteps(
      [
        step({
          kind: 'http', name: 'purchase', connections: 32, throughput: 3_999,
          latencyMs: { count: 1, mean: 1, p50: 1, p99: 15, p999: 20, max: 20 }, errors: 1, errorsByStatus: { '503': 1 },
        }),
      ],
      limits,
    );
    expect(evaluateTargets(rated).map((t) => t.pass)).toEqual([false, false, false]);
  });

  it('fails every target when the purchase step was not measured', () => {
    const targets = evaluateTargets([]);
    expect(targets.map((t) => [t.value, t.pass])).toEqual([[null, false], [null, false], [null, false]]);
    expect(renderTargets(targets)).toMatch(/^FAIL {2}purchase @32: throughput \/ data tier \(purchase script\) = - \(>= 0.1\)$/m);
  });
});

describe('apiCpuMsPerRequest', () => {
  it('adds the API instances’ cores and spreads them over the completed requests', () => {
    // 0.5 + 0.48 cores for 1 s over 4000 requests = 0.245 ms each
    expect(apiCpuMsPerRequest({ cpuPercent: { 'api-0': 50, 'api-1': 48, nginx: 90 }, durationMs: 1000, completed: 4000 })).toBeCloseTo(0.245, 6);
  });

  it('is unknown when an instance was not measured or nothing completed', () => {
    expect(apiCpuMsPerRequest({ cpuPercent: { 'api-0': 50, 'api-1': null }, durationMs: 1000, completed: 10 })).toBeNull();
    expect(apiCpuMsPerRequest({ cpuPercent: { 'api-0': 50 }, durationMs: 1000, completed: 0 })).toBeNull();
    expect(apiCpuMsPerRequest({ cpuPercent: { nginx: 50 }, durationMs: 1000, completed: 10 })).toBeNull();
  });
});

describe('apiSyscallsPerRequest', () => {
  it('adds reads and writes of every instance per completed request; unknown without counts', () => {
    const syscalls = { 'api-0': { reads: 300, writes: 200 }, 'api-1': { reads: 100, writes: 400 } };
    expect(apiSyscallsPerRequest({ syscalls, completed: 250 })).toBe(4);
    expect(apiSyscallsPerRequest({ completed: 250 })).toBeNull();
    expect(apiSyscallsPerRequest({ syscalls, completed: 0 })).toBeNull();
  });
});

describe('tables', () => {
  it('pads columns to the widest cell, names left-aligned and numbers right-aligned', () => {
    expect(layoutTable(['name', 'n'], [['a', '1'], ['longer', '100']])).toBe(
      ['name      n', '------  ---', 'a         1', 'longer  100'].join('\n'),
    );
  });

  it('lists errors by status, then transport errors and timeouts; 0 when clean', () => {
    expect(formatErrors({ errorsByStatus: { '503': 2, '429': 1 }, transportErrors: 3, timeouts: 1 })).toBe('429:1 503:2 conn:3 timeout:1');
    expect(formatErrors({ errorsByStatus: {}, transportErrors: 0, timeouts: 0 })).toBe('0');
  });

  it('renders a scenario row with latencies, CPU, counted statuses and the four ratios', () => {
    const rated = rateSteps(
      [step({ kind: 'http', name: 'purchase', connections: 32, throughput: 4_000, counted: { '409': 7 }, redisForks: 2, syscalls: { 'api-0': { reads: 4000, writes: 3000 }, 'api-1': { reads: 4000, writes: 3000 } } })],
      limits,
    );
    const [header, , row] = renderStepsTable(rated).split('\n');
    expect(header).toMatch(/^scenario\s+conns\s+req\/s\s+p50 ms\s+p99 ms\s+p99\.9 ms\s+errors\s+nginx%\s+api0%\s+api1%\s+redis%\s+gen%\s+forks\s+api ms\/req\s+api sysc\/req\s+÷script\s+÷purchase\s+÷proxy\s+÷floor$/);
    expect(row?.split(/\s{2,}/)).toEqual(['purchase (409:7)', '32', '4000', '1.00', '2.00', '3.00', '0', '10', '50', '48', '5', '30', '2', '0.245', '3.5', '0.100', '0.500', '0.200', '0.800']);
  });

  it('shows "-" for what a limit did not measure (redis-benchmark has no p99.9; forks not counted), and the forks counted', () => {
    const table = renderLimitsTable([
      step({ kind: 'data-script', name: 'script', connections: 1, throughput: 5_000, latencyMs: { count: 1, mean: 1, p50: 0.1, p99: 0.5, p999: null, max: 1 } }),
      step({ kind: 'data-script', name: 'script', connections: 8, throughput: 9_000, redisForks: 3 }),
    ]);
    const [header, , uncounted, counted] = table.split('\n');
    expect(header).toMatch(/\sgen%\s+forks$/);
    expect(uncounted?.split(/\s{2,}/).slice(0, 6)).toEqual(['script', '1', '5000', '0.10', '0.50', '-']);
    expect(uncounted).toMatch(/\s-$/);
    expect(counted).toMatch(/\s3$/);
  });
});
