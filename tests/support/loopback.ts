/**
 * The loopback topology: the whole Evergreen stack (Redis master + replicas, Sentinels, API instances,
 * nginx in front) as real processes on 127.0.0.1, for the integration tests, `npm run dev` and the
 * benchmark. It runs the very configuration files that are deployed — rendered by config/ from
 * `defineStack(overrides, 'loopback')` — changed only in addresses, ports and paths.
 *
 * Start order and readiness (each step waits for the previous one, every wait is bounded):
 *   1. Redis master            answers PING (as the `admin` ACL user)
 *   2. Redis replicas          `master_link_status:up`, and the master lists them all `online`
 *   3. Sentinels               each names the master; each sees every replica and every other Sentinel
 *   4. API instances           `GET /readyz` → 200 (the master is writable through the Sentinels);
 *                              started once every Sentinel names the master, ready-checked while the
 *                              Sentinels finish discovering each other
 *   5. nginx                   an authenticated `GET /v1/products` through it → 200
 * `stop()` goes the other way round (Sentinels before Redis, so that no failover starts while it stops).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  DEFAULT_SETTINGS,
  defineStack,
  generateSecrets,
  renderApiEnvironment,
  renderNginxConf,
  renderRedisConf,
  renderSentinelConf,
  sentinelConfPath,
  type StackOverrides,
  type StackSecrets,
  type StackSpec,
} from '../../config';
import {
  forgetTemporaryDir,
  freePort,
  registerCleanup,
  registerTemporaryDir,
  startProcess,
  type ManagedProcess,
  type StartProcessProps,
} from './processes';
import { pairsToRecord, redisCall, redisInfo, type RedisCredentials, type RedisEndpoint } from './redis-probe';
import { waitFor } from './wait';

/**
 * Sentinel timing as deployed (DEFAULT_SETTINGS), for the runs a person starts — `npm run dev`, `npm run bench` —
 * rather than the quicker failover tuning the tests use by default (LoopbackTopologyProps).
 */
export const DEPLOYED_SENTINEL_TIMING: Pick<LoopbackTopologyProps, 'sentinelDownAfterMs' | 'sentinelFailoverTimeoutMs'> = {
  sentinelDownAfterMs: DEFAULT_SETTINGS.sentinel.downAfterMs,
  sentinelFailoverTimeoutMs: DEFAULT_SETTINGS.sentinel.failoverTimeoutMs,
};

export interface LoopbackTopologyProps {
  /** Number of API instances behind nginx. @default 2 */
  readonly apiInstances?: number;
  /** Number of Redis replicas of the master. @default 2 */
  readonly redisReplicas?: number;
  /** Number of Sentinels (odd, ≥ 3; quorum is the majority). @default 3 */
  readonly sentinels?: number;
  /** Start nginx in front of the API instances. @default true */
  readonly gateway?: boolean;
  /** Port nginx listens on (127.0.0.1). @default a free port (`npm run dev`: 8080) */
  readonly gatewayPort?: number;
  /**
   * Sentinel `down-after-milliseconds`. The deployed default is 5000 ms (see config/model.ts); the tests
   * want a failover within seconds, yet a 2-core machine running jest, Node, Redis and the e2e's containers
   * stalls for hundreds of milliseconds at times, more when overloaded: 500 ms is known to false-fail, and a
   * failover of a healthy master fails every test that expects it to stay. 2000 ms puts a complete failover
   * (detection + election + promotion) at about 3.5–4.5 s, with room for a second-long stall.
   * @default 2000
   */
  readonly sentinelDownAfterMs?: number;
  /**
   * Sentinel `failover-timeout`: bound of each failover phase, and half the pause before the same master
   * is failed over again. 5 s is ample on loopback (tiny data sets re-sync in milliseconds) and lets a
   * test that kills two masters in a row see the second failover within ~10 s.
   * @default 5000
   */
  readonly sentinelFailoverTimeoutMs?: number;
  /** Extra environment for every API instance (tuning variables `API_*` / `REDIS_*`, `LOG_LEVEL`). @default {} */
  readonly apiEnv?: Readonly<Record<string, string>>;
  /**
   * Directory for configs, data and logs (`<workDir>/<instance>/`, logs in `<workDir>/logs/`).
   * @default a fresh temporary directory, removed by `stop()` (kept when EVERGREEN_KEEP_WORKDIR=1)
   */
  readonly workDir?: string;
  /** Further stack settings (persistence, nginx limits, …) on top of the above. @default {} */
  readonly stack?: StackOverrides;
  /** Bound of each readiness wait. @default 30000 */
  readonly readyTimeoutMs?: number;
}

export interface LoopbackTopology {
  /** `http://127.0.0.1:<port>` of nginx, or undefined when started without the gateway. */
  readonly gatewayUrl: string | undefined;
  /** `http://127.0.0.1:<port>` of each API instance (reachable directly too). */
  readonly apiUrls: readonly string[];
  /** A bearer token the API instances accept. */
  readonly apiToken: string;
  readonly masterName: string;
  readonly sentinels: readonly { host: string; port: number }[];
  readonly redisNodes: readonly { name: string; host: string; port: number }[];
  /** The secrets this topology was started with (tests use the `admin` Redis user to inspect Redis). */
  readonly secrets: StackSecrets;
  readonly spec: StackSpec;
  /** The directory holding configs, data and logs. */
  readonly workDir: string;
  /** Where each process writes its output: `<workDir>/logs/<instance>.log`. */
  readonly logDir: string;
  /** The master as the Sentinels see it now (the majority answer of those that respond). */
  currentMaster(): Promise<{ host: string; port: number }>;
  /** The process of the Redis node on `port`, e.g. to kill or SIGSTOP the master. */
  redisProcess(port: number): ManagedProcess;
  /** Starts the Redis node on `port` again (after it was killed) with its original config file. */
  restartRedis(port: number): Promise<void>;
  /** Stops API instance `i` gracefully (SIGTERM). */
  stopApi(i: number): Promise<void>;
  /** Starts API instance `i` again on its port and waits until it is ready. */
  startApi(i: number): Promise<void>;
  /** Every process it started, by instance name (running or not). */
  processes(): ReadonlyMap<string, ManagedProcess>;
  /** Stops everything it started and removes the default work dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** EVERGREEN_KEEP_WORKDIR=1 keeps the work dir (configs, data, logs) after stop, for post-mortems. */
function keepWorkDir(): boolean {
  return process.env.EVERGREEN_KEEP_WORKDIR === '1';
}

/** The repository root (holds package.json), from tests/support/ or its compiled copy in build/. */
export function repositoryRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'api'))) return dir;
    if (dirname(dir) === dir) throw new Error(`repository root not found above ${__dirname}`);
  }
}

/** A program on PATH or in the sbin directories (nginx is in /usr/sbin, not on every user's PATH). */
function findProgram(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${name} not found on PATH or in /usr/sbin; install it (see scripts/ensure-test-deps.ts)`);
}

function httpGet(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    const req = request(url, { headers, timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

async function allocatePorts(props: LoopbackTopologyProps): Promise<Record<string, number>> {
  const ports: Record<string, number> = {};
  const take = async (name: string): Promise<void> => {
    ports[name] = await freePort();
  };
  if (props.gatewayPort !== undefined) ports.gateway = props.gatewayPort;
  else await take('gateway');
  await take('gateway-status');
  for (let i = 0; i < (props.apiInstances ?? 2); i += 1) await take(`api-${i}`);
  for (let i = 0; i <= (props.redisReplicas ?? 2); i += 1) await take(`redis-${i}`);
  for (let i = 0; i < (props.sentinels ?? 3); i += 1) await take(`sentinel-${i}`);
  return ports;
}

/** Starts the topology and resolves once every part of it is ready; on any failure it stops what it started. */
export async function startLoopbackTopology(props: LoopbackTopologyProps = {}): Promise<LoopbackTopology> {
  const ownsWorkDir = props.workDir === undefined;
  const workDir = resolve(props.workDir ?? join(tmpdir(), `evergreen-loopback-${randomBytes(6).toString('hex')}`));
  const sentinelCount = props.sentinels ?? 3;
  const overrides: StackOverrides = {
    ...props.stack,
    ports: { ...props.stack?.ports, ...(await allocatePorts(props)) },
    api: { ...props.stack?.api, instances: props.apiInstances ?? 2 },
    redis: { ...props.stack?.redis, replicas: props.redisReplicas ?? 2 },
    sentinel: {
      ...props.stack?.sentinel,
      count: sentinelCount,
      quorum: props.stack?.sentinel?.quorum ?? Math.floor(sentinelCount / 2) + 1,
      downAfterMs: props.sentinelDownAfterMs ?? 2000,
      failoverTimeoutMs: props.sentinelFailoverTimeoutMs ?? 5000,
    },
    loopback: { workDir },
  };
  // Validate before touching the disk: bad input gets the one StackValidationError and changes nothing.
  const spec = defineStack(overrides, 'loopback');
  const secrets = generateSecrets();

  if (ownsWorkDir) {
    mkdirSync(workDir); // fails if it exists: a fresh directory, never someone else's
    if (!keepWorkDir()) registerTemporaryDir(workDir);
  } else {
    mkdirSync(workDir, { recursive: true });
  }
  // nginx started as root runs its workers as `nobody`: they must reach their temp directory.
  chmodSync(workDir, 0o755);

  const topology = new Topology(spec, secrets, props, workDir, ownsWorkDir);
  try {
    await topology.start();
  } catch (error) {
    await topology.stop().catch(() => undefined);
    throw error;
  }
  return topology;
}

class Topology implements LoopbackTopology {
  readonly gatewayUrl: string | undefined;
  readonly apiUrls: readonly string[];
  readonly apiToken: string;
  readonly masterName: string;
  readonly sentinels: readonly { host: string; port: number }[];
  readonly redisNodes: readonly { name: string; host: string; port: number }[];
  readonly logDir: string;

  private readonly started = new Map<string, ManagedProcess>();
  private readonly admin: RedisCredentials;
  private readonly readyTimeoutMs: number;
  private readonly unregisterCleanup: () => void;
  private stopping: Promise<void> | undefined;
  private readonly stopped = new AbortController();

  constructor(
    readonly spec: StackSpec,
    readonly secrets: StackSecrets,
    private readonly props: LoopbackTopologyProps,
    readonly workDir: string,
    private readonly ownsWorkDir: boolean,
  ) {
    const withGateway = props.gateway ?? true;
    const gateway = spec.gateway.instance;
    this.gatewayUrl = withGateway ? `http://${gateway.host}:${gateway.port}` : undefined;
    this.apiUrls = spec.api.instanceList.map((i) => `http://${i.host}:${i.port}`);
    const token = secrets.apiTokens[0];
    if (token === undefined) throw new Error('secrets.apiTokens is empty');
    this.apiToken = token;
    this.masterName = spec.redis.masterName;
    this.sentinels = spec.sentinel.instances.map(({ host, port }) => ({ host, port }));
    this.redisNodes = spec.redis.nodes.map(({ name, host, port }) => ({ name, host, port }));
    this.logDir = join(workDir, 'logs');
    this.admin = { username: 'admin', password: secrets.redisPasswords.admin };
    this.readyTimeoutMs = props.readyTimeoutMs ?? 30_000;
    // Ctrl-C in `npm run dev`, or the end of a test file, stops the topology in order.
    this.unregisterCleanup = registerCleanup(() => this.stop());
  }

  // ----- start ------------------------------------------------------------------------------------

  /**
   * Every process of the topology is started here: it is known to the topology from the moment it is
   * spawned, so that stop() also stops one that is still starting, and nothing starts once stop() began.
   */
  private launch(props: StartProcessProps): Promise<ManagedProcess> {
    if (this.stopping) return Promise.reject(new Error(`the topology is stopping: not starting ${props.name}`));
    return startProcess({
      ...props,
      onSpawn: (spawned) => {
        this.started.set(props.name, spawned);
        if (this.stopping) void spawned.stop('SIGTERM', 10_000);
      },
    });
  }

  async start(): Promise<void> {
    const mainJs = join(repositoryRoot(), 'build/api/src/main.js');
    if (!existsSync(mainJs)) throw new Error(`${mainJs} is missing: run \`npm run build\` first`);
    mkdirSync(this.logDir, { recursive: true });

    const [master, ...replicas] = this.spec.redis.nodes;
    if (!master) throw new Error('the stack has no Redis node');
    await this.startRedis(master.port);
    await Promise.all(replicas.map((r) => this.startRedis(r.port)));
    await this.waitForReplication();
    await Promise.all(this.spec.sentinel.instances.map((_, i) => this.startSentinel(i)));
    // Each Sentinel already names the master; while they discover each other (hello messages every
    // 2 s), the API instances boot (Node takes seconds on a loaded machine) — both must be done
    // before nginx starts.
    await Promise.all([this.waitForSentinelAgreement(), ...this.apiUrls.map((_, i) => this.startApi(i))]);
    if (this.gatewayUrl) await this.startGateway();
  }

  private log(name: string): string {
    return join(this.logDir, `${name}.log`);
  }

  /** Writes a rendered file, readable by its owner only (it holds ACL passwords). */
  private writeConfig(path: string, content: string): void {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content, { mode: 0o600 });
  }

  private redisNode(port: number): StackSpec['redis']['nodes'][number] {
    const node = this.spec.redis.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no Redis node on port ${port} (nodes: ${this.redisNodes.map((n) => n.port).join(', ')})`);
    return node;
  }

  private async startRedis(port: number): Promise<void> {
    const node = this.redisNode(port);
    const endpoint: RedisEndpoint = node;
    const conf = join(node.dataDir, 'redis.conf');
    this.writeConfig(conf, renderRedisConf(this.spec, this.secrets, node));
    const isReplica = node.initialRole === 'replica';
    await this.launch({
      name: node.name,
      command: findProgram('redis-server'),
      args: [conf],
      cwd: node.dataDir,
      logFile: this.log(node.name),
      readyTimeoutMs: this.readyTimeoutMs,
      ready: async () => {
        if (!isReplica) return (await redisCall(endpoint, this.admin, 'PING')) === 'PONG';
        return (await redisInfo(endpoint, this.admin, 'replication')).master_link_status === 'up';
      },
    });
  }

  private async waitForReplication(): Promise<void> {
    const master = this.spec.redis.initialMaster;
    const expected = this.spec.redis.nodes.length - 1;
    await waitFor(
      async () => {
        const info = await redisInfo(master, this.admin, 'replication');
        const online = Object.entries(info).filter(([k, v]) => /^slave\d+$/.test(k) && v.includes('state=online'));
        return info.role === 'master' && online.length === expected;
      },
      {
        what: `the master to see ${expected} replicas online`,
        timeoutMs: this.readyTimeoutMs,
        intervalMs: 100,
        signal: this.stopped.signal,
      },
    );
  }

  private async startSentinel(i: number): Promise<void> {
    const sentinel = this.spec.sentinel.instances[i];
    if (!sentinel) throw new RangeError(`no Sentinel ${i}`);
    // Sentinel rewrites its config file (known replicas, sentinels, epochs): it lives in its own dir.
    const conf = sentinelConfPath(sentinel);
    this.writeConfig(conf, renderSentinelConf(this.spec, this.secrets, sentinel));
    await this.launch({
      name: sentinel.name,
      command: findProgram('redis-sentinel'),
      args: [conf],
      cwd: sentinel.dataDir,
      logFile: this.log(sentinel.name),
      readyTimeoutMs: this.readyTimeoutMs,
      ready: async () => {
        const addr = await redisCall(sentinel, this.admin, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName);
        return Array.isArray(addr) && addr.length === 2;
      },
    });
  }

  /** Every Sentinel names the same master, sees it up, and knows every replica and every other Sentinel. */
  private async waitForSentinelAgreement(): Promise<void> {
    const master = this.spec.redis.initialMaster;
    const replicas = this.spec.redis.nodes.length - 1;
    const others = this.spec.sentinel.instances.length - 1;
    await Promise.all(
      this.spec.sentinel.instances.map((sentinel) =>
        waitFor(
          async () => {
            const state = pairsToRecord(await redisCall(sentinel, this.admin, 'SENTINEL', 'MASTER', this.masterName));
            return (
              state.ip === master.host &&
              state.port === String(master.port) &&
              state.flags === 'master' &&
              Number(state['num-slaves']) === replicas &&
              Number(state['num-other-sentinels']) === others
            );
          },
          {
            what: `${sentinel.name} to see master ${master.hostPort} with ${replicas} replicas and ${others} other sentinels`,
            timeoutMs: this.readyTimeoutMs,
            intervalMs: 200,
            signal: this.stopped.signal,
          },
        ),
      ),
    );
  }

  async startApi(i: number): Promise<void> {
    const instance = this.spec.api.instanceList[i];
    if (!instance) throw new RangeError(`no API instance ${i} (the topology has ${this.apiUrls.length})`);
    const previous = this.started.get(instance.name);
    if (previous?.running) throw new Error(`${instance.name} is already running (pid ${previous.pid})`);
    const url = `http://${instance.host}:${instance.port}`;
    await this.launch({
      name: instance.name,
      command: globalThis.process.execPath, // the Node 22 running us, whatever `node` is on PATH
      args: [join(repositoryRoot(), 'build/api/src/main.js')],
      cwd: repositoryRoot(),
      // Only what the API contract defines, so that a developer's shell (REDIS_*, API_*) cannot leak in.
      inheritEnv: false,
      env: {
        PATH: globalThis.process.env.PATH,
        ...renderApiEnvironment(this.spec, this.secrets, i),
        ...this.props.apiEnv,
      },
      logFile: this.log(instance.name),
      readyTimeoutMs: this.readyTimeoutMs,
      ready: async () => (await httpGet(`${url}/readyz`)).status === 200,
    });
  }

  async stopApi(i: number): Promise<void> {
    const instance = this.spec.api.instanceList[i];
    if (!instance) throw new RangeError(`no API instance ${i} (the topology has ${this.apiUrls.length})`);
    await this.started.get(instance.name)?.stop('SIGTERM', 15_000);
  }

  private async startGateway(): Promise<void> {
    const gateway = this.spec.gateway;
    mkdirSync(gateway.tempDir, { recursive: true });
    // Workers run as `nobody` when nginx starts as root; they write request bodies here.
    chmodSync(gateway.runDir, 0o755);
    chmodSync(gateway.tempDir, 0o777);
    const conf = join(gateway.runDir, 'nginx.conf');
    this.writeConfig(conf, renderNginxConf(this.spec));
    const url = this.gatewayUrl as string;
    await this.launch({
      name: 'gateway',
      command: findProgram('nginx'),
      // In the foreground (the rendered file leaves `daemon` to the runner, as the official image does);
      // -e: errors before the config is read go to stderr, not to /var/log/nginx.
      args: ['-p', gateway.runDir, '-c', conf, '-e', 'stderr', '-g', 'daemon off;'],
      cwd: gateway.runDir,
      logFile: this.log('gateway'),
      readyTimeoutMs: this.readyTimeoutMs,
      ready: async () =>
        (await httpGet(`${url}/v1/products?limit=1`, { authorization: `Bearer ${this.apiToken}` })).status === 200,
    });
  }

  // ----- inspection -------------------------------------------------------------------------------

  async currentMaster(): Promise<{ host: string; port: number }> {
    const answers = await Promise.allSettled(
      this.sentinels.map((s) => redisCall(s, this.admin, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName)),
    );
    const votes = new Map<string, number>();
    for (const answer of answers) {
      if (answer.status === 'fulfilled' && Array.isArray(answer.value) && answer.value.length === 2) {
        const key = `${String(answer.value[0])}:${String(answer.value[1])}`;
        votes.set(key, (votes.get(key) ?? 0) + 1);
      }
    }
    const best = [...votes.entries()].sort((a, b) => b[1] - a[1])[0];
    if (!best) throw new Error(`no Sentinel of ${this.sentinels.map((s) => s.port).join(', ')} named a master`);
    const [host = '', port = ''] = best[0].split(':');
    return { host, port: Number(port) };
  }

  redisProcess(port: number): ManagedProcess {
    const node = this.redisNode(port);
    const process = this.started.get(node.name);
    if (!process) throw new Error(`${node.name} was never started`);
    return process;
  }

  async restartRedis(port: number): Promise<void> {
    const node = this.redisNode(port);
    const process = this.started.get(node.name);
    if (process?.running) throw new Error(`${node.name} is still running (pid ${process.pid})`);
    // Its config file is the one it was started with; Sentinel turns a returning old master into a replica.
    const conf = join(node.dataDir, 'redis.conf');
    await this.launch({
      name: node.name,
      command: findProgram('redis-server'),
      args: [conf],
      cwd: node.dataDir,
      logFile: this.log(node.name),
      readyTimeoutMs: this.readyTimeoutMs,
      ready: async () => (await redisCall(node, this.admin, 'PING')) === 'PONG',
    });
  }

  processes(): ReadonlyMap<string, ManagedProcess> {
    return new Map(this.started);
  }

  // ----- stop -------------------------------------------------------------------------------------

  stop(): Promise<void> {
    // Ends the waits of a start that is still under way.
    this.stopped.abort(new Error('the topology was stopped while it was starting'));
    this.stopping ??= this.stopInOrder();
    return this.stopping;
  }

  private async stopInOrder(): Promise<void> {
    this.unregisterCleanup();
    const byService = (prefix: string): ManagedProcess[] =>
      [...this.started.entries()].filter(([name]) => name.startsWith(prefix)).map(([, p]) => p);
    // Clients before servers; Sentinels before Redis, so that stopping the master starts no failover.
    for (const group of [byService('gateway'), byService('api-'), byService('sentinel-'), byService('redis-')]) {
      await Promise.all(group.map((p) => p.stop('SIGTERM', 10_000)));
    }
    // Anything spawned meanwhile by a start that was under way.
    await Promise.all([...this.started.values()].map((p) => p.stop('SIGTERM', 10_000)));
    if (this.ownsWorkDir && !keepWorkDir()) {
      rmSync(this.workDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
      forgetTemporaryDir(this.workDir);
    }
  }
}
