import {
  defineStack,
  generateSecrets,
  renderAll,
  renderApiEnvironment,
  renderNginxConf,
  renderRedisConf,
  renderSentinelConf,
  REDIS_USERS,
  StackValidationError,
  type RedisNode,
  type SentinelInstance,
  type StackSecrets,
} from '../../../config';

const secrets = generateSecrets('test-');
const allSecretValues = (s: StackSecrets) => [...Object.values(s.redisPasswords), ...s.apiTokens, s.grafanaAdminPassword];

/** Directive lines (comments and blanks dropped). */
const directives = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

describe('redis.conf', () => {
  const spec = defineStack();
  const [master, replica] = spec.redis.nodes as [RedisNode, RedisNode];

  it('makes only replicas follow the initial master; every node can authenticate as a replica', () => {
    const m = directives(renderRedisConf(spec, secrets, master));
    const r = directives(renderRedisConf(spec, secrets, replica));
    expect(m.some((l) => l.startsWith('replicaof'))).toBe(false);
    expect(r).toContain('replicaof 172.20.0.60 6379');
    for (const lines of [m, r]) {
      expect(lines).toContain('masteruser replication');
      expect(lines).toContain(`masterauth ${secrets.redisPasswords.replication}`);
      expect(lines).toContain('replica-read-only yes');
      expect(lines).toContain('appendonly yes');
      expect(lines).toContain('min-replicas-to-write 1');
    }
    expect(r).toContain('replica-announce-ip 172.20.0.61');
  });

  it('turns the default user off and gives every ACL user its password from the secrets', () => {
    const lines = directives(renderRedisConf(spec, secrets, master));
    expect(lines).toContain('user default off resetpass ~* &* +@all');
    for (const user of REDIS_USERS) {
      const line = lines.find((l) => l.startsWith(`user ${user} `));
      expect(line).toContain(`>${secrets.redisPasswords[user]} `);
    }
    const other = generateSecrets('other-');
    expect(renderRedisConf(spec, other, master)).not.toContain(secrets.redisPasswords.api);
  });

  it('follows the persistence and memory settings', () => {
    const tuned = defineStack({ redis: { savePoints: [], appendfsync: 'always', maxmemory: '1gb', maxmemoryPolicy: 'allkeys-lru' } });
    const lines = directives(renderRedisConf(tuned, secrets, tuned.redis.initialMaster));
    expect(lines).toEqual(expect.arrayContaining(['save ""', 'appendfsync always', 'maxmemory 1gb', 'maxmemory-policy allkeys-lru']));
    expect(directives(renderRedisConf(spec, secrets, master))).toContain('save 3600 1 300 100 60 10000');
  });

  it('binds loopback only, with per-node paths, on the loopback target', () => {
    const lb = defineStack({ loopback: { workDir: '/w' } }, 'loopback');
    const lines = directives(renderRedisConf(lb, secrets, lb.redis.nodes[2] as RedisNode));
    expect(lines).toEqual(expect.arrayContaining(['bind 127.0.0.1', 'port 6381', 'dir "/w/redis-2"', 'replicaof 127.0.0.1 6379']));
  });
});

describe('sentinel.conf', () => {
  it('monitors the initial master with the quorum, timings and sentinel credentials', () => {
    const spec = defineStack({ sentinel: { downAfterMs: 3000, failoverTimeoutMs: 20000 } });
    const lines = directives(renderSentinelConf(spec, secrets, spec.sentinel.instances[1] as SentinelInstance));
    expect(lines).toEqual(
      expect.arrayContaining([
        'sentinel monitor evergreen 172.20.0.60 6379 2',
        'sentinel auth-user evergreen sentinel',
        `sentinel auth-pass evergreen ${secrets.redisPasswords.sentinel}`,
        'sentinel down-after-milliseconds evergreen 3000',
        'sentinel failover-timeout evergreen 20000',
        'sentinel announce-ip 172.20.0.81',
        'sentinel sentinel-user sentinel',
        'user default off resetpass ~* &* +@all',
      ]),
    );
    expect(lines.some((l) => l.startsWith('user api on'))).toBe(true);
    expect(lines.some((l) => l.startsWith('user admin on'))).toBe(true);
    expect(lines.some((l) => l.startsWith('user replication'))).toBe(false);
    // the monitor line must come after resolve-hostnames when that is set, and hostnames only on Kubernetes
    expect(lines.some((l) => l.includes('resolve-hostnames'))).toBe(false);
  });

  it('resolves and announces host names on Kubernetes', () => {
    const spec = defineStack({}, 'kubernetes');
    const lines = directives(renderSentinelConf(spec, secrets, spec.sentinel.instances[0] as SentinelInstance));
    const resolve = lines.indexOf('sentinel resolve-hostnames yes');
    const monitor = lines.findIndex((l) => l.startsWith('sentinel monitor'));
    expect(resolve).toBeGreaterThanOrEqual(0);
    expect(resolve).toBeLessThan(monitor);
    expect(lines[monitor]).toBe('sentinel monitor evergreen redis-0.redis.evergreen.svc.cluster.local 6379 2');
    expect(lines).toContain('sentinel announce-ip sentinel-0.sentinel.evergreen.svc.cluster.local');
  });
});

describe('nginx.conf', () => {
  it('balances over every API instance, and follows the limits', () => {
    const spec = defineStack({
      api: { instances: 3 },
      gateway: { clientMaxBodySize: '128k', rateLimit: { rate: '50r/s', burst: 7 }, retries: 3 },
    });
    const lines = directives(renderNginxConf(spec));
    expect(lines.filter((l) => l.startsWith('server 172.20.0.'))).toEqual([
      'server 172.20.0.20:8080 max_fails=1 fail_timeout=5s;',
      'server 172.20.0.21:8080 max_fails=1 fail_timeout=5s;',
      'server 172.20.0.22:8080 max_fails=1 fail_timeout=5s;',
    ]);
    expect(lines).toEqual(
      expect.arrayContaining([
        'client_max_body_size 128k;',
        'limit_req_zone $binary_remote_addr zone=evergreen_per_client:10m rate=50r/s;',
        'limit_req zone=evergreen_per_client burst=7 nodelay;',
        'proxy_next_upstream_tries 3;',
        'listen 8080;',
        'listen 8081;',
        'allow 172.20.0.140;',
        'pid "/tmp/nginx.pid";',
      ]),
    );
    expect(renderNginxConf(spec)).toContain('The request body exceeds 128 KiB.');
    // POSTs are never retried once sent.
    expect(lines.join('\n')).not.toContain('non_idempotent');
  });

  it('keeps upstream connections alive below the API\'s own idle timeout, or not at all', () => {
    const kept = directives(renderNginxConf(defineStack()));
    expect(kept).toEqual(expect.arrayContaining(['keepalive 128;', 'keepalive_timeout 4s;']));
    const none = directives(renderNginxConf(defineStack({ gateway: { upstreamKeepalive: 0 } })));
    expect(none.some((l) => l.startsWith('keepalive '))).toBe(false);
  });

  it('balances round-robin by default, least-connections when asked', () => {
    expect(directives(renderNginxConf(defineStack()))).not.toContain('least_conn;');
    expect(directives(renderNginxConf(defineStack({ gateway: { balancing: 'least-conn' } })))).toContain('least_conn;');
  });

  it('uses the API Service on Kubernetes and listens on loopback only for the loopback target', () => {
    const k8s = directives(renderNginxConf(defineStack({}, 'kubernetes')));
    // the Service, once per try (gateway.retries, 2): each retry a connection of its own; never taken out (max_fails=0)
    expect(k8s.filter((l) => /^server \S+:\d+/.test(l))).toEqual(Array(2).fill('server api.evergreen.svc.cluster.local:8080 max_fails=0;'));
    expect(k8s).toContain('listen 127.0.0.1:8081;');
    const lb = directives(renderNginxConf(defineStack({ loopback: { workDir: '/w' } }, 'loopback')));
    expect(lb).toEqual(expect.arrayContaining(['listen 127.0.0.1:8080;', 'pid "/w/gateway/nginx.pid";', 'client_body_temp_path "/w/gateway/tmp/client_body";']));
  });
});

describe('renderAll', () => {
  const spec = defineStack();
  const files = renderAll(spec, secrets);

  it('renders every file once, the monitoring files included', () => {
    const paths = files.map((f) => f.path);
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths).toEqual(
      expect.arrayContaining([
        'redis/redis-0.conf',
        'redis/redis-2.conf',
        'sentinel/sentinel-2.conf',
        'nginx/nginx.conf',
        'api/api-1.env',
        'prometheus/prometheus.yml',
        'alertmanager/alertmanager.yml',
        'grafana/provisioning/datasources/prometheus.yml',
      ]),
    );
    for (const f of files) expect(f.path).not.toMatch(/^\/|\.\./);
  });

  it('marks exactly the files that hold a secret', () => {
    for (const f of files) {
      const holds = allSecretValues(secrets).some((v) => f.content.includes(v));
      expect([f.path, f.containsSecret]).toEqual([f.path, holds]);
    }
  });

  it('gives the API its environment with the api user password and tokens', () => {
    expect(renderApiEnvironment(spec, secrets, 1)).toMatchObject({
      REDIS_USERNAME: 'api',
      REDIS_PASSWORD: secrets.redisPasswords.api,
      API_TOKENS: secrets.apiTokens.join(','),
      REDIS_SENTINELS: spec.sentinel.sentinelList,
    });
  });

  it('refuses secrets that cannot be written safely into config files', () => {
    const bad: StackSecrets = { ...secrets, redisPasswords: { ...secrets.redisPasswords, api: 'short' }, apiTokens: [] };
    expect(() => renderAll(spec, bad)).toThrow(StackValidationError);
    try {
      renderAll(spec, bad);
    } catch (error) {
      expect((error as StackValidationError).problems).toEqual([
        expect.stringContaining('secrets.redisPasswords.api'),
        'secrets.apiTokens: at least one API token is needed',
      ]);
    }
  });
});

describe('the loopback files are the deployed files, changed only in addresses, ports and paths', () => {
  // Same ports on both targets, so only addresses and paths may differ.
  const ports = Object.fromEntries(
    defineStack({}, 'loopback').instances.map((i) => [i.name, i.port] as const),
  ) as Record<string, number>;
  ports['gateway-status'] = 8081;
  const docker = defineStack({ ports });
  const loopback = defineStack({ ports, loopback: { workDir: '/w' } }, 'loopback');
  /** Directives with every Docker address made 127.0.0.1, minus the ones allowed to differ. */
  const comparable = (text: string, spec: typeof docker) => {
    let out = text;
    for (const i of spec.instances) if (i.address) out = out.replaceAll(i.address, '127.0.0.1');
    return directives(out).filter(
      (l) => !/^(bind|dir|listen|allow|pid|\w+_temp_path|sentinel announce-ip|replica-announce-ip) /.test(l),
    );
  };

  it.each([
    ['redis.conf (replica)', (s: typeof docker) => renderRedisConf(s, secrets, s.redis.nodes[1] as RedisNode)],
    ['sentinel.conf', (s: typeof docker) => renderSentinelConf(s, secrets, s.sentinel.instances[2] as SentinelInstance)],
    ['nginx.conf', (s: typeof docker) => renderNginxConf(s)],
  ])('%s', (_name, render) => {
    const a = comparable(render(docker), docker);
    const b = comparable(render(loopback), loopback);
    expect(b).toEqual(a);
    expect(a.length).toBeGreaterThan(15);
  });
});
