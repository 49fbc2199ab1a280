/**
 * The deployed stack the end-to-end scenarios share: the Pulumi program recorded under mocks with
 * the e2e stack settings (stand-in images, a free loopback port, a subnet nobody uses, short scrape
 * and Sentinel timings), applied to the local Docker engine, plus the handles the scenarios need
 * (HTTP through nginx, Redis and Sentinel as the admin user, container addresses).
 *
 * Deploying takes a minute or two, so the suite deploys once (tests/e2e/stack.test.ts) and runs its
 * scenarios in order against it.
 *
 * Traffic goes only to 127.0.0.1 (nginx's published port) and to the containers on the stack's own
 * network (their fixed addresses).
 */
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { DEFAULT_SETTINGS } from '../../../config';
import {
  CONTAINER_TYPE,
  recordProgram,
  type RecordedProgram,
  type RecordedResource,
} from '../../support/pulumi-harness';
import { freePort } from '../../support/processes';
import { redisCall, type RedisCredentials, type RedisEndpoint } from '../../support/redis-probe';
import { waitFor } from '../../support/wait';
import { applyProgram, destroyRun, RUN_LABEL, type AppliedStack } from './apply';
import { connectEngine } from './engine';
import { ensureStandInImages, type StandInImages } from './images';

/** Stack name of the e2e deployment: prefix of every container and volume it creates. */
export const E2E_STACK_NAME = 'evergreen-e2e';

/** Sentinel's down-after in the e2e stack: the model's documented test value (the default is 5000). */
export const E2E_SENTINEL_DOWN_AFTER_MS = 2000;

/**
 * Sentinel's failover timeout in the e2e stack. Re-creating every Redis node at once (scenario 5a)
 * makes the Sentinels try a failover: it aborts when no replica is back yet (they then wait twice this
 * long before they would fail over again, which at the default, 30 s, holds the stack without failover
 * for a minute afterwards), and promotes a replica that came back before the master (a former master
 * that started as master meanwhile is made a replica only this long after).
 */
export const E2E_SENTINEL_FAILOVER_TIMEOUT_MS = 5000;

/** Scrape and rule evaluation interval in the e2e stack, so that alerts and rates move within seconds. */
export const E2E_SCRAPE_INTERVAL = '2s';

export interface HttpResult {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers;
}

export interface E2EStack {
  readonly docker: Docker;
  readonly applied: AppliedStack;
  readonly program: RecordedProgram;
  readonly images: StandInImages;
  /** http://127.0.0.1:<published port> of nginx. */
  readonly publicUrl: string;
  readonly apiToken: string;
  readonly admin: RedisCredentials;
  readonly masterName: string;
  /** Container name of an instance (`api-0`, `redis-1`, `sentinel-2`, `prometheus`…). */
  containerName(instance: string): string;
  /** Fixed address of an instance on the stack network. */
  address(instance: string): string;
  /** The recorded container resource of an instance. */
  resource(instance: string): RecordedResource;
  /** Numbered instances of a kind: `redis-` gives redis-0, redis-1… (not redis-exporter-0). */
  instances(prefix: string): string[];
  /** A request through nginx with the API token. Never throws on an HTTP status; throws on no answer. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>, timeoutMs?: number): Promise<HttpResult>;
  /** The Redis endpoint (address, port) of a Redis or Sentinel instance. */
  redisEndpoint(instance: string): RedisEndpoint;
  /** The instance name of the current master, as the Sentinels report it (a majority agreeing). */
  currentMaster(): Promise<string>;
  /** Removes everything this run created. */
  destroy(): Promise<void>;
}

/** A CIDR as [first address as integer, size]. */
function cidrRange(cidr: string): [number, number] {
  const [ip, bits] = cidr.split('/');
  const octets = (ip ?? '').split('.').map(Number);
  const base = octets.reduce((acc, octet) => acc * 256 + octet, 0);
  const size = 2 ** (32 - Number(bits));
  return [base - (base % size), size];
}

/** A /24 in 172.31.0.0/16 that no network on this engine overlaps (the stack's own network). */
async function freeSubnet(docker: Docker): Promise<string> {
  const used = (await docker.listNetworks())
    .flatMap((n) => n.IPAM?.Config ?? [])
    .map((c) => c.Subnet)
    .filter((s): s is string => typeof s === 'string' && s.includes('.'))
    .map(cidrRange);
  for (let third = 240; third >= 200; third -= 1) {
    const candidate = `172.31.${third}.0/24`;
    const [start, size] = cidrRange(candidate);
    if (!used.some(([s, n]) => start < s + n && s < start + size)) return candidate;
  }
  throw new Error('no free /24 in 172.31.200.0–172.31.240.0 for the e2e network');
}

/** A password the stack config accepts (letters and digits only, as the generated ones). */
function password(): string {
  return randomBytes(24).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 24).padEnd(24, 'x');
}

export interface DeployOptions {
  readonly log?: (line: string) => void;
}

/** Removes what earlier e2e runs left behind (a crashed run), recognised by the run label. */
export async function removeStaleRuns(docker: Docker): Promise<void> {
  const filters = JSON.stringify({ label: [RUN_LABEL] });
  const runs = new Set<string>();
  for (const c of await docker.listContainers({ all: true, filters })) runs.add(c.Labels[RUN_LABEL] ?? '');
  for (const n of await docker.listNetworks({ filters })) runs.add(n.Labels?.[RUN_LABEL] ?? '');
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) runs.add(v.Labels?.[RUN_LABEL] ?? '');
  for (const run of runs) if (run) await destroyRun(docker, run);
}

/** Records the program with the e2e settings and applies it; resolves once every container is healthy. */
export async function deployStack(options: DeployOptions = {}): Promise<E2EStack> {
  const log = options.log ?? (() => undefined);
  const docker = await connectEngine();
  await removeStaleRuns(docker);
  const images = await ensureStandInImages(docker, log);
  const publicPort = await freePort();
  const subnet = await freeSubnet(docker);
  const apiToken = password();
  const admin: RedisCredentials = { username: 'admin', password: password() };
  const config: Record<string, string> = {
    name: E2E_STACK_NAME,
    subnet,
    imageNginx: images.nginx,
    imageApi: 'evergreen-e2e/api',
    imageRedis: images.redis,
    imagePrometheus: images.prometheus,
    imageAlertmanager: images.alertmanager,
    imageRedisExporter: images.redisExporter,
    imageNginxExporter: images.nginxExporter,
    publicPort: String(publicPort),
    publicBindAddress: '127.0.0.1',
    sentinelDownAfterMs: String(E2E_SENTINEL_DOWN_AFTER_MS),
    sentinelFailoverTimeoutMs: String(E2E_SENTINEL_FAILOVER_TIMEOUT_MS),
    scrapeInterval: E2E_SCRAPE_INTERVAL,
    evaluationInterval: E2E_SCRAPE_INTERVAL,
    apiLogLevel: 'warn',
    apiTokens: apiToken,
    redisAdminPassword: admin.password,
  };
  const program = await recordProgram(config, { secretKeys: ['apiTokens', 'redisAdminPassword'] });
  const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  log(`applying ${program.resources.filter((r) => r.custom).length} resources (run ${runId}, subnet ${subnet})`);
  const applied = await applyProgram(docker, program, {
    runId,
    // The API image's base: the stand-in Node 22 image instead of the official one (no registry here).
    buildArgOverrides: { NODE_IMAGE: images.node },
    publishOn: '127.0.0.1',
    // Grafana has no Debian package, hence no stand-in: its container and image are left out; its
    // dashboards are checked against the live Prometheus instead.
    omit: (resource) => /grafana/i.test(resource.name),
    log,
  });

  const outputs = program.outputs as { containers?: Record<string, string>; redisMasterName?: string };
  const containerNames = outputs.containers ?? {};
  const containerName = (instance: string): string => {
    const name = containerNames[instance];
    if (!name) throw new Error(`no instance ${instance} in the stack (have ${Object.keys(containerNames).join(', ')})`);
    return name;
  };
  const resource = (instance: string): RecordedResource => {
    const name = containerName(instance);
    const found = program.resources.find((r) => r.type === CONTAINER_TYPE && r.inputs.name === name);
    if (!found) throw new Error(`no container resource named ${name}`);
    return found;
  };
  const address = (instance: string): string => {
    const found = applied.containers.get(containerName(instance))?.address;
    if (!found) throw new Error(`instance ${instance} has no fixed address`);
    return found;
  };
  // The e2e config leaves the Redis and Sentinel ports at the model's defaults.
  const portOf = (instance: string): number =>
    instance.startsWith('sentinel-') ? DEFAULT_SETTINGS.sentinel.port : DEFAULT_SETTINGS.redis.port;
  const masterName = outputs.redisMasterName ?? 'evergreen';
  const publicUrl = `http://127.0.0.1:${publicPort}`;

  const stack: E2EStack = {
    docker,
    applied,
    program,
    images,
    publicUrl,
    apiToken,
    admin,
    masterName,
    containerName,
    address,
    resource,
    instances: (prefix) =>
      Object.keys(containerNames)
        .filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
        .sort(),
    api: async (method, path, body, headers = {}, timeoutMs = 20_000) => {
      const response = await fetch(`${publicUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${apiToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body: parsed, headers: response.headers };
    },
    redisEndpoint: (instance) => ({ host: address(instance), port: portOf(instance) }),
    currentMaster: async () => {
      const sentinels = stack.instances('sentinel-');
      const answers = await Promise.all(
        sentinels.map((s) =>
          redisCall(stack.redisEndpoint(s), admin, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName).catch(() => undefined),
        ),
      );
      const votes = new Map<string, number>();
      for (const answer of answers) {
        if (Array.isArray(answer)) votes.set(String(answer[0]), (votes.get(String(answer[0])) ?? 0) + 1);
      }
      const [ip, count] = [...votes.entries()].sort((a, b) => b[1] - a[1])[0] ?? ['', 0];
      if (count <= sentinels.length / 2) throw new Error(`no majority of Sentinels agrees on a master (${JSON.stringify([...votes])})`);
      const instance = stack.instances('redis-').find((name) => address(name) === ip);
      if (!instance) throw new Error(`the Sentinels name ${ip} as master, which is no Redis instance of the stack`);
      return instance;
    },
    destroy: () => applied.destroy(),
  };

  await waitFor(async () => (await stack.api('GET', '/v1/products?limit=1')).status === 200, {
    timeoutMs: 60_000,
    intervalMs: 500,
    what: `the store to answer through nginx at ${publicUrl}`,
  });
  return stack;
}
