/**
 * Validation of stack settings: a zod schema for the shape and range of each setting, then the
 * checks that need the whole topology (counts, quorum, addresses, port clashes). Every problem gets
 * one message naming the setting; {@link defineStack} throws them all at once, before anything is
 * rendered or deployed.
 */
import { z } from 'zod';
import {
  applyDefaults,
  deriveSpec,
  instanceNames,
  isHostInSubnet,
  parseCidr,
  portKeys,
  STACK_TARGETS,
  type StackOverrides,
  type StackSettings,
  type StackSpec,
  type StackTarget,
} from './model';

/** Thrown by {@link defineStack}: `problems` holds one message per problem, `message` lists them all. */
export class StackValidationError extends Error {
  override readonly name = 'StackValidationError';
  constructor(readonly problems: readonly string[]) {
    super(
      `invalid stack settings (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
  }
}

// --- field schemas ------------------------------------------------------------------------------

const port = z.int({ error: 'must be an integer port' }).min(1, { error: 'must be a port in 1–65535' }).max(65535, {
  error: 'must be a port in 1–65535',
});
const count = (min: number, what: string) =>
  z.int({ error: `must be an integer` }).min(min, { error: `${what}` }).max(64, { error: 'must be at most 64' });
/** Safe in a config file line: no whitespace, quotes, braces, semicolons or backslashes. */
const word = z
  .string()
  .regex(/^[^\s"'`{};\\#]+$/, { error: 'must be one word without spaces, quotes, braces, ; or #' });
const dnsName = z
  .string()
  .regex(/^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$/, { error: 'must be a lower-case DNS label (a–z, 0–9, -), at most 40 characters' });
const filePath = z
  .string()
  .min(1)
  .regex(/^[^\n\r"'\\;{}#]+$/, { error: 'must be a path without quotes, newlines, backslashes, braces, ; or #' });
const nginxDuration = z.string().regex(/^\d+(ms|s|m|h)?$/, { error: "must be an nginx time such as '500ms', '2s' or '1m'" });
const nginxSize = z.string().regex(/^\d+[kKmMgG]?$/, { error: "must be an nginx size such as '64k' or '1m'" });
/** Bytes of an nginx size already shape-checked ('64k', '1m'; a bare number is bytes). */
export function nginxSizeBytes(value: string): number {
  const m = /^(\d+)([kKmMgG])?$/.exec(value);
  if (!m) throw new Error(`not an nginx size: ${value}`);
  return Number(m[1]) * ({ k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase()] ?? 1);
}
/**
 * nginx refuses a shared memory zone under 8 pages ("zone is too small"): 32 KiB with 4 KiB pages, and
 * some arm64 kernels use 64 KiB pages.
 */
const MIN_ZONE_BYTES = 8 * 64 * 1024;
/** Prometheus' own duration syntax: whole numbers, each unit at most once, from years down to milliseconds. */
const promDuration = z
  .string()
  .regex(/^(?=\d)(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$/, {
    error: "must be a Prometheus duration such as '15s', '1m30s' or '15d' (units from y to ms, in that order)",
  })
  .refine((d) => /[1-9]/.test(d), { error: 'must be longer than 0' });
const ipv4 = z.ipv4({ error: 'must be an IPv4 address' });

const settingsSchema = z.strictObject({
  name: dnsName,
  images: z.strictObject({
    nginx: word,
    nginxUnprivileged: word,
    api: word,
    redis: word,
    prometheus: word,
    alertmanager: word,
    grafana: word,
    redisExporter: word,
    nginxExporter: word,
  }),
  network: z.strictObject({
    name: dnsName.optional(),
    subnet: z
      .cidrv4({ error: "must be an IPv4 subnet such as '172.20.0.0/24'", abort: true })
      .refine((c) => parseCidr(c).prefix >= 8 && parseCidr(c).prefix <= 29, {
        error: 'prefix length must be between /8 and /29',
      }),
    addresses: z.record(z.string(), ipv4),
  }),
  ports: z.record(z.string(), port),
  gateway: z.strictObject({
    port,
    publishedPort: port,
    statusPort: port,
    workerProcesses: z.union([z.literal('auto'), z.int().min(1).max(256)], { error: "must be 'auto' or 1–256" }),
    workerConnections: z.int().min(16).max(65536),
    upstreamKeepalive: z.int().min(0).max(1024),
    balancing: z.enum(['least-conn', 'round-robin'], { error: "must be 'least-conn' or 'round-robin'" }),
    connectTimeout: nginxDuration,
    readTimeout: nginxDuration,
    sendTimeout: nginxDuration,
    retries: z.int().min(1, { error: 'must be at least 1 (1 = no retry)' }).max(16),
    retryTimeout: nginxDuration,
    clientMaxBodySize: nginxSize,
    rateLimit: z.strictObject({
      rate: z.string().regex(/^[1-9]\d*r\/[sm]$/, { error: "must be a rate such as '200r/s' or '600r/m'" }),
      burst: z.int().min(0).max(1_000_000),
      zoneSize: nginxSize.refine((v) => nginxSizeBytes(v) >= MIN_ZONE_BYTES, {
        error: 'must be at least 512k: nginx refuses a zone under 8 memory pages (64k pages on some machines)',
      }),
    }),
    clientKeepaliveTimeout: nginxDuration,
    trustedProxies: z
      .array(z.union([z.cidrv4(), z.cidrv6(), z.ipv4(), z.ipv6()], { error: "must be an IP address or CIDR range such as '10.0.0.0/8'" }))
      .max(64),
    runDir: filePath,
  }),
  api: z.strictObject({
    instances: count(1, 'at least 1 API instance is needed'),
    port,
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']),
  }),
  redis: z.strictObject({
    replicas: count(0, 'must be 0 or more'),
    port,
    masterName: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'must be 1–64 characters of A–Z a–z 0–9 . _ -' }),
    savePoints: z.array(
      z.tuple([z.int().min(1, { error: 'seconds must be ≥ 1' }), z.int().min(1, { error: 'changes must be ≥ 1' })], {
        error: 'each save point must be a [seconds, changes] pair of integers',
      }),
    ),
    appendfsync: z.enum(['always', 'everysec', 'no']),
    maxmemory: z
      .string()
      .regex(/^\d+(b|k|kb|m|mb|g|gb)?$/i, { error: "must be a Redis memory size such as '256mb', '1gb' or '0'" }),
    maxmemoryPolicy: z.enum([
      'noeviction',
      'allkeys-lru',
      'allkeys-lfu',
      'allkeys-random',
      'volatile-lru',
      'volatile-lfu',
      'volatile-random',
      'volatile-ttl',
    ]),
    minReplicasToWrite: z.int().min(0).max(64),
    minReplicasMaxLagSeconds: z.int().min(1).max(3600),
    dataDir: filePath,
  }),
  sentinel: z.strictObject({
    count: count(1, 'must be at least 1'),
    quorum: z.int().min(1, { error: 'must be at least 1' }),
    port,
    downAfterMs: z
      .int()
      .min(1000, {
        error: 'must be at least 1000 ms: shorter timeouts have caused false failovers under load (5000 is the default)',
      })
      .max(600_000),
    failoverTimeoutMs: z.int().min(1000).max(3_600_000),
    parallelSyncs: z.int().min(1).max(64),
    dataDir: filePath,
  }),
  monitoring: z.strictObject({
    scrapeInterval: promDuration,
    evaluationInterval: promDuration,
    retentionTime: promDuration,
    retentionSize: z.string().regex(/^(0|\d+(B|KB|MB|GB|TB|PB|EB))$/, { error: "must be '0' or a size such as '10GB'" }),
    prometheusPort: port,
    alertmanagerPort: port,
    grafanaPort: port,
    redisExporterPort: port,
    nginxExporterPort: port,
    alertWebhookUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    grafanaAdminUser: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'must be 1–64 characters of A–Z a–z 0–9 . _ -' }),
    publishPrometheus: z.boolean(),
    publishGrafana: z.boolean(),
  }),
  kubernetes: z.strictObject({ namespace: dnsName, clusterDomain: z.string().regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/) }),
  loopback: z.strictObject({ workDir: filePath }),
});

// Keep the schema and the documented interfaces in step: this fails to compile if they drift apart.
type SchemaSettings = z.infer<typeof settingsSchema>;
const _schemaMatchesModel: (s: SchemaSettings) => StackSettings = (s) => s;
void _schemaMatchesModel;

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** One message per zod issue: `<setting path>: <what is wrong> (got <value>)`. */
function zodProblems(error: z.ZodError, input: unknown): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => `${where ? `${where}.` : ''}${k}: unknown setting`).join('; ');
    }
    const got = valueAt(input, issue.path);
    return `${where || '(settings)'}: ${issue.message} (got ${describe(got)})`;
  });
}

/** A copy of `settings` with the values at `paths` back at their defaults (unknown keys dropped). */
function resetPaths(settings: StackSettings, paths: readonly (readonly PropertyKey[])[]): unknown {
  const copy = structuredClone(settings) as unknown as Record<PropertyKey, unknown>;
  const defaults = applyDefaults() as unknown as Record<PropertyKey, unknown>;
  for (const path of paths) {
    if (path.length === 0) continue;
    let target: Record<PropertyKey, unknown> | undefined = copy;
    let source: unknown = defaults;
    for (const key of path.slice(0, -1)) {
      target = target?.[key] as Record<PropertyKey, unknown> | undefined;
      source = (source as Record<PropertyKey, unknown> | undefined)?.[key];
    }
    const last = path[path.length - 1] as PropertyKey;
    if (target && typeof target === 'object') {
      const fallback = (source as Record<PropertyKey, unknown> | undefined)?.[last];
      if (fallback === undefined) delete target[last];
      else target[last] = structuredClone(fallback);
    }
  }
  // Unknown keys at any level are reported by zod as their parent's issue: strip them.
  const strip = (value: unknown, shape: unknown): unknown => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
    if (shape === null || typeof shape !== 'object' || Array.isArray(shape)) return value;
    const keys = Object.keys(shape);
    const isRecord = keys.length === 0; // addresses / ports: free keys
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => isRecord || keys.includes(k))
        .map(([k, v]) => [k, strip(v, (shape as Record<string, unknown>)[k])]),
    );
  };
  return strip(copy, defaults);
}

/** Bytes in a Redis memory size ('256mb', '1gb', '0'). Redis' k/m/g are powers of 1000, kb/mb/gb of 1024. */
export function redisBytes(size: string): number {
  const match = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i.exec(size);
  if (!match) return 0;
  const unit = (match[2] ?? 'b').toLowerCase();
  const factor: Record<string, number> = { b: 1, k: 1e3, kb: 1024, m: 1e6, mb: 2 ** 20, g: 1e9, gb: 2 ** 30 };
  return Number(match[1]) * (factor[unit] ?? 1);
}

/**
 * Room Redis needs beyond `maxmemory`: a snapshot's or a full resync's fork may copy every page the writes touch
 * meanwhile (up to the data set again), besides replication and client buffers. A memory limit below this many
 * times maxmemory lets the kernel kill Redis before Redis refuses writes (noeviction → 503).
 */
export const REDIS_MEMORY_HEADROOM = 2;

/** Milliseconds of an nginx time already shape-checked ('500ms', '2s', '1m', '1h'; a bare number is seconds). */
export function nginxTimeMs(value: string): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(value);
  if (!m) throw new Error(`not an nginx time: ${value}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] as number;
  return Number(m[1]) * unit;
}

/** Checks that need the whole topology. Settings are already shape-checked. */
function topologyProblems(s: StackSettings, spec: StackSpec): string[] {
  const problems: string[] = [];
  const retryMs = nginxTimeMs(s.gateway.retryTimeout);
  if (s.gateway.retries > 1 && retryMs !== 0 && retryMs <= nginxTimeMs(s.gateway.readTimeout))
    problems.push(
      `gateway.retryTimeout: ${s.gateway.retryTimeout} is not above gateway.readTimeout (${s.gateway.readTimeout}): nginx tries another ` +
        'instance only within retryTimeout of the request\'s start, so an instance that stops answering would never be retried; ' +
        'make it longer than readTimeout (0: no limit)',
    );
  const { count, quorum } = s.sentinel;
  if (count < 3) problems.push(`sentinel.count: ${count} Sentinel(s) cannot survive the loss of one; use 3 or more (an odd number)`);
  else if (count % 2 === 0)
    problems.push(`sentinel.count: ${count} is even; use an odd number (${count - 1} or ${count + 1}) so that a majority survives a split`);
  if (quorum > count) problems.push(`sentinel.quorum: ${quorum} is above sentinel.count (${count}); a failover could never start`);
  if (s.sentinel.failoverTimeoutMs <= s.sentinel.downAfterMs)
    problems.push(
      `sentinel.failoverTimeoutMs: ${s.sentinel.failoverTimeoutMs} must be greater than sentinel.downAfterMs (${s.sentinel.downAfterMs})`,
    );
  if (s.redis.minReplicasToWrite > s.redis.replicas)
    problems.push(
      `redis.minReplicasToWrite: ${s.redis.minReplicasToWrite} is above redis.replicas (${s.redis.replicas}); the master would refuse every write`,
    );
  if (s.redis.replicas === 0)
    problems.push('redis.replicas: 0 replicas leaves Sentinel nothing to promote; use at least 1 (2 by default)');

  const names = new Set(instanceNames(s));
  for (const key of Object.keys(s.network.addresses))
    if (!names.has(key)) problems.push(`network.addresses.${key}: no instance has this name (instances: ${[...names].join(', ')})`);
  const keys = new Set(portKeys(s));
  for (const key of Object.keys(s.ports))
    if (!keys.has(key)) problems.push(`ports.${key}: no instance has this name (names: ${[...keys].join(', ')})`);

  if (spec.target === 'docker') {
    const seen = new Map<string, string>();
    const derivedOutside: string[] = [];
    for (const i of spec.instances) {
      const address = i.address as string;
      const explicit = s.network.addresses[i.name] !== undefined;
      const setting = explicit ? `network.addresses.${i.name}` : `${i.name} (derived)`;
      if (!isHostInSubnet(address, s.network.subnet)) {
        if (explicit)
          problems.push(`${setting}: address ${address} is outside the subnet ${s.network.subnet} (or is its network/broadcast address)`);
        else derivedOutside.push(`${i.name} (${address})`);
      }
      else if (address === spec.network.gatewayAddress)
        problems.push(`${setting}: address ${address} is the Docker network's gateway address`);
      const other = seen.get(address);
      if (other !== undefined) problems.push(`${setting}: address ${address} is used by both ${other} and ${i.name}`);
      else seen.set(address, i.name);
    }
    if (derivedOutside.length > 0)
      problems.push(
        `network.subnet: ${s.network.subnet} does not hold the derived addresses of ${derivedOutside.join(', ')}; ` +
          'use a larger subnet (/24 holds them all) or set network.addresses for them',
      );
    const published: [string, number][] = [['gateway.publishedPort', s.gateway.publishedPort]];
    if (s.monitoring.publishPrometheus) published.push(['monitoring.prometheusPort', s.monitoring.prometheusPort]);
    if (s.monitoring.publishGrafana) published.push(['monitoring.grafanaPort', s.monitoring.grafanaPort]);
    const hostPorts = new Map<number, string>();
    for (const [setting, p] of published) {
      const other = hostPorts.get(p);
      if (other !== undefined) problems.push(`${setting}: host port ${p} is also published by ${other}`);
      else hostPorts.set(p, setting);
    }
  }

  // Port clashes: two listeners on the same host and port. On Kubernetes the instances of one
  // service share their Service name (that is one listener, not a clash).
  // On Docker every container has its own address, so only one container's two listeners can clash
  // (an address clash is reported above, once).
  const endpoints = [
    ...spec.instances.map((i) => ({ name: i.name, owner: i.name, service: i.service as string, host: i.host, port: i.port })),
    {
      name: 'gateway-status',
      owner: spec.gateway.instance.name,
      service: 'gateway-status',
      host: spec.gateway.status.host,
      port: spec.gateway.status.port,
    },
  ];
  const listeners = new Map<string, { name: string; owner: string; service: string }>();
  for (const e of endpoints) {
    const key = `${e.host}:${e.port}`;
    const other = listeners.get(key);
    if (other === undefined) listeners.set(key, e);
    else if (spec.target === 'kubernetes' && other.service === e.service) continue;
    else if (spec.target === 'docker' && other.owner !== e.owner) continue;
    else problems.push(`ports: ${e.name} and ${other.name} both listen on ${key}; give one of them another port`);
  }
  return problems;
}

/**
 * Validate overrides and derive the whole stack for a target. Throws {@link StackValidationError}
 * listing every problem; returns a spec that every renderer and program can trust.
 */
export function defineStack(overrides: StackOverrides = {}, target: StackTarget = 'docker'): StackSpec {
  if (!STACK_TARGETS.includes(target))
    throw new StackValidationError([`target: must be one of ${STACK_TARGETS.join(', ')} (got ${describe(target)})`]);
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides))
    throw new StackValidationError([`(settings): must be an object (got ${describe(overrides)})`]);
  const merged = applyDefaults(overrides);
  const parsed = settingsSchema.safeParse(merged);
  if (!parsed.success) {
    // Report the topology problems too, judged with the malformed settings put back to their defaults,
    // so that one run names every problem.
    const problems = zodProblems(parsed.error, merged);
    const failed = parsed.error.issues.map((i) => i.path.map(String).join('.'));
    const repaired = resetPaths(merged, parsed.error.issues.map((i) => i.path));
    const reparsed = settingsSchema.safeParse(repaired);
    if (reparsed.success) {
      for (const p of topologyProblems(reparsed.data, deriveSpec(reparsed.data, target)))
        if (!failed.some((f) => f !== '' && (p.startsWith(`${f}:`) || p.includes(` ${f} `)))) problems.push(p);
    }
    throw new StackValidationError(problems);
  }
  const settings: StackSettings = parsed.data;
  const spec = deriveSpec(settings, target);
  const problems = topologyProblems(settings, spec);
  if (problems.length > 0) throw new StackValidationError(problems);
  return spec;
}

/** The problems of a set of overrides for a target, without throwing (empty when valid). */
export function stackProblems(overrides: StackOverrides, target: StackTarget = 'docker'): readonly string[] {
  try {
    defineStack(overrides, target);
    return [];
  } catch (error) {
    if (error instanceof StackValidationError) return error.problems;
    throw error;
  }
}
