import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  apiInstanceEnvironment,
  defineStack,
  isHostInSubnet,
  portKeys,
  applyDefaults,
  DEFAULT_SETTINGS,
  StackValidationError,
  stackProblems,
  type StackOverrides,
  type StackTarget,
} from '../../../config';

function problemsOf(overrides: StackOverrides, target: StackTarget = 'docker'): readonly string[] {
  return stackProblems(overrides, target);
}

describe('defineStack defaults (docker)', () => {
  const spec = defineStack();

  it('has the seed topology: 1 gateway, 2 API, master + 2 replicas, 3 sentinels quorum 2, monitoring', () => {
    const counts = new Map<string, number>();
    for (const i of spec.instances) counts.set(i.service, (counts.get(i.service) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({
      gateway: 1,
      api: 2,
      redis: 3,
      sentinel: 3,
      'redis-exporter': 3,
      'sentinel-exporter': 3,
      'nginx-exporter': 1,
      prometheus: 1,
      alertmanager: 1,
      grafana: 1,
    });
    expect(spec.sentinel.quorum).toBe(2);
    expect(spec.redis.nodes.map((n) => n.initialRole)).toEqual(['master', 'replica', 'replica']);
  });

  it('gives every container a fixed, unique address inside 172.20.0.0/24', () => {
    const addresses = spec.instances.map((i) => i.address);
    expect(new Set(addresses).size).toBe(spec.instances.length);
    for (const a of addresses) expect(isHostInSubnet(a as string, '172.20.0.0/24')).toBe(true);
    expect(spec.gateway.instance.address).toBe('172.20.0.10');
    expect(spec.redis.initialMaster.address).toBe('172.20.0.60');
    expect(spec.instances.every((i) => i.host === i.address)).toBe(true);
    expect(spec.network).toEqual({ name: 'evergreen', subnet: '172.20.0.0/24', gatewayAddress: '172.20.0.1' });
  });

  it('derives the upstream list, monitor line, sentinel list, scrape jobs and API environment', () => {
    expect(spec.gateway.upstreams).toEqual([
      { host: '172.20.0.20', port: 8080 },
      { host: '172.20.0.21', port: 8080 },
    ]);
    expect(spec.sentinel.monitorLine).toBe('sentinel monitor evergreen 172.20.0.60 6379 2');
    expect(spec.sentinel.sentinelList).toBe('172.20.0.80:26379,172.20.0.81:26379,172.20.0.82:26379');
    expect(spec.api.environment).toMatchObject({
      REDIS_SENTINELS: spec.sentinel.sentinelList,
      REDIS_MASTER_NAME: 'evergreen',
      REDIS_USERNAME: 'api',
      PORT: '8080',
    });
    expect(Object.keys(spec.api.environment)).not.toContain('REDIS_PASSWORD');
    const jobs = Object.fromEntries(spec.monitoring.scrapeJobs.map((j) => [j.job, j.targets.map((t) => t.address)]));
    expect(jobs).toEqual({
      api: ['172.20.0.20:8080', '172.20.0.21:8080'],
      nginx: ['172.20.0.140:9113'],
      redis: ['172.20.0.100:9121', '172.20.0.101:9121', '172.20.0.102:9121'],
      sentinel: ['172.20.0.120:9121', '172.20.0.121:9121', '172.20.0.122:9121'],
      alertmanager: ['172.20.0.151:9093'],
      prometheus: ['172.20.0.150:9090'],
    });
    expect(spec.monitoring.redisExporters.map((e) => e.target.name)).toEqual(['redis-0', 'redis-1', 'redis-2']);
    expect(spec.monitoring.nginxExporter.target).toEqual({ host: '172.20.0.10', port: 8081, name: 'gateway-status' });
    expect(spec.gateway.statusAllowFrom).toEqual(['172.20.0.140']);
  });

  it('names containers after the stack', () => {
    expect(spec.instances.map((i) => i.containerName)).toContain('evergreen-redis-2');
    expect(defineStack({ name: 'shop' }).gateway.instance.containerName).toBe('shop-gateway');
  });
});

describe('overrides change exactly what they name, and what derives from it', () => {
  it('counts follow settings', () => {
    const spec = defineStack({ api: { instances: 3 }, redis: { replicas: 4 }, sentinel: { count: 5, quorum: 3 } });
    expect(spec.api.instanceList).toHaveLength(3);
    expect(spec.gateway.upstreams).toHaveLength(3);
    expect(spec.redis.nodes).toHaveLength(5);
    expect(spec.monitoring.redisExporters).toHaveLength(5);
    expect(spec.sentinel.instances).toHaveLength(5);
    expect(spec.sentinel.monitorLine).toMatch(/ 3$/);
    expect(spec.sentinel.sentinelList.split(',')).toHaveLength(5);
  });

  it('the subnet moves every derived address; explicit addresses win', () => {
    const spec = defineStack({ network: { subnet: '10.9.8.0/24', addresses: { grafana: '10.9.8.200' } } });
    expect(spec.redis.initialMaster.host).toBe('10.9.8.60');
    expect(spec.monitoring.grafana.address).toBe('10.9.8.200');
    expect(spec.network.gatewayAddress).toBe('10.9.8.1');
  });

  it('ports and tuning are overridable', () => {
    const spec = defineStack({
      redis: { port: 7000, savePoints: [[900, 1]], appendfsync: 'always', maxmemory: '1gb' },
      sentinel: { downAfterMs: 2000, failoverTimeoutMs: 10000 },
      gateway: { clientMaxBodySize: '128k', rateLimit: { rate: '10r/s' } },
    });
    expect(spec.redis.initialMaster.port).toBe(7000);
    expect(spec.redis.savePoints).toEqual([[900, 1]]);
    expect(spec.sentinel.downAfterMs).toBe(2000);
    expect(spec.gateway.rateLimit).toEqual({ rate: '10r/s', burst: 400, zoneSize: '10m' });
    expect(spec.sentinel.monitorLine).toBe('sentinel monitor evergreen 172.20.0.60 7000 2');
  });

  it('does not modify the defaults when overriding', () => {
    defineStack({ gateway: { rateLimit: { burst: 1 } } });
    expect(applyDefaults().gateway.rateLimit.burst).toBe(400);
  });
});

describe('loopback target', () => {
  it('puts everything on 127.0.0.1 with distinct ports, and takes the ports a launcher allocated', () => {
    const spec = defineStack({}, 'loopback');
    expect(spec.instances.every((i) => i.host === '127.0.0.1')).toBe(true);
    const ports = [...spec.instances.map((i) => i.port), spec.gateway.status.port];
    expect(new Set(ports).size).toBe(ports.length);

    const allocated = Object.fromEntries(portKeys(spec.settings).map((k, i) => [k, 40000 + i]));
    const mine = defineStack({ ports: allocated, loopback: { workDir: '/tmp/evg-x' } }, 'loopback');
    for (const i of mine.instances) expect(i.port).toBe(allocated[i.name]);
    expect(mine.gateway.status.port).toBe(allocated['gateway-status']);
    expect(mine.sentinel.monitorLine).toBe(`sentinel monitor evergreen 127.0.0.1 ${allocated['redis-0']} 2`);
    expect(mine.redis.nodes[1]?.dataDir).toBe(path.join('/tmp/evg-x', 'redis-1'));
    expect(mine.gateway.pidFile).toBe('/tmp/evg-x/gateway/nginx.pid');
    expect(apiInstanceEnvironment(mine, 1)).toMatchObject({ PORT: String(allocated['api-1']), HOST: '127.0.0.1' });
  });

  it('refuses two loopback listeners on one port', () => {
    expect(problemsOf({ ports: { 'redis-1': 26379 } }, 'loopback')).toEqual([
      'ports: sentinel-0 and redis-1 both listen on 127.0.0.1:26379; give one of them another port',
    ]);
  });
});

describe('kubernetes target', () => {
  const spec = defineStack({ kubernetes: { namespace: 'shop' } }, 'kubernetes');
  it('uses stable Service DNS names', () => {
    expect(spec.redis.initialMaster.host).toBe('redis-0.redis.shop.svc.cluster.local');
    expect(spec.sentinel.instances[2]?.host).toBe('sentinel-2.sentinel.shop.svc.cluster.local');
    expect(spec.gateway.upstreams).toEqual([{ host: 'api.shop.svc.cluster.local', port: 8080 }]);
    expect(spec.sentinel.useHostnames).toBe(true);
    expect(spec.instances.every((i) => i.address === undefined)).toBe(true);
  });
});

describe('validation: one clear message per problem', () => {
  it.each<[string, StackOverrides, string]>([
    ['even sentinel count', { sentinel: { count: 4 } }, 'sentinel.count: 4 is even'],
    ['too few sentinels', { sentinel: { count: 1, quorum: 1 } }, 'sentinel.count: 1 Sentinel(s) cannot survive'],
    ['quorum above count', { sentinel: { quorum: 4 } }, 'sentinel.quorum: 4 is above sentinel.count (3)'],
    ['zero API instances', { api: { instances: 0 } }, 'api.instances: at least 1 API instance is needed (got 0)'],
    ['port out of range', { redis: { port: 70000 } }, 'redis.port: must be a port in 1–65535 (got 70000)'],
    ['address outside subnet', { network: { addresses: { 'api-0': '10.0.0.5' } } }, 'network.addresses.api-0: address 10.0.0.5 is outside'],
    ['address clash', { network: { addresses: { grafana: '172.20.0.60' } } }, 'address 172.20.0.60 is used by both redis-0 and grafana'],
    ['gateway address', { network: { addresses: { grafana: '172.20.0.1' } } }, "is the Docker network's gateway address"],
    ['small subnet', { network: { subnet: '172.20.0.0/26' } }, 'network.subnet: 172.20.0.0/26 does not hold the derived addresses of sentinel-0 (172.20.0.80), sentinel-1'],
    ['port clash within a container', { gateway: { statusPort: 8080 } }, 'ports: gateway-status and gateway both listen on 172.20.0.10:8080'],
    ['published host port clash', { monitoring: { publishGrafana: true, grafanaPort: 8080 } }, 'monitoring.grafanaPort: host port 8080 is also published'],
    ['min replicas above replicas', { redis: { replicas: 1, minReplicasToWrite: 2 } }, 'redis.minReplicasToWrite: 2 is above redis.replicas (1)'],
    ['false-failover-prone down-after', { sentinel: { downAfterMs: 500 } }, 'sentinel.downAfterMs: must be at least 1000 ms'],
    ['failover timeout below down-after', { sentinel: { downAfterMs: 20000, failoverTimeoutMs: 10000 } }, 'sentinel.failoverTimeoutMs: 10000 must be greater'],
    ['retry budget within the read timeout', { gateway: { retryTimeout: '10s' } }, 'gateway.retryTimeout: 10s is not above gateway.readTimeout (15s)'],
    ['unknown port key', { ports: { 'api-7': 9000 } }, 'ports.api-7: no instance has this name'],
    ['unknown setting', { redis: { replcas: 3 } } as unknown as StackOverrides, 'redis.replcas: unknown setting'],
    ['config injection', { redis: { masterName: 'a b\nsentinel x' } }, 'redis.masterName: must be 1–64 characters'],
    ['bad nginx size', { gateway: { clientMaxBodySize: '64 KiB' } }, "gateway.clientMaxBodySize: must be an nginx size such as '64k'"],
    ['bad rate', { gateway: { rateLimit: { rate: 'fast' } } }, 'gateway.rateLimit.rate: must be a rate'],
    ['bad retention', { monitoring: { retentionTime: '15 days' } }, 'monitoring.retentionTime: must be a Prometheus duration'],
    // Prometheus' syntax: units from y down to ms, each once, whole numbers; anything else stops Prometheus at start
    ['duration units out of order', { monitoring: { scrapeInterval: '30s1m' } }, 'monitoring.scrapeInterval: must be a Prometheus duration'],
    ['fractional duration', { monitoring: { evaluationInterval: '1.5m' } }, 'monitoring.evaluationInterval: must be a Prometheus duration'],
    ['zero interval', { monitoring: { scrapeInterval: '0s' } }, 'monitoring.scrapeInterval: must be longer than 0'],
    ['rate-limit zone nginx refuses', { gateway: { rateLimit: { zoneSize: '16k' } } }, 'gateway.rateLimit.zoneSize: must be at least 512k'],
    ['bad save point', { redis: { savePoints: [[60] as unknown as [number, number]] } }, 'redis.savePoints.0: each save point must be a [seconds, changes] pair'],
    ['bad subnet', { network: { subnet: '172.20.0.0' } }, "network.subnet: must be an IPv4 subnet such as '172.20.0.0/24'"],
  ])('%s', (_what, overrides, expected) => {
    const problems = problemsOf(overrides);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
  });

  it('reports every problem at once, in the error message too', () => {
    let caught: unknown;
    try {
      defineStack({ sentinel: { count: 4, quorum: 5 }, network: { addresses: { 'api-0': '10.0.0.1' } } });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(StackValidationError);
    const e = caught as StackValidationError;
    expect(e.problems).toHaveLength(3);
    for (const p of e.problems) expect(e.message).toContain(p);
    expect(e.message).toMatch(/^invalid stack settings \(3 problems\):/);
  });

  it('names topology problems even when other settings are malformed', () => {
    expect(problemsOf({ api: { instances: 0 }, sentinel: { count: 4 }, redis: { port: -1 } })).toEqual([
      'api.instances: at least 1 API instance is needed (got 0)',
      'redis.port: must be a port in 1–65535 (got -1)',
      'sentinel.count: 4 is even; use an odd number (3 or 5) so that a majority survives a split',
    ]);
    // …without repeating a problem about a setting already named.
    expect(problemsOf({ sentinel: { count: 0, quorum: 5 } })).toEqual(['sentinel.count: must be at least 1 (got 0)']);
  });

  it('refuses an unknown target and a non-object', () => {
    expect(() => defineStack({}, 'swarm' as StackTarget)).toThrow('target: must be one of docker, loopback, kubernetes');
    expect(() => defineStack([] as unknown as StackOverrides)).toThrow(StackValidationError);
  });

  it('on kubernetes, instances of one service share their Service name without a clash', () => {
    expect(problemsOf({ api: { instances: 5 } }, 'kubernetes')).toEqual([]);
  });
});

describe('docs/config.md', () => {
  it('documents every setting with its default', () => {
    const doc = readFileSync(path.join(__dirname, '../../../docs/config.md'), 'utf8');
    const leaves = (value: unknown, at: string[]): [string, unknown][] =>
      value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0
        ? Object.entries(value).flatMap(([k, v]) => leaves(v, [...at, k]))
        : [[at.join('.'), value]];
    const missing = leaves(DEFAULT_SETTINGS, [])
      .filter(([setting, value]) => {
        // Records (`network.addresses`, `ports`) are documented per key: `| \`ports.<instance>\` |`.
        const key = typeof value === 'object' && !Array.isArray(value) ? `${setting}.<instance>` : setting;
        const row = doc.split('\n').find((line) => line.startsWith(`| \`${key}\` |`));
        if (row === undefined) return true;
        const shown = typeof value === 'string' ? `\`${value}\`` : JSON.stringify(value);
        return !(row.includes(shown) || (typeof value === 'object' && row.includes('—')));
      })
      .map(([setting]) => setting);
    expect(missing).toEqual([]);
  });
});
