import { parseBenchOptions, TIMING } from '../../../scripts/bench/options';
import { scenarioPlan } from '../../../scripts/bench/scenarios';

describe('parseBenchOptions', () => {
  it('defaults to the full run: every scenario at 1, 8, 32, 128 connections, with limits', () => {
    expect(parseBenchOptions([])).toEqual({
      mode: 'full', profile: false, scenarios: ['purchase', 'product-read', 'product-list', 'user-create'],
      connections: [1, 8, 32, 128], limits: true, apiEnv: {}, outDir: 'results', timing: TIMING.full,
    });
  });

  it('takes --quick, --profile, subsets and an output dir', () => {
    const o = parseBenchOptions(['--quick', '--profile', '--scenarios', 'purchase', '--connections', '32,8,32', '--no-limits', '--out', '/tmp/x']);
    expect(o).toMatchObject({ mode: 'quick', profile: true, scenarios: ['purchase'], connections: [8, 32], limits: false, outDir: '/tmp/x', timing: TIMING.quick });
  });

  it('takes API environment experiments, only the variables the API reads', () => {
    expect(parseBenchOptions(['--api-env', 'LOG_LEVEL=warn', '--api-env', 'REDIS_WAIT_REPLICAS=0']).apiEnv).toEqual({ LOG_LEVEL: 'warn', REDIS_WAIT_REPLICAS: '0' });
    expect(() => parseBenchOptions(['--api-env', 'NODE_OPTIONS=--inspect'])).toThrow(/--api-env takes/);
  });

  it('names every bad value in one error', () => {
    expect(() => parseBenchOptions(['--scenarios', 'purchase,checkout', '--connections', '0,x'])).toThrow(
      /unknown scenario "checkout".*connections must be integers 1\.\.1024, got 0.*got NaN/s,
    );
    expect(() => parseBenchOptions(['--bogus'])).toThrow(/bogus/);
  });

  it('keeps the quick run short enough for a minute: 28 steps of warm-up + window', () => {
    expect(28 * (TIMING.quick.warmupMs + TIMING.quick.durationMs)).toBeLessThanOrEqual(40_000);
    expect(28 * (TIMING.full.warmupMs + TIMING.full.durationMs)).toBeLessThanOrEqual(420_000);
  });
});

describe('scenarioPlan', () => {
  const seeded = { userIds: ['usr_1', 'usr_2'], productIds: ['prd_1', 'prd_2', 'prd_3'] };

  it('purchase rotates users and products, expects 201 and counts 409 apart', () => {
    const plan = scenarioPlan('purchase', seeded, 'r');
    const bodies = [plan.next(), plan.next(), plan.next()].map((r) => JSON.parse(r.body ?? '{}') as unknown);
    expect(bodies).toEqual([
      { userId: 'usr_1', productId: 'prd_1', quantity: 1 },
      { userId: 'usr_2', productId: 'prd_2', quantity: 1 },
      { userId: 'usr_1', productId: 'prd_3', quantity: 1 },
    ]);
    expect([plan.expected, plan.counted]).toEqual([[201], [409]]);
  });

  it('user-create never repeats an e-mail within a run, and runs differ', () => {
    const a = scenarioPlan('user-create', seeded, 'run1');
    const emails = new Set(Array.from({ length: 1000 }, () => (JSON.parse(a.next().body ?? '{}') as { email: string }).email));
    expect(emails.size).toBe(1000);
    const b = scenarioPlan('user-create', seeded, 'run2');
    expect(emails.has((JSON.parse(b.next().body ?? '{}') as { email: string }).email)).toBe(false);
  });

  it('reads and lists products with GET', () => {
    expect(scenarioPlan('product-read', seeded, 'r').next()).toEqual({ method: 'GET', path: '/v1/products/prd_1' });
    expect(scenarioPlan('product-list', seeded, 'r').next()).toEqual({ method: 'GET', path: '/v1/products?limit=20' });
    expect(() => scenarioPlan('product-read', { userIds: [], productIds: [] }, 'r')).toThrow(/no products/);
  });
});
