import { parseBenchOptions, TIMING } from '../../../scripts/bench/options';
import { scenarioPlan } from '../../../scripts/bench/scenarios';

describe('parseBenchOptions', () => {
  it('defaults to the full run: every scenario at 1, 8, 32, 128 connections, with limits', () => {
    expect(parseBenchOptions([])).toEqual({
      mode: 'full', profile: false, scenarios: ['purchase', 'product-read', 'product-list', 'user-create'],
      connections: [1, 8, 32, 128], limits: true, apiEnv: {}, cpus: undefined, outDir: 'results', timing: TIMING.full,
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

  it('takes the CPUs to confine the run to, in taskset list syntax', () => {
    expect(parseBenchOptions(['--cpus', '0']).cpus).toBe('0');
    expect(parseBenchOptions(['--cpus', '0-1,4']).cpus).toBe('0-1,4');
    for (const bad of ['', 'all', '0-', '1,,2', '0;1']) expect(() => parseBenchOptions(['--cpus', bad])).toThrow(/--cpus takes a list of CPUs/);
  });

  it('names every bad value in one error', () => {
    expect(() => parseBenchOptions(['--scenarios', 'purchase,checkout', '--connections', '0,x'])).toThrow(
      /unknown scenario "checkout".*connections must be integers 1\.\.1024, got 0.*got NaN/s,
    );
    expect(() => parseBenchOptions(['--bogus'])).toThrow(/bogus/);
  });

  it('keeps the quick run short enough for a minute: 32 steps of warm-up + window', () => {
    expect(32 * (TIMING.quick.warmupMs + TIMING.quick.durationMs)).toBeLessThanOrEqual(40_000);
    expect(32 * (TIMING.full.warmupMs + TIMING.full.durationMs)).toBeLessThanOrEqual(420_000);
    // wrk runs whole seconds
    expect([TIMING.quick.durationMs % 1000, TIMING.full.durationMs % 1000, TIMING.full.warmupMs % 1000]).toEqual([0, 0, 0]);
  });
});

describe('scenarioPlan', () => {
  const seeded = { userIds: ['usr_1', 'usr_2'], productIds: ['prd_1', 'prd_2', 'prd_3'] };

  it('purchase: every user buys every product in turn, expects 201 and counts 409 apart', () => {
    const plan = scenarioPlan('purchase', seeded, 'r');
    expect(plan.requests.map((r) => [r.method, r.path, JSON.parse(r.body ?? '{}') as unknown])).toEqual(
      ['usr_1', 'usr_2'].flatMap((userId) => ['prd_1', 'prd_2', 'prd_3'].map((productId) => ['POST', '/v1/purchases', { userId, productId, quantity: 1 }])),
    );
    expect([plan.expected, plan.counted]).toEqual([[201], [409]]);
  });

  it('user-create: a {seq} in the e-mail (unique per request, see wrk.ts) and the run id (unique per run)', () => {
    const [request] = scenarioPlan('user-create', seeded, 'run1').requests;
    expect(JSON.parse(request?.body ?? '{}')).toEqual({ name: 'Bench user {seq}', email: 'bench-run1-{seq}@example.com' });
    expect(scenarioPlan('user-create', seeded, 'run2').requests[0]?.body).not.toBe(request?.body);
  });

  it('reads and lists products with GET', () => {
    expect(scenarioPlan('product-read', seeded, 'r').requests).toEqual(['prd_1', 'prd_2', 'prd_3'].map((id) => ({ method: 'GET', path: `/v1/products/${id}` })));
    expect(scenarioPlan('product-list', seeded, 'r').requests).toEqual([{ method: 'GET', path: '/v1/products?limit=20' }]);
    expect(() => scenarioPlan('product-read', { userIds: [], productIds: [] }, 'r')).toThrow(/no products/);
  });
});
