/**
 * The Redis/Sentinel start-up script of the Kubernetes pods, run for real: the script, the config
 * templates and the container env are taken from the synthesized `redis-config` ConfigMap and the
 * `redis` / `sentinel` StatefulSets; only what differs between a pod and a loopback process is replaced
 * (addresses → 127.0.0.1 and free ports, paths → a temp dir, binaries → the Debian ones).
 *
 * Scenarios: first start (no Sentinel answers: pod 0 is master, the others replicate it), restart of a
 * replica, failover and restart of the former master (it must rejoin as a replica of the new master),
 * restart of a Sentinel after the failover (it must monitor the new master), restart of a node while
 * every Sentinel is down (after the node has asked the Sentinels for REDIS_SENTINEL_WAIT_SECONDS; also while the
 * master is paused and only its replica can name it), the master's preStop handoff of its role (no acknowledged
 * write lost; nothing on a replica), every
 * node killed and restarted at once after a failover (together, with the master last, with the Sentinels
 * too, and with the Sentinels too while pod 0 is not the master and has missed writes: one master the
 * Sentinels name, no data lost), and a missing secret. Along the way the pods' exec probes, the exporter
 * sidecars and the API (built; `npm run build`) run with the env the manifests give them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { generateSecrets } from '../../../config';
import type { ManifestObject } from '../../../infra/k8s/app';
import { freePort, startProcess, type ManagedProcess } from '../../support/processes';
import { pairsToRecord, redisCall, redisInfo, sentinelRoleEvents, type RedisEndpoint } from '../../support/redis-probe';
import { waitFor } from '../../support/wait';
import { synthesizePods } from './support/pods';

jest.setTimeout(180_000);

const MASTER = 'evergreen';
// down-after 2 s: failovers within seconds, yet a stall of the loaded machine (hundreds of ms, at times more) does not
// make the Sentinels fail over a healthy master under a scenario that expects it to stay (the 1.5 s and 3 s late
// starts below stay under and over it).
const pods = synthesizePods({ redis: { masterName: MASTER }, sentinel: { downAfterMs: 2000, failoverTimeoutMs: 5000 } });
const { objects } = pods;
const templateFor = (key: 'redis.conf.template' | 'sentinel.conf.template', dir: string) => pods.templateIn(key, dir);
const podEnv = pods.podEnv;

const secrets = generateSecrets('test-');
const admin = { username: 'admin', password: secrets.redisPasswords.admin };
let workDir: string;
let scriptPath: string;
let redisPorts: number[];
let sentinelPorts: number[];
const redis = new Map<number, ManagedProcess>();
const sentinels = new Map<number, ManagedProcess>();

/**
 * How long a node keeps asking the Sentinels when none answers (REDIS_SENTINEL_WAIT_SECONDS, 30 s in the
 * pods): long enough for loopback Sentinels started beside the nodes to come up, short enough that the
 * scenarios without any Sentinel (first start, Sentinels down) take seconds, not half a minute each.
 */
const SENTINEL_WAIT_SECONDS = 5;

/**
 * Bound of a wait for a node to replicate (its link up): a full resync forks and transfers a snapshot, after the
 * Sentinels may have had to reconfigure the node; seconds on an idle machine, far more on a starved one.
 */
const REPLICATION_WAIT_MS = 60_000;

const local = (port: number): RedisEndpoint => ({ host: '127.0.0.1', port });
const addresses = (ports: readonly number[]) => ports.map((p) => `127.0.0.1:${p}`).join(',');

/** The env of node `i`'s container, from the manifests, pointed at loopback. */
function redisEnv(i: number): Record<string, string> {
  const port = redisPorts[i] as number;
  const dir = join(workDir, `redis-${i}`);
  return {
    ...podEnv('redis', `redis-${i}`, secrets),
    SENTINEL_ADDRESSES: addresses(sentinelPorts),
    REDIS_ADDRESSES: addresses(redisPorts),
    REDIS_BOOTSTRAP_MASTER_HOST: '127.0.0.1',
    REDIS_BOOTSTRAP_MASTER_PORT: String(redisPorts[0]),
    REDIS_ANNOUNCE_HOST: '127.0.0.1',
    REDIS_PORT: String(port),
    REDIS_CONFIG_TEMPLATE: templateFor('redis.conf.template', join(dir, 'data')),
    REDIS_CONFIG_FILE: join(dir, 'redis.conf'),
    REDIS_SENTINEL_WAIT_SECONDS: String(SENTINEL_WAIT_SECONDS),
    REDIS_SERVER: 'redis-server',
    REDIS_CLI: 'redis-cli',
  };
}

async function startRedis(i: number): Promise<ManagedProcess> {
  const port = redisPorts[i] as number;
  mkdirSync(join(workDir, `redis-${i}`, 'data'), { recursive: true });
  const env = redisEnv(i);
  const process = await startProcess({
    name: `redis-${i}`,
    command: 'sh',
    args: [scriptPath, 'redis', '--port', String(port), '--bind', '127.0.0.1'],
    env,
    ready: async () => (await redisCall(local(port), admin, 'PING').catch(() => undefined)) !== undefined || (await roleOf(port).catch(() => '')) !== '',
    readyTimeoutMs: 20_000,
  });
  redis.set(i, process);
  return process;
}

async function startSentinel(i: number): Promise<ManagedProcess> {
  const port = sentinelPorts[i] as number;
  const dir = join(workDir, `sentinel-${i}`);
  mkdirSync(dir, { recursive: true });
  const env = {
    ...podEnv('sentinel', `sentinel-${i}`, secrets),
    SENTINEL_ADDRESSES: addresses(sentinelPorts),
    REDIS_ADDRESSES: addresses(redisPorts),
    REDIS_BOOTSTRAP_MASTER_HOST: '127.0.0.1',
    REDIS_BOOTSTRAP_MASTER_PORT: String(redisPorts[0]),
    SENTINEL_ANNOUNCE_HOST: '127.0.0.1',
    SENTINEL_PORT: String(port),
    SENTINEL_CONFIG_TEMPLATE: templateFor('sentinel.conf.template', dir),
    SENTINEL_CONFIG_FILE: join(dir, 'sentinel.conf'),
    REDIS_SERVER: 'redis-server',
    REDIS_CLI: 'redis-cli',
  };
  const process = await startProcess({
    name: `sentinel-${i}`,
    command: 'sh',
    args: [scriptPath, 'sentinel', '--port', String(port), '--bind', '127.0.0.1'],
    env,
    ready: async () => (await redisCall(local(port), admin, 'PING').catch(() => '')) === 'PONG',
  });
  sentinels.set(i, process);
  return process;
}

/** `role` of INFO replication ('master' / 'slave'), with the master's port for a replica whose link is up. */
async function roleOf(port: number): Promise<string> {
  const info = await redisInfo(local(port), admin, 'replication');
  if (info.role === 'master') return 'master';
  return info.master_link_status === 'up' ? `replica-of:${info.master_port}` : `replica-of:${info.master_port}:link-down`;
}

/** Waits until the node started as `node` (redis-0) replicates `master` with its link up; says what it did if not. */
async function rejoins(node: ManagedProcess, master: number): Promise<void> {
  const port = redisPorts[0] as number;
  await waitFor(async () => (await roleOf(port)) === `replica-of:${master}`, {
    what: `redis-0 to rejoin the master the other nodes name (127.0.0.1:${master})`,
    timeoutMs: REPLICATION_WAIT_MS,
  }).catch(async (error: unknown) => {
    const roles = await Promise.all(redisPorts.map((p) => roleOf(p).catch((e: unknown) => String(e))));
    throw new Error(`${String(error)}\nroles now: ${redisPorts.map((p, i) => `${p} ${roles[i]}`).join(', ')}\n--- redis-0 ---\n${node.logTail(60)}`);
  });
}

/** The master port every running Sentinel agrees on, once they all agree. */
async function sentinelsAgreeOn(): Promise<number | undefined> {
  const answers = await Promise.all(
    [...sentinels.entries()]
      .filter(([, p]) => p.running)
      .map(([i]) => redisCall(local(sentinelPorts[i] as number), admin, 'SENTINEL', 'get-master-addr-by-name', MASTER).catch(() => null)),
  );
  const ports = new Set(answers.map((a) => (Array.isArray(a) ? Number(a[1]) : NaN)));
  const [only] = [...ports];
  return ports.size === 1 && only !== undefined && !Number.isNaN(only) ? only : undefined;
}

/**
 * Waits until every Sentinel knows `master` (by default the one they name), both replicas and its 2 peers.
 * Sentinel learns replicas from the master's INFO (every 10 s) and peers from their hellos: right after
 * a Sentinel starts, a failover would leave a replica it does not know yet behind, on the old master.
 */
async function everySentinelKnowsAll(master?: number): Promise<void> {
  await waitFor(
    async () => {
      const all = await Promise.all(
        sentinelPorts.map(async (port) => pairsToRecord(await redisCall(local(port), admin, 'SENTINEL', 'MASTER', MASTER))),
      );
      const port = master ?? Number(all[0]?.port);
      return all.every((m) => Number(m.port) === port && m['num-slaves'] === '2' && m['num-other-sentinels'] === '2');
    },
    { what: 'every Sentinel to know the master, 2 replicas and 2 peers', timeoutMs: 30_000, intervalMs: 250 },
  );
}

/** Size of a process's log so far: what it writes after this is what a step caused. */
function logSize(process: ManagedProcess): number {
  return statSync(process.logFile).size;
}

/** The start-script lines of every Redis node's last start and the Sentinels' events since `from`. */
function diagnostics(from: ReadonlyMap<number, number>): string {
  const sections = [...redis].map(([i, p]) => `--- redis-${i} ---\n${p.logTail(200).split('\n').filter((l) => l.startsWith('redis-start:')).join('\n')}`);
  for (const [i, p] of sentinels) {
    const text = readFileSync(p.logFile, 'utf8').slice(from.get(i) ?? 0);
    sections.push(`--- sentinel-${i} ---\n${sentinelRoleEvents(text).join('\n')}`);
  }
  return sections.join('\n');
}

/**
 * Writes 50 keys on `master`, waits until every node of `holders` (default: every node) holds them and
 * their AOF buffers have been written to the files (a SIGKILL then loses nothing).
 */
async function writeAndPersist(master: number, prefix: string, holders: readonly number[] = redisPorts): Promise<string[]> {
  const keys = Array.from({ length: 50 }, (_, i) => `${prefix}:${i}`);
  for (const key of keys) await redisCall(local(master), admin, 'SET', key, key);
  await waitFor(
    async () => {
      const counts = await Promise.all(holders.map((p) => redisCall(local(p), admin, 'EXISTS', ...keys)));
      return counts.every((c) => c === keys.length);
    },
    { what: 'every node to hold the keys written', timeoutMs: 15_000 },
  );
  // The nodes are SIGKILLed next: what each has written to its AOF file survives that (the kernel holds it), what is
  // still in its AOF buffer does not. With appendfsync everysec a node holds its writes back while a background
  // fsync runs, which takes long on a loaded machine: wait until every buffer is empty, rather than a fixed time.
  await waitFor(
    async () => {
      const persistence = await Promise.all(holders.map((p) => redisInfo(local(p), admin, 'persistence')));
      return persistence.every((i) => i.aof_buffer_length === '0' && i.aof_pending_bio_fsync === '0');
    },
    { what: "every node's AOF buffer to be written", timeoutMs: 30_000, intervalMs: 100 },
  );
  return keys;
}

/**
 * Waits until exactly one node is master, every other node is its replica with the link up and every
 * running Sentinel names it; returns its port.
 */
async function oneMasterTheSentinelsName(explain: () => string): Promise<number> {
  return waitFor(
    async () => {
      const roles = await Promise.all(redisPorts.map((p) => roleOf(p)));
      const masters = redisPorts.filter((_, i) => roles[i] === 'master');
      const [master] = masters;
      if (masters.length !== 1 || master === undefined) return undefined;
      if (!roles.every((r) => r === 'master' || r === `replica-of:${master}`)) return undefined;
      return (await sentinelsAgreeOn()) === master ? master : undefined;
    },
    { what: 'one master, the others its connected replicas, every Sentinel naming it', timeoutMs: 60_000, intervalMs: 250 },
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${explain()}`);
  });
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'evergreen-k8s-start-'));
  scriptPath = pods.scriptIn('redis-start.sh', workDir);
  redisPorts = [await freePort(), await freePort(), await freePort()];
  sentinelPorts = [await freePort(), await freePort(), await freePort()];
});

afterAll(async () => {
  await Promise.all([...redis.values(), ...sentinels.values()].map((p) => p.stop('SIGTERM', 5_000)));
  rmSync(workDir, { recursive: true, force: true });
});

describe('redis-start.sh (from the synthesized ConfigMap) on loopback redis-server / redis-sentinel', () => {
  it('first start: no Sentinel answers, pod 0 becomes master and the others its replicas', async () => {
    for (const i of [0, 1, 2]) await startRedis(i);
    const p0 = redisPorts[0] as number;
    await waitFor(async () => (await roleOf(p0)) === 'master', { what: 'redis-0 to be master', timeoutMs: 10_000 });
    for (const i of [1, 2]) {
      await waitFor(async () => (await roleOf(redisPorts[i] as number)) === `replica-of:${p0}`, {
        what: `redis-${i} to replicate redis-0`,
        timeoutMs: REPLICATION_WAIT_MS,
      });
    }
    // The rendered config carries the real passwords, and only this node's role lines.
    await expect(redisCall(local(p0), { username: 'api', password: secrets.redisPasswords.api }, 'PING')).resolves.toBe('PONG');
    await expect(redisCall(local(p0), undefined, 'PING')).rejects.toThrow(/NOAUTH|WRONGPASS|Authentication/i);
    await redisCall(local(p0), admin, 'SET', 'migrated:key', 'before-failover');
  });

  it('Sentinels copy their config to a writable file and monitor the master with both replicas and their peers', async () => {
    for (const i of [0, 1, 2]) await startSentinel(i);
    await everySentinelKnowsAll(redisPorts[0]);
  });

  it("the pods' exec probes (from the manifests) pass against the running master, replicas and Sentinels", () => {
    const probes = (statefulSet: string) => {
      const object = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === statefulSet) as ManifestObject & {
        spec: { template: { spec: { containers: Record<string, { exec?: { command: string[] } } | undefined>[] } } };
      };
      const container = object.spec.template.spec.containers[0] ?? {};
      return ['readinessProbe', 'livenessProbe', 'startupProbe'].map((kind) => {
        const command = container[kind]?.exec?.command;
        if (!command) throw new Error(`${statefulSet}: ${kind} is not an exec probe`);
        return command;
      });
    };
    const run = (command: string[], port: number) => {
      // The probe as the kubelet runs it, pointed at the loopback port and the Debian redis-cli.
      const args = command.slice(1).map((arg, i, all) => (all[i - 1] === '-p' ? String(port) : arg));
      return spawnSync('redis-cli', args, { env: { ...process.env, REDISCLI_AUTH: secrets.redisPasswords.exporter }, encoding: 'utf8', timeout: 10_000 });
    };
    for (const command of probes('redis')) {
      for (const port of redisPorts) expect({ port, command: command.join(' '), status: run(command, port).status }).toMatchObject({ status: 0 });
    }
    for (const command of probes('sentinel')) {
      for (const port of sentinelPorts) expect({ port, command: command.join(' '), status: run(command, port).status }).toMatchObject({ status: 0 });
    }
    // And they fail when the password is wrong (a probe that cannot fail proves nothing).
    const [readiness] = probes('redis');
    const wrong = spawnSync('redis-cli', (readiness as string[]).slice(1).map((a, i, all) => (all[i - 1] === '-p' ? String(redisPorts[0]) : a)), {
      env: { ...process.env, REDISCLI_AUTH: 'wrong-password-123' },
      encoding: 'utf8',
    });
    expect(wrong.status).not.toBe(0);
  });

  it('the exporter sidecars (env from the manifests) export the master and a Sentinel as the exporter user', async () => {
    for (const [statefulSet, port, metric] of [
      ['redis', redisPorts[0] as number, /^redis_connected_slaves 2$/m],
      ['sentinel', sentinelPorts[0] as number, /^redis_sentinel_masters 1$/m],
    ] as const) {
      const listen = await freePort();
      const env = podEnv(statefulSet, `${statefulSet}-0`, secrets, 1);
      expect(env.REDIS_USER).toBe('exporter');
      const exporter = await startProcess({
        name: `${statefulSet}-exporter`,
        command: 'prometheus-redis-exporter',
        env: { ...env, REDIS_ADDR: `redis://127.0.0.1:${port}`, REDIS_EXPORTER_WEB_LISTEN_ADDRESS: `127.0.0.1:${listen}` },
        ready: async () => (await fetch(`http://127.0.0.1:${listen}/health`).catch(() => undefined))?.ok === true,
      });
      try {
        const metrics = await waitFor(
          async () => {
            const text = await (await fetch(`http://127.0.0.1:${listen}/metrics`)).text();
            return /^redis_up 1$/m.test(text) ? text : undefined;
          },
          { what: `the ${statefulSet} exporter to report redis_up 1`, timeoutMs: 10_000 },
        );
        expect(metrics).toMatch(metric);
      } finally {
        await exporter.stop();
      }
    }
  });

  it('the API, started with the Deployment\'s env and the Secrets, finds the master through the Sentinels and writes', async () => {
    const port = await freePort();
    const env = { ...podEnv('api', 'api-0', secrets), REDIS_SENTINELS: addresses(sentinelPorts), PORT: String(port), HOST: '127.0.0.1' };
    expect(Object.keys(env).sort()).toEqual(['API_SHUTDOWN_DELAY_MS', 'API_TOKENS', 'HOST', 'LOG_LEVEL', 'PORT', 'REDIS_MASTER_NAME', 'REDIS_PASSWORD', 'REDIS_SENTINELS', 'REDIS_USERNAME']);
    const api = await startProcess({
      name: 'api-0',
      command: process.execPath,
      args: [join(__dirname, '..', '..', '..', 'build', 'api', 'src', 'main.js')],
      env,
      ready: async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200,
    });
    try {
      const created = await fetch(`http://127.0.0.1:${port}/v1/products`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secrets.apiTokens[0]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Fern', priceCents: 1200, stock: 3 }),
      });
      expect(created.status).toBe(201);
    } finally {
      await api.stop();
    }
  });

  it('restart of a replica: it asks the Sentinels and rejoins the current master', async () => {
    await redis.get(2)?.stop();
    const restarted = await startRedis(2);
    await waitFor(async () => (await roleOf(redisPorts[2] as number)) === `replica-of:${redisPorts[0]}`, {
      what: 'the restarted replica to replicate redis-0',
      timeoutMs: REPLICATION_WAIT_MS,
    });
    expect(restarted.logTail(50)).toMatch(/sentinel 127\.0\.0\.1:\d+ names 127\.0\.0\.1:\d+ as master/);
    await expect(redisCall(local(redisPorts[2] as number), admin, 'GET', 'migrated:key')).resolves.toBe('before-failover');
  });

  it('restart of the former master after a failover: it rejoins as a replica of the new master', async () => {
    const oldMaster = redisPorts[0] as number;
    await redis.get(0)?.kill();
    const newMaster = await waitFor(
      async () => {
        const port = await sentinelsAgreeOn();
        return port !== undefined && port !== oldMaster ? port : undefined;
      },
      { what: 'the Sentinels to fail over to a replica', timeoutMs: 45_000, intervalMs: 250 },
    );
    await waitFor(async () => (await roleOf(newMaster)) === 'master', { what: 'the promoted replica to be master', timeoutMs: 15_000 });

    const restarted = await startRedis(0);
    await waitFor(async () => (await roleOf(oldMaster)) === `replica-of:${newMaster}`, {
      what: 'the former master to replicate the new master',
      timeoutMs: 30_000,
    }).catch((error: unknown) => {
      throw new Error(`${String(error)}\n--- redis-0 ---\n${restarted.logTail(40)}\n--- new master ---\n${redis.get(redisPorts.indexOf(newMaster))?.logTail(40)}`);
    });
    expect(restarted.logTail(50)).toMatch(/starting as replica of 127\.0\.0\.1 \d+/);
    await expect(redisCall(local(oldMaster), admin, 'GET', 'migrated:key')).resolves.toBe('before-failover');
    // One master among the three, and the Sentinels still name it.
    const roles = await Promise.all(redisPorts.map((p) => roleOf(p)));
    expect(roles.filter((r) => r === 'master')).toHaveLength(1);
    expect(await sentinelsAgreeOn()).toBe(newMaster);
  });

  it('restart of a Sentinel after the failover: it monitors the master its peers name, not pod 0', async () => {
    const newMaster = (await sentinelsAgreeOn()) as number;
    await sentinels.get(1)?.stop();
    await startSentinel(1);
    const master = pairsToRecord(await redisCall(local(sentinelPorts[1] as number), admin, 'SENTINEL', 'MASTER', MASTER));
    expect(Number(master.port)).toBe(newMaster);
    expect(newMaster).not.toBe(redisPorts[0]);
  });

  it('restart of a node while every Sentinel is down: the other nodes name the master, no second master appears', async () => {
    const master = (await sentinelsAgreeOn()) as number;
    const formerMaster = redisPorts[0] as number;
    expect(await roleOf(formerMaster)).toBe(`replica-of:${master}`);
    await Promise.all([...sentinels.values()].map((p) => p.stop()));
    try {
      await redis.get(0)?.stop();
      const restarted = await startRedis(0);
      await rejoins(restarted, master);
      expect(restarted.logTail(50)).toMatch(/no sentinel answers: asking them again for up to \d+ s/);
      expect(restarted.logTail(50)).toMatch(/redis node 127\.0\.0\.1:\d+ reports role:master/);
      const roles = await Promise.all(redisPorts.map((p) => roleOf(p)));
      expect(roles.filter((r) => r === 'master')).toHaveLength(1);

      // Again while the master itself does not answer in time (paused: a slow fork, a long command): the replica
      // still connected to it names it. Taken for "no master", the bootstrap node would have made itself a second one.
      await redis.get(0)?.stop();
      const masterProcess = redis.get(redisPorts.indexOf(master)) as ManagedProcess;
      masterProcess.signal('SIGSTOP');
      let again: ManagedProcess;
      try {
        again = await startRedis(0);
      } finally {
        masterProcess.signal('SIGCONT');
      }
      expect(again.logTail(50)).toMatch(new RegExp(`redis node 127\\.0\\.0\\.1:\\d+ replicates 127\\.0\\.0\\.1:${master} \\(link up\\)`));
      await rejoins(again, master);
    } finally {
      // The Sentinels come back to the same master (and, should the above fail, are there for the scenarios below).
      for (const i of [0, 1, 2]) if (!sentinels.get(i)?.running) await startSentinel(i);
    }
    await waitFor(async () => (await sentinelsAgreeOn()) === master, { what: 'the Sentinels to agree on the master again', timeoutMs: 20_000 });
  });

  it("the master's preStop hook (from the manifest) hands its role to a replica: writes pause, none acknowledged is lost; on a replica it does nothing", async () => {
    await everySentinelKnowsAll();
    const master = (await sentinelsAgreeOn()) as number;
    const redisSet = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'redis') as ManifestObject & {
      spec: { template: { spec: { containers: { lifecycle?: { preStop?: { exec?: { command: string[] } } } }[] } } };
    };
    const preStop = redisSet.spec.template.spec.containers[0]?.lifecycle?.preStop?.exec?.command ?? [];
    expect(preStop.slice(-1)).toEqual(['handoff']);
    /**
     * The hook as the kubelet runs it in pod `i`: the ConfigMap's script, the container's env — but for its log, which
     * goes to PID 1's stderr in the pod (redis-server's: the container log) and here to a file of the test's.
     */
    expect(redisEnv(0).REDIS_HANDOFF_LOG).toBe('/proc/1/fd/2');
    const runHook = (i: number) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const log = join(workDir, `handoff-${i}-${Date.now()}.log`);
        const child = spawn('sh', [scriptPath, 'handoff'], { env: { ...process.env, ...redisEnv(i), REDIS_HANDOFF_LOG: log }, stdio: 'ignore' });
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stderr: readFileSync(log, 'utf8') });
        });
      });

    const replica = redisPorts.findIndex((p) => p !== master);
    const onReplica = await runHook(replica);
    expect(onReplica).toMatchObject({ code: 0, stderr: expect.stringMatching(/not the master: nothing to hand over/) });
    expect(await sentinelsAgreeOn()).toBe(master);

    // Writes on the master while its hook runs, each confirmed by WAIT 1 as the API's are.
    const writer = new Redis({ host: '127.0.0.1', port: master, ...admin, maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 1_000, lazyConnect: true });
    await writer.connect();
    const acknowledged: string[] = [];
    let handingOff = true;
    const writes = (async () => {
      const until = Date.now() + 60_000;
      for (let n = 0; handingOff && n < 20_000 && Date.now() < until; n += 1) {
        const key = `handoff:${n}`;
        try {
          await writer.set(key, key);
          if (Number(await writer.wait(1, 500)) >= 1) acknowledged.push(key);
        } catch {
          await new Promise((r) => setTimeout(r, 50)); // paused (timeout), demoted (READONLY) or cut off
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const onMaster = await runHook(redisPorts.indexOf(master));
    handingOff = false;
    await writes;
    writer.disconnect();
    expect(onMaster).toMatchObject({ code: 0, stderr: expect.stringMatching(/handoff: done, this node is a replica of 127\.0\.0\.1:\d+ now/) });
    const newMaster = await waitFor(
      async () => {
        const port = await sentinelsAgreeOn();
        return port !== undefined && port !== master ? port : undefined;
      },
      { what: 'the Sentinels to name the new master', timeoutMs: 20_000, intervalMs: 250 },
    );
    await waitFor(async () => (await roleOf(master)) === `replica-of:${newMaster}`, { what: 'the former master to replicate the new one', timeoutMs: REPLICATION_WAIT_MS });
    expect(acknowledged.length).toBeGreaterThan(0);
    const values = (await redisCall(local(newMaster), admin, 'MGET', ...acknowledged)) as unknown[];
    expect({ lost: acknowledged.filter((k, j) => values[j] !== k) }).toEqual({ lost: [] });
  });

  // Every Redis node re-created at once on its volume, as tests/e2e scenario 5a does (docker rm -f, then
  // create), after a failover. What must hold afterwards is the invariant, not a particular node: one
  // master, the Sentinels name it, the others are its connected replicas, no write made before is lost
  // and the master takes writes again. When the master is down longer than down-after-milliseconds
  // (it comes back last), Sentinel legitimately promotes a replica that is already back (the replicas
  // started as replicas of the master the Sentinels named; one never linked reports
  // master_link_down_since_seconds -1, which Sentinel takes as fresh). When the Sentinels restart too
  // (a reboot of the Docker host, a whole-cluster restart), no one answers anybody at first: the nodes
  // keep asking the Sentinels (REDIS_SENTINEL_WAIT_SECONDS) and each Sentinel monitors the master its
  // own saved config names, not the bootstrap node pod 0. The last variant is the case where that
  // matters: pod 0 is not the master and missed writes while it was down; taking pod 0 would take
  // those writes away from every node.
  it.each([
    { what: 'all nodes at the same moment', lateMs: 0, sentinelsToo: false, stalePod0: false },
    { what: 'the master last, 1.5 s after the replicas (while the Sentinels decide)', lateMs: 1_500, sentinelsToo: false, stalePod0: false },
    { what: 'the master last, 3 s after the replicas (longer than down-after-milliseconds)', lateMs: 3_000, sentinelsToo: false, stalePod0: false },
    { what: 'every node and every Sentinel at the same moment, as on a host restart', lateMs: 0, sentinelsToo: true, stalePod0: false },
    {
      what: 'every node and every Sentinel at the same moment, the master not pod 0 and pod 0 down while keys were written',
      lateMs: 0,
      sentinelsToo: true,
      stalePod0: true,
    },
  ])('every node killed and started again ($what): one master the Sentinels name, the others its replicas, no data lost', async ({ lateMs, sentinelsToo, stalePod0 }) => {
    const pod0 = redisPorts[0] as number;
    let logsFrom = new Map([...sentinels].map(([i, p]) => [i, logSize(p)]));
    let masterBefore = (await sentinelsAgreeOn()) as number;
    if (stalePod0 && masterBefore === pod0) {
      // Move the master away from pod 0 the way an operator (or a failure) would, once every Sentinel
      // knows every replica (they have just restarted).
      await everySentinelKnowsAll(masterBefore);
      await expect(redisCall(local(sentinelPorts[0] as number), admin, 'SENTINEL', 'FAILOVER', MASTER)).resolves.toBe('OK');
      masterBefore = await waitFor(
        async () => {
          const port = await sentinelsAgreeOn();
          return port !== undefined && port !== pod0 ? port : undefined;
        },
        { what: 'the Sentinels to fail over away from pod 0', timeoutMs: 30_000, intervalMs: 250 },
      );
      expect(await oneMasterTheSentinelsName(() => diagnostics(logsFrom))).toBe(masterBefore);
    }
    if (stalePod0) await redis.get(0)?.kill();
    const holders = stalePod0 ? redisPorts.filter((p) => p !== pod0) : redisPorts;
    const keys = await writeAndPersist(masterBefore, `all-restart:${lateMs}:${String(sentinelsToo)}:${String(stalePod0)}`, holders);
    logsFrom = new Map([...sentinels].map(([i, p]) => [i, sentinelsToo ? 0 : logSize(p)]));

    await Promise.all([...redis.values(), ...(sentinelsToo ? sentinels.values() : [])].map((p) => p.kill()));
    const first = [0, 1, 2].filter((i) => lateMs === 0 || redisPorts[i] !== masterBefore);
    await Promise.all([...first.map((i) => startRedis(i)), ...(sentinelsToo ? [0, 1, 2].map((i) => startSentinel(i)) : [])]);
    if (lateMs > 0) {
      await new Promise((r) => setTimeout(r, lateMs));
      await startRedis(redisPorts.indexOf(masterBefore));
    }

    const master = await oneMasterTheSentinelsName(() => `master before: ${masterBefore}\n${diagnostics(logsFrom)}`);
    for (const port of redisPorts) {
      const values = (await redisCall(local(port), admin, 'MGET', ...keys)) as unknown[];
      expect({ port, lost: keys.filter((k, i) => values[i] !== k) }).toEqual({ port, lost: [] });
    }
    await expect(redisCall(local(master), admin, 'SET', 'all-restart:after', 'written')).resolves.toBe('OK');
    if (sentinelsToo) {
      // The first Sentinel to decide had no peer and no master node to ask: it took its saved config.
      const sentinelLogs = [...sentinels.values()].map((p) => p.logTail(200)).join('\n');
      expect(sentinelLogs).toMatch(/the master this sentinel last knew \(its saved config\)/);
      // And the restarted Sentinels find both replicas and their peers again (what a next failover needs).
      await everySentinelKnowsAll(master);
    }
  });

  // A change of the nodes' ports (or addresses) restarts every node and Sentinel on its volume: each Sentinel's
  // saved config names the master at its old address, where nothing runs any more. Followed, it would make every
  // node the replica of that address: no master at all.
  it('every node and Sentinel restarted on new ports: the saved master (an old address) is ignored, one master again, no data lost', async () => {
    const masterBefore = (await sentinelsAgreeOn()) as number;
    const keys = await writeAndPersist(masterBefore, 'new-ports');
    await Promise.all([...redis.values(), ...sentinels.values()].map((p) => p.kill()));
    const oldPorts = redisPorts;
    redisPorts = [];
    for (const _ of oldPorts) redisPorts.push(await freePort());
    await Promise.all([...[0, 1, 2].map((i) => startRedis(i)), ...[0, 1, 2].map((i) => startSentinel(i))]);

    const master = await oneMasterTheSentinelsName(() => `old ports ${oldPorts.join(',')}, new ${redisPorts.join(',')}\n${diagnostics(new Map([...sentinels].map(([i]) => [i, 0])))}`);
    expect(redisPorts).toContain(master);
    for (const port of redisPorts) {
      const values = (await redisCall(local(port), admin, 'MGET', ...keys)) as unknown[];
      expect({ port, lost: keys.filter((k, i) => values[i] !== k) }).toEqual({ port, lost: [] });
    }
    const sentinelLogs = [...sentinels.values()].map((p) => p.logTail(200)).join('\n');
    expect(sentinelLogs).toMatch(new RegExp(`last knew, 127\\.0\\.0\\.1:${masterBefore}, is not a redis node of this stack`));
    await everySentinelKnowsAll(master);
  });

  it('refuses to start when a secret the template needs is missing, naming it', async () => {
    const dir = join(workDir, 'missing-secret');
    mkdirSync(dir, { recursive: true });
    const env = { ...podEnv('redis', 'redis-9', secrets), REDIS_PASSWORD_REPLICATION: '', REDIS_CONFIG_TEMPLATE: templateFor('redis.conf.template', dir), REDIS_CONFIG_FILE: join(dir, 'redis.conf'), REDIS_ANNOUNCE_HOST: '127.0.0.1', REDIS_PORT: '1' };
    const process = await startProcess({ name: 'redis-missing-secret', command: 'sh', args: [scriptPath, 'redis'], env });
    expect(await process.exited).toBe(1);
    expect(process.logTail()).toMatch(/missing REDIS_PASSWORD_REPLICATION/);
  });
});
