/**
 * The rendered redis.conf and sentinel.conf, run by the real programs: a master and two replicas
 * started from the files as rendered for the loopback target (only addresses, ports and paths differ
 * from the deployed ones), three Sentinels on top, then replication, ACL users, persistence,
 * min-replicas-to-write and a real failover.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  defineStack,
  generateSecrets,
  renderRedisConf,
  renderSentinelConf,
  sentinelConfPath,
  type RedisNode,
  type RedisUser,
  type SentinelInstance,
  type StackSpec,
} from '../../../config';
import { freePort, registerTemporaryDir, startProcess, type ManagedProcess } from '../../support/processes';
import { pairsToRecord, redisCall, redisInfo, type RedisEndpoint } from '../../support/redis-probe';
import { waitFor } from '../../support/wait';

jest.setTimeout(90_000);

const secrets = generateSecrets();
const as = (user: RedisUser) => ({ username: user, password: secrets.redisPasswords[user] });
const admin = as('admin');

/** The reply of a command, or the error message it failed with. */
async function attempt(endpoint: RedisEndpoint, user: RedisUser | undefined, ...command: (string | number)[]): Promise<string> {
  try {
    const [name, ...args] = command;
    return JSON.stringify(await redisCall(endpoint, user === undefined ? undefined : as(user), String(name), ...args));
  } catch (error) {
    return `ERR ${(error as Error).message}`;
  }
}

let workDir: string;
let spec: StackSpec;
const processes = new Map<string, ManagedProcess>();

async function startRedis(node: RedisNode): Promise<void> {
  const conf = join(workDir, `${node.name}.conf`);
  writeFileSync(conf, renderRedisConf(spec, secrets, node), { mode: 0o600 });
  mkdirSync(node.dataDir, { recursive: true });
  processes.set(
    node.name,
    await startProcess({
      name: node.name,
      command: 'redis-server',
      args: [conf],
      logFile: join(workDir, `${node.name}.log`),
      ready: async () => (await redisCall(node, admin, 'PING').catch(() => '')) === 'PONG',
    }),
  );
}

async function startSentinel(sentinel: SentinelInstance): Promise<void> {
  mkdirSync(sentinel.dataDir, { recursive: true });
  // Sentinel rewrites its file: the rendered one is copied to the writable data directory first.
  const conf = sentinelConfPath(sentinel);
  writeFileSync(conf, renderSentinelConf(spec, secrets, sentinel), { mode: 0o600 });
  processes.set(
    sentinel.name,
    await startProcess({
      name: sentinel.name,
      command: 'redis-sentinel',
      args: [conf],
      logFile: join(workDir, `${sentinel.name}.log`),
      ready: async () => (await redisCall(sentinel, admin, 'PING').catch(() => '')) === 'PONG',
    }),
  );
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'evergreen-config-redis-'));
  registerTemporaryDir(workDir);
  const ports: Record<string, number> = {};
  for (const name of ['redis-0', 'redis-1', 'redis-2', 'sentinel-0', 'sentinel-1', 'sentinel-2']) ports[name] = await freePort();
  spec = defineStack(
    {
      ports,
      loopback: { workDir },
      // Tuned for a test (the deployed default is 5000 ms, see config/model.ts): a failover within seconds, yet not
      // one of a healthy master that a stall of the loaded machine kept silent for a second.
      sentinel: { downAfterMs: 2000, failoverTimeoutMs: 5000 },
      redis: { minReplicasMaxLagSeconds: 10 },
    },
    'loopback',
  );
  for (const node of spec.redis.nodes) await startRedis(node);
});

afterAll(async () => {
  for (const p of [...processes.values()].reverse()) await p.stop('SIGTERM', 5_000);
  rmSync(workDir, { recursive: true, force: true });
});

describe('redis.conf, run by redis-server', () => {
  it('replicates from the master to both replicas', async () => {
    const [master, ...replicas] = spec.redis.nodes as [RedisNode, ...RedisNode[]];
    await waitFor(async () => (await redisInfo(master, admin, 'replication')).connected_slaves === '2', {
      what: 'both replicas connected to the master',
      timeoutMs: 15_000,
    });
    expect(await attempt(master, 'api', 'SET', 'product:replicated', 'yes')).toBe('"OK"');
    // WAIT as the API does for a durable answer.
    expect(Number(JSON.parse(await attempt(master, 'api', 'WAIT', 1, 2000)))).toBeGreaterThanOrEqual(1);
    for (const replica of replicas) {
      await waitFor(async () => (await redisCall(replica, as('api'), 'GET', 'product:replicated')) === 'yes', {
        what: `the write on ${replica.name}`,
      });
      const role = (await redisCall(replica, as('api'), 'ROLE')) as unknown[];
      expect(role[0]).toBe('slave');
      expect(await attempt(replica, 'api', 'SET', 'product:x', '1')).toMatch(/READONLY/);
    }
  });

  it('persists with RDB and AOF in the node data directory', async () => {
    const master = spec.redis.initialMaster;
    const config = pairsToRecord(await redisCall(master, admin, 'CONFIG', 'GET', '*'));
    expect(config.appendonly).toBe('yes');
    expect(config.appendfsync).toBe('everysec');
    expect(config.save).toBe('3600 1 300 100 60 10000');
    expect(config['maxmemory-policy']).toBe('noeviction');
    expect(config['replica-serve-stale-data']).toBe('no');
    expect(config['min-replicas-to-write']).toBe('1');
    expect(config.dir).toBe(master.dataDir);
    expect(await attempt(master, 'admin', 'SAVE')).toBe('"OK"');
    expect(existsSync(join(master.dataDir, 'dump.rdb'))).toBe(true);
    expect(existsSync(join(master.dataDir, 'appendonlydir'))).toBe(true);
  });

  it('refuses the default user and wrong passwords', async () => {
    const master = spec.redis.initialMaster;
    expect(await attempt(master, undefined, 'PING')).toMatch(/NOAUTH/);
    expect(await attempt(master, undefined, 'AUTH', 'api', 'not-the-password')).toMatch(/WRONGPASS/);
    expect(await attempt(master, undefined, 'AUTH', 'default', '')).toMatch(/WRONGPASS/);
    expect(await attempt(master, undefined, 'AUTH', 'api', secrets.redisPasswords.api)).toBe('"OK"');
  });

  it('lets the api user run what the API runs, and nothing dangerous', async () => {
    const master = spec.redis.initialMaster;
    const ok: (string | number)[][] = [
      ['HSET', 'product:acl', 'stock', 3],
      ['HINCRBY', 'product:acl', 'stock', -1],
      ['HGETALL', 'product:acl'],
      ['ZADD', 'products', 0, 'acl'],
      ['ZRANGE', 'products', '(a', '+', 'BYLEX', 'LIMIT', 0, 10],
      ['SET', 'idempotency:purchase:k', 'v', 'EX', 60, 'NX'],
      ['PEXPIRE', 'idempotency:purchase:k', 60_000],
      ['EVAL', "return redis.call('HGET', KEYS[1], 'stock')", 1, 'product:acl'],
      ['SCRIPT', 'LOAD', 'return 1'],
      ['MULTI'],
      ['INFO', 'replication'],
      ['ROLE'],
      ['WAIT', 0, 10],
      ['CLIENT', 'SETNAME', 'evergreen-api'],
      ['PING'],
      ['DEL', 'product:acl'],
    ];
    for (const command of ok) {
      const reply = await attempt(master, 'api', ...command);
      expect([command.join(' '), /NOPERM/.test(reply)]).toEqual([command.join(' '), false]);
    }
    const denied: (string | number)[][] = [
      ['FLUSHALL'],
      ['FLUSHDB'],
      ['KEYS', '*'],
      ['CONFIG', 'GET', 'maxmemory'],
      ['CONFIG', 'SET', 'appendonly', 'no'],
      ['SHUTDOWN'],
      ['REPLICAOF', 'NO', 'ONE'],
      ['ACL', 'LIST'],
      ['MONITOR'],
      ['CLIENT', 'KILL', 'TYPE', 'normal'],
      ['SCRIPT', 'FLUSH'],
      ['FUNCTION', 'FLUSH'],
      ['BGSAVE'],
      ['EVAL', "return redis.call('FLUSHALL')", 0],
    ];
    // …and nothing was flushed.
    expect(await attempt(master, 'api', 'GET', 'product:replicated')).toBe('"yes"');
    for (const command of denied) {
      const reply = await attempt(master, 'api', ...command);
      // Inside a script Redis words the refusal differently.
      expect([command.join(' '), /NOPERM|user executing the script can't run this command/.test(reply)]).toEqual([
        command.join(' '),
        true,
      ]);
    }
  });

  it('limits the replication, sentinel and exporter users to their jobs', async () => {
    const master = spec.redis.initialMaster;
    expect(await attempt(master, 'replication', 'PING')).toBe('"PONG"');
    expect(await attempt(master, 'replication', 'GET', 'product:replicated')).toMatch(/NOPERM/);
    expect(await attempt(master, 'sentinel', 'INFO', 'replication')).toMatch(/role:master/);
    expect(await attempt(master, 'sentinel', 'GET', 'product:replicated')).toMatch(/NOPERM/);
    expect(await attempt(master, 'sentinel', 'FLUSHALL')).toMatch(/NOPERM/);
    expect(await attempt(master, 'exporter', 'INFO')).toMatch(/redis_version/);
    expect(await attempt(master, 'exporter', 'CONFIG', 'GET', 'maxmemory')).toMatch(/maxmemory/);
    expect(await attempt(master, 'exporter', 'SLOWLOG', 'GET', 1)).not.toMatch(/NOPERM/);
    expect(await attempt(master, 'exporter', 'GET', 'product:replicated')).toMatch(/NOPERM/);
    expect(await attempt(master, 'exporter', 'CONFIG', 'SET', 'maxmemory', '1')).toMatch(/NOPERM/);
    expect(await attempt(master, 'admin', 'CONFIG', 'GET', 'maxmemory')).toMatch(/maxmemory/);
  });
});

describe('a redis.conf with every Redis setting changed', () => {
  it('is accepted by redis-server and takes effect', async () => {
    const dir = join(workDir, 'tuned');
    const tuned = defineStack(
      {
        ports: { 'redis-0': await freePort() },
        loopback: { workDir: dir },
        redis: {
          replicas: 1,
          savePoints: [],
          appendfsync: 'always',
          maxmemory: '64mb',
          maxmemoryPolicy: 'volatile-lru',
          minReplicasToWrite: 0,
          minReplicasMaxLagSeconds: 3,
          masterName: 'shop.main',
        },
      },
      'loopback',
    );
    const node = tuned.redis.initialMaster;
    mkdirSync(node.dataDir, { recursive: true });
    const conf = join(dir, 'redis.conf');
    writeFileSync(conf, renderRedisConf(tuned, secrets, node), { mode: 0o600 });
    const redis = await startProcess({
      name: 'redis-tuned',
      command: 'redis-server',
      args: [conf],
      logFile: join(dir, 'redis.log'),
      ready: async () => (await redisCall(node, admin, 'PING').catch(() => '')) === 'PONG',
    });
    try {
      const config = pairsToRecord(await redisCall(node, admin, 'CONFIG', 'GET', '*'));
      expect(config).toMatchObject({
        save: '',
        appendfsync: 'always',
        maxmemory: String(64 * 1024 * 1024),
        'maxmemory-policy': 'volatile-lru',
        'min-replicas-to-write': '0',
        'min-replicas-max-lag': '3',
      });
      // With min-replicas-to-write 0, a lone master accepts writes.
      expect(await attempt(node, 'api', 'SET', 'k', 'v')).toBe('"OK"');
    } finally {
      await redis.stop();
    }
  });
});

describe('sentinel.conf, run by redis-sentinel', () => {
  beforeAll(async () => {
    for (const sentinel of spec.sentinel.instances) await startSentinel(sentinel);
  });

  it('each Sentinel monitors the master and finds the replicas and the other Sentinels', async () => {
    const master = spec.redis.initialMaster;
    for (const sentinel of spec.sentinel.instances) {
      await waitFor(
        async () => {
          const m = pairsToRecord(await redisCall(sentinel, admin, 'SENTINEL', 'MASTER', spec.redis.masterName));
          return m.ip === master.host && m.port === String(master.port) && m['num-slaves'] === '2' && m['num-other-sentinels'] === '2' && m.flags === 'master';
        },
        { what: `${sentinel.name} to see the master, 2 replicas and 2 other Sentinels`, timeoutMs: 20_000 },
      );
      const m = pairsToRecord(await redisCall(sentinel, admin, 'SENTINEL', 'MASTER', spec.redis.masterName));
      expect(m.quorum).toBe('2');
      expect(m['down-after-milliseconds']).toBe(String(spec.sentinel.downAfterMs));
      expect(m['failover-timeout']).toBe('5000');
    }
  });

  it('has its own ACL users: api resolves the master but cannot reconfigure; default refused', async () => {
    const sentinel = spec.sentinel.instances[0] as SentinelInstance;
    const name = spec.redis.masterName;
    const master = spec.redis.initialMaster;
    expect(await attempt(sentinel, undefined, 'PING')).toMatch(/NOAUTH/);
    expect(JSON.parse(await attempt(sentinel, 'api', 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name))).toEqual([
      master.host,
      String(master.port),
    ]);
    expect(await attempt(sentinel, 'api', 'SENTINEL', 'SENTINELS', name)).not.toMatch(/NOPERM/);
    expect(await attempt(sentinel, 'api', 'SENTINEL', 'REPLICAS', name)).not.toMatch(/NOPERM/);
    for (const command of [
      ['SENTINEL', 'FAILOVER', name],
      ['SENTINEL', 'SET', name, 'quorum', '1'],
      ['SENTINEL', 'REMOVE', name],
      ['SENTINEL', 'RESET', '*'],
      ['SENTINEL', 'CONFIG', 'SET', 'resolve-hostnames', 'yes'],
      ['ACL', 'LIST'],
      ['SHUTDOWN'],
    ])
      expect(await attempt(sentinel, 'api', ...command)).toMatch(/NOPERM/);
    expect(await attempt(sentinel, 'exporter', 'SENTINEL', 'MASTERS')).not.toMatch(/NOPERM/);
    expect(await attempt(sentinel, 'exporter', 'INFO')).toMatch(/sentinel_masters:1/);
    expect(await attempt(sentinel, 'exporter', 'SENTINEL', 'FAILOVER', name)).toMatch(/NOPERM/);
    // Replicas never talk to Sentinels: the replication user does not exist there.
    expect(await attempt(sentinel, undefined, 'AUTH', 'replication', secrets.redisPasswords.replication)).toMatch(/WRONGPASS/);
  });

  it('fails over to a replica when the master dies, and the api user writes to the new master', async () => {
    const old = spec.redis.initialMaster;
    await (processes.get(old.name) as ManagedProcess).kill();
    const name = spec.redis.masterName;
    const promoted = await waitFor(
      async () => {
        const answers = await Promise.all(
          spec.sentinel.instances.map((s) => redisCall(s, as('api'), 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name).catch(() => [])),
        );
        const ports = answers.map((a) => Number((a as string[])[1]));
        return ports.every((p) => p === ports[0] && p !== old.port) ? ports[0] : undefined;
      },
      { what: 'every Sentinel to name a new master', timeoutMs: 30_000, intervalMs: 200 },
    );
    const node = spec.redis.nodes.find((n) => n.port === promoted) as RedisNode;
    await waitFor(async () => ((await redisCall(node, as('api'), 'ROLE')) as unknown[])[0] === 'master', {
      what: `${node.name} to be master`,
    });
    // The other replica follows the new master, so min-replicas-to-write is met again.
    await waitFor(async () => (await attempt(node, 'api', 'SET', 'product:after-failover', '1')) === '"OK"', {
      what: 'a write on the new master',
      timeoutMs: 60_000, // the other replica resynchronised from the new master: a fork and a transfer, slow when starved
    });
    expect(await attempt(node, 'api', 'GET', 'product:replicated')).toBe('"yes"');
    // Sentinel rewrote its own file (in its writable data directory).
    const rewritten = readFileSync(sentinelConfPath(spec.sentinel.instances[0] as SentinelInstance), 'utf8');
    expect(rewritten).toContain('sentinel myid');
    expect(rewritten).toMatch(new RegExp(`sentinel monitor ${name} 127\\.0\\.0\\.1 ${promoted} 2`));
  });

  it('the new master refuses writes once no replica is connected (min-replicas-to-write 1)', async () => {
    const name = spec.redis.masterName;
    const [host, port] = (await redisCall(spec.sentinel.instances[0] as SentinelInstance, admin, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [string, string];
    const master = { host, port: Number(port) };
    // Stop the Sentinels first so they do not fail over while the replica is gone.
    for (const s of spec.sentinel.instances) await (processes.get(s.name) as ManagedProcess).stop();
    for (const node of spec.redis.nodes) {
      if (node.port !== master.port && node.port !== spec.redis.initialMaster.port) await (processes.get(node.name) as ManagedProcess).stop();
    }
    const refused = await waitFor(
      async () => {
        const reply = await attempt(master, 'api', 'SET', 'product:alone', '1');
        return /NOREPLICAS/.test(reply) ? reply : undefined;
      },
      { what: 'the lone master to refuse writes', timeoutMs: 20_000 },
    );
    expect(refused).toMatch(/NOREPLICAS/);
  });
});
