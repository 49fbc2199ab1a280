/**
 * The stack settings of the Pulumi program: one flat Pulumi config key per setting, each declared in
 * Pulumi.yaml's `config:` block with its type, default and description (generated from SETTINGS below,
 * and checked against it by tests/unit/infra/settings.test.ts).
 *
 * Most keys map onto a setting of the stack model (config/model.ts, where each is documented in
 * depth); their defaults are the model's. The rest belong to the Docker deployment only (log
 * rotation, memory limits, the API image build) or are secrets.
 *
 * `readSettings` reads the config, applies the defaults itself (Pulumi.yaml defaults are applied by the
 * CLI only, not under the test mocks), and validates everything with the model's `defineStack`: bad
 * settings stop the program with the model's messages before any resource is created.
 */
import * as pulumi from '@pulumi/pulumi';

import {
  DEFAULT_SETTINGS,
  SECRET_PATTERN,
  defineStack,
  isWebhookUrl,
  REDIS_MEMORY_HEADROOM,
  redisBytes,
  StackValidationError,
  type StackOverrides,
  type StackSpec,
} from '../config';

export const PROJECT_NAME = 'evergreen-stores';

export type SettingType = 'string' | 'integer' | 'boolean' | 'array';

/** One Pulumi config key. */
export interface SettingDefinition {
  readonly key: string;
  readonly type: SettingType;
  readonly description: string;
  /** Path of the setting in the stack model (config/model.ts StackSettings); undefined: infra only. */
  readonly model?: readonly string[];
  /** Default of an infra-only setting (model settings take the model's default). */
  readonly default?: string | number | boolean | readonly string[];
  /** Set with `pulumi config set --secret`; generated (@pulumi/random) when unset. */
  readonly secret?: boolean;
}

const m = (...path: string[]): readonly string[] => path;

/** Every stack setting, in the order Pulumi.yaml lists them. */
export const SETTINGS: readonly SettingDefinition[] = [
  { key: 'name', type: 'string', model: m('name'), description: 'Stack name: prefix of every container, volume and label value; default network name.' },
  { key: 'networkName', type: 'string', model: m('network', 'name'), description: 'Name of the Docker network (default: the stack name).' },
  { key: 'subnet', type: 'string', model: m('network', 'subnet'), description: 'IPv4 subnet of the Docker network; every container has a fixed address in it (offsets in config/model.ts).' },
  { key: 'networkAddresses', type: 'array', model: m('network', 'addresses'), description: "Fixed addresses replacing derived ones, as 'instance=address' items, e.g. 'api-0=172.20.0.50'." },
  { key: 'imageNginx', type: 'string', model: m('images', 'nginx'), description: 'Gateway image (pin or mirror it here).' },
  { key: 'imageApi', type: 'string', model: m('images', 'api'), description: 'Repository of the API image; the program builds it from api/Dockerfile and tags it with a hash of api/.' },
  { key: 'imageRedis', type: 'string', model: m('images', 'redis'), description: 'Redis image, used for the Sentinels too.' },
  { key: 'imagePrometheus', type: 'string', model: m('images', 'prometheus'), description: 'Prometheus image.' },
  { key: 'imageAlertmanager', type: 'string', model: m('images', 'alertmanager'), description: 'Alertmanager image.' },
  { key: 'imageGrafana', type: 'string', model: m('images', 'grafana'), description: 'Grafana image.' },
  { key: 'imageRedisExporter', type: 'string', model: m('images', 'redisExporter'), description: 'redis_exporter image (one per Redis node and per Sentinel).' },
  { key: 'imageNginxExporter', type: 'string', model: m('images', 'nginxExporter'), description: 'nginx-prometheus-exporter image.' },
  { key: 'imageApiBase', type: 'string', default: 'node:22-bookworm-slim', description: "Base image of the API image build (api/Dockerfile's NODE_IMAGE): any image with node >= 22 and npm in /usr/local/bin." },
  { key: 'apiBuild', type: 'boolean', default: true, description: 'Build the API image from api/Dockerfile. false: use imageApi as a complete, already available image reference.' },
  { key: 'publicPort', type: 'integer', model: m('gateway', 'publishedPort'), description: 'Host port the gateway is published on (the public URL http://<host>:<publicPort>).' },
  { key: 'publicBindAddress', type: 'string', default: '0.0.0.0', description: "Host address the gateway is published on; '127.0.0.1' keeps the store local to the Docker host." },
  { key: 'gatewayPort', type: 'integer', model: m('gateway', 'port'), description: 'Port nginx listens on inside its container.' },
  { key: 'gatewayStatusPort', type: 'integer', model: m('gateway', 'statusPort'), description: "Port of nginx's stub_status listener, reachable by the nginx exporter only." },
  { key: 'gatewayWorkerProcesses', type: 'string', model: m('gateway', 'workerProcesses'), description: "nginx worker processes: 'auto' or a number." },
  { key: 'gatewayWorkerConnections', type: 'integer', model: m('gateway', 'workerConnections'), description: 'Connections per nginx worker.' },
  { key: 'gatewayUpstreamKeepalive', type: 'integer', model: m('gateway', 'upstreamKeepalive'), description: 'Idle keep-alive connections to the API instances each nginx worker keeps; more requests in flight than this open new connections (tail latency).' },
  { key: 'gatewayBalancing', type: 'string', model: m('gateway', 'balancing'), description: "How nginx spreads requests over the API instances: 'round-robin' or 'least-conn' (fewest in flight; see config/model.ts for the trade-off)." },
  { key: 'gatewayConnectTimeout', type: 'string', model: m('gateway', 'connectTimeout'), description: 'Time to connect to an API instance before trying the next.' },
  { key: 'gatewayReadTimeout', type: 'string', model: m('gateway', 'readTimeout'), description: 'Time between two reads of an API response.' },
  { key: 'gatewaySendTimeout', type: 'string', model: m('gateway', 'sendTimeout'), description: 'Time between two writes of a request to an API instance.' },
  { key: 'gatewayRetries', type: 'integer', model: m('gateway', 'retries'), description: 'Instances an idempotent request is tried on when one fails (POST is never retried).' },
  { key: 'gatewayRetryTimeout', type: 'string', model: m('gateway', 'retryTimeout'), description: "Time budget of those tries, from the request's start; longer than gatewayReadTimeout (0 = none)." },
  { key: 'gatewayClientMaxBodySize', type: 'string', model: m('gateway', 'clientMaxBodySize'), description: 'Largest request body (413 above it).' },
  { key: 'gatewayRateLimit', type: 'string', model: m('gateway', 'rateLimit', 'rate'), description: "Per-client-address rate limit, '<n>r/s' or '<n>r/m' (429 above it)." },
  { key: 'gatewayRateLimitBurst', type: 'integer', model: m('gateway', 'rateLimit', 'burst'), description: 'Requests above the rate still served before 429s start.' },
  { key: 'gatewayRateLimitZoneSize', type: 'string', model: m('gateway', 'rateLimit', 'zoneSize'), description: 'Shared memory for the rate limit counters.' },
  { key: 'gatewayTrustedProxies', type: 'array', model: m('gateway', 'trustedProxies'), description: "Addresses or CIDR ranges of proxies in front of nginx whose X-Forwarded-For it believes (the rate limit then sees each client), e.g. '10.0.0.0/8'." },
  { key: 'gatewayClientKeepaliveTimeout', type: 'string', model: m('gateway', 'clientKeepaliveTimeout'), description: 'Idle time of a client keep-alive connection.' },
  { key: 'apiInstances', type: 'integer', model: m('api', 'instances'), description: 'Number of API containers behind nginx.' },
  { key: 'apiPort', type: 'integer', model: m('api', 'port'), description: 'Port of each API instance.' },
  { key: 'apiLogLevel', type: 'string', model: m('api', 'logLevel'), description: 'LOG_LEVEL of the API instances (fatal, error, warn, info, debug, trace).' },
  { key: 'redisReplicas', type: 'integer', model: m('redis', 'replicas'), description: 'Replicas of the Redis master.' },
  { key: 'redisPort', type: 'integer', model: m('redis', 'port'), description: 'Redis port.' },
  { key: 'redisMasterName', type: 'string', model: m('redis', 'masterName'), description: 'Sentinel master group name.' },
  { key: 'redisSavePoints', type: 'string', model: m('redis', 'savePoints'), description: "RDB snapshot points as 'seconds:changes' pairs separated by spaces; '' disables snapshots." },
  { key: 'redisAppendfsync', type: 'string', model: m('redis', 'appendfsync'), description: 'AOF fsync policy: always, everysec or no.' },
  { key: 'redisMaxmemory', type: 'string', model: m('redis', 'maxmemory'), description: "Redis maxmemory, e.g. '256mb'; keep it below memoryRedisMb." },
  { key: 'redisMaxmemoryPolicy', type: 'string', model: m('redis', 'maxmemoryPolicy'), description: 'What Redis does at maxmemory (noeviction refuses writes).' },
  { key: 'redisMinReplicasToWrite', type: 'integer', model: m('redis', 'minReplicasToWrite'), description: 'The master refuses writes with fewer connected replicas than this.' },
  { key: 'redisMinReplicasMaxLagSeconds', type: 'integer', model: m('redis', 'minReplicasMaxLagSeconds'), description: 'Largest replica lag that still counts for redisMinReplicasToWrite.' },
  { key: 'sentinels', type: 'integer', model: m('sentinel', 'count'), description: 'Number of Sentinels (odd, at least 3).' },
  { key: 'sentinelQuorum', type: 'integer', model: m('sentinel', 'quorum'), description: 'Sentinels that must agree the master is down.' },
  { key: 'sentinelPort', type: 'integer', model: m('sentinel', 'port'), description: 'Sentinel port.' },
  { key: 'sentinelDownAfterMs', type: 'integer', model: m('sentinel', 'downAfterMs'), description: 'Milliseconds without a valid reply before the master is considered down (>= 1000).' },
  { key: 'sentinelFailoverTimeoutMs', type: 'integer', model: m('sentinel', 'failoverTimeoutMs'), description: 'Failover timeout in milliseconds.' },
  { key: 'sentinelParallelSyncs', type: 'integer', model: m('sentinel', 'parallelSyncs'), description: 'Replicas re-pointed at once after a failover.' },
  { key: 'scrapeInterval', type: 'string', model: m('monitoring', 'scrapeInterval'), description: 'Prometheus scrape interval.' },
  { key: 'evaluationInterval', type: 'string', model: m('monitoring', 'evaluationInterval'), description: 'Prometheus rule evaluation interval.' },
  { key: 'prometheusRetentionTime', type: 'string', model: m('monitoring', 'retentionTime'), description: 'How long Prometheus keeps samples.' },
  { key: 'prometheusRetentionSize', type: 'string', model: m('monitoring', 'retentionSize'), description: "Size cap of Prometheus' TSDB ('0': none)." },
  { key: 'prometheusPort', type: 'integer', model: m('monitoring', 'prometheusPort'), description: 'Prometheus port (also its published port on 127.0.0.1 when publishPrometheus).' },
  { key: 'alertmanagerPort', type: 'integer', model: m('monitoring', 'alertmanagerPort'), description: 'Alertmanager port.' },
  { key: 'grafanaPort', type: 'integer', model: m('monitoring', 'grafanaPort'), description: 'Grafana port (also its published port on 127.0.0.1 when publishGrafana).' },
  { key: 'redisExporterPort', type: 'integer', model: m('monitoring', 'redisExporterPort'), description: 'redis_exporter port.' },
  { key: 'nginxExporterPort', type: 'integer', model: m('monitoring', 'nginxExporterPort'), description: 'nginx exporter port.' },
  { key: 'alertWebhookUrl', type: 'string', model: m('monitoring', 'alertWebhookUrl'), description: 'Webhook Alertmanager sends alerts to.' },
  { key: 'grafanaAdminUser', type: 'string', model: m('monitoring', 'grafanaAdminUser'), description: 'Grafana admin user name.' },
  { key: 'publishPrometheus', type: 'boolean', model: m('monitoring', 'publishPrometheus'), description: 'Publish Prometheus on 127.0.0.1:<prometheusPort> of the Docker host (never elsewhere).' },
  { key: 'publishGrafana', type: 'boolean', model: m('monitoring', 'publishGrafana'), description: 'Publish Grafana on 127.0.0.1:<grafanaPort> of the Docker host (never elsewhere).' },
  { key: 'logMaxSize', type: 'string', default: '10m', description: "Docker json-file log rotation: size of one log file ('10m')." },
  { key: 'logMaxFiles', type: 'integer', default: 3, description: 'Docker json-file log rotation: files kept per container.' },
  { key: 'memoryGatewayMb', type: 'integer', default: 128, description: 'Memory limit of the nginx container (MiB).' },
  { key: 'memoryApiMb', type: 'integer', default: 256, description: 'Memory limit of each API container (MiB).' },
  { key: 'memoryRedisMb', type: 'integer', default: 512, description: 'Memory limit of each Redis container (MiB); at least 2 × redisMaxmemory (a snapshot\'s fork may copy the data set).' },
  { key: 'memorySentinelMb', type: 'integer', default: 64, description: 'Memory limit of each Sentinel container (MiB).' },
  { key: 'memoryExporterMb', type: 'integer', default: 64, description: 'Memory limit of each exporter container (MiB).' },
  { key: 'memoryPrometheusMb', type: 'integer', default: 1024, description: 'Memory limit of the Prometheus container (MiB).' },
  { key: 'memoryAlertmanagerMb', type: 'integer', default: 128, description: 'Memory limit of the Alertmanager container (MiB).' },
  { key: 'memoryGrafanaMb', type: 'integer', default: 256, description: 'Memory limit of the Grafana container (MiB).' },
  { key: 'redisApiPassword', type: 'string', secret: true, description: "Password of the Redis ACL user 'api' (the API). Generated when unset." },
  { key: 'redisReplicationPassword', type: 'string', secret: true, description: "Password of the Redis ACL user 'replication'. Generated when unset." },
  { key: 'redisSentinelPassword', type: 'string', secret: true, description: "Password of the Redis ACL user 'sentinel'. Generated when unset." },
  { key: 'redisExporterPassword', type: 'string', secret: true, description: "Password of the Redis ACL user 'exporter' (exporters, health checks). Generated when unset." },
  { key: 'redisAdminPassword', type: 'string', secret: true, description: "Password of the Redis ACL user 'admin' (backups, operators). Generated when unset." },
  { key: 'apiTokens', type: 'string', secret: true, description: 'Bearer tokens the API accepts, comma-separated. One is generated when unset.' },
  { key: 'grafanaAdminPassword', type: 'string', secret: true, description: 'Grafana admin password. Generated when unset.' },
  { key: 'alertWebhookSecretUrl', type: 'string', secret: true, description: 'Alertmanager webhook URL that carries a token: replaces alertWebhookUrl. Not generated.' },
];

/** Memory limit keys by service kind group. */
export interface MemoryLimits {
  readonly gateway: number;
  readonly api: number;
  readonly redis: number;
  readonly sentinel: number;
  readonly exporter: number;
  readonly prometheus: number;
  readonly alertmanager: number;
  readonly grafana: number;
}

/** What the program needs besides the model: Docker-only settings and the secrets that were set. */
export interface DeploymentSettings {
  readonly spec: StackSpec;
  readonly apiBuild: boolean;
  /** NODE_IMAGE of the API image build. */
  readonly apiBaseImage: string;
  readonly publicBindAddress: string;
  readonly log: { readonly maxSize: string; readonly maxFiles: number };
  /** Memory limits in MiB. */
  readonly memoryMb: MemoryLimits;
  /** Secrets set in the stack config (as secret Outputs); the others are generated. */
  readonly configuredSecrets: Readonly<Partial<Record<SecretKey, pulumi.Output<string>>>>;
}

export type SecretKey =
  | 'redisApiPassword'
  | 'redisReplicationPassword'
  | 'redisSentinelPassword'
  | 'redisExporterPassword'
  | 'redisAdminPassword'
  | 'apiTokens'
  | 'grafanaAdminPassword'
  | 'alertWebhookSecretUrl';

/** A `config:` entry of Pulumi.yaml. */
export interface ProjectConfigEntry {
  readonly type: SettingType;
  readonly description: string;
  readonly default: string | number | boolean | readonly string[];
  readonly items?: { readonly type: 'string' };
}

/**
 * Pulumi.yaml's `config:` block for SETTINGS. Every key has a default: Pulumi requires a value for a
 * declared key without one. Optional keys (secrets, networkName) default to '', which means unset.
 * After changing SETTINGS, print the block to paste into Pulumi.yaml with
 *   npx tsx -e "import('./infra/settings').then(s => console.log(require('yaml').stringify({ config: s.projectConfigBlock() }, { lineWidth: 0 })))"
 */
export function projectConfigBlock(): Record<string, ProjectConfigEntry> {
  return Object.fromEntries(
    SETTINGS.map((def) => {
      const value = settingDefault(def);
      const description = def.secret
        ? `${def.description} Set it with \`pulumi config set --secret ${def.key} …\`.`
        : def.description;
      return [
        def.key,
        {
          type: def.type,
          description,
          default: value ?? '',
          ...(def.type === 'array' ? { items: { type: 'string' as const } } : {}),
        },
      ];
    }),
  );
}

/** The default of a setting: the model's, or the infra default. */
export function settingDefault(def: SettingDefinition): string | number | boolean | readonly string[] | undefined {
  if (!def.model) return def.default;
  let value: unknown = DEFAULT_SETTINGS;
  for (const part of def.model) value = (value as Record<string, unknown> | undefined)?.[part];
  if (def.key === 'redisSavePoints') return formatSavePoints(value as readonly (readonly [number, number])[]);
  if (def.key === 'networkAddresses') return Object.entries(value as Record<string, string>).map(([k, v]) => `${k}=${v}`);
  if (def.key === 'gatewayWorkerProcesses') return String(value);
  return value as string | number | boolean | undefined;
}

function formatSavePoints(points: readonly (readonly [number, number])[]): string {
  return points.map(([s, c]) => `${s}:${c}`).join(' ');
}

/** Reads one raw config value as its declared type; pushes a problem and returns undefined when wrong. */
function parseValue(def: SettingDefinition, raw: string, problems: string[]): unknown {
  const where = `${PROJECT_NAME}:${def.key}`;
  switch (def.type) {
    case 'integer':
      if (!/^-?\d+$/.test(raw.trim())) {
        problems.push(`${where}: must be an integer (got ${JSON.stringify(raw)})`);
        return undefined;
      }
      return Number(raw.trim());
    case 'boolean':
      if (raw !== 'true' && raw !== 'false') {
        problems.push(`${where}: must be true or false (got ${JSON.stringify(raw)})`);
        return undefined;
      }
      return raw === 'true';
    case 'array': {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = undefined;
      }
      if (!Array.isArray(parsed) || parsed.some((x) => typeof x !== 'string')) {
        problems.push(`${where}: must be a list of strings (set items with pulumi config set --path '${def.key}[0]' …)`);
        return undefined;
      }
      return parsed;
    }
    case 'string':
      return raw;
  }
}

/** Converts a config value to the model's shape for the few settings whose shapes differ. */
function toModelValue(def: SettingDefinition, value: unknown, problems: string[]): unknown {
  const where = `${PROJECT_NAME}:${def.key}`;
  switch (def.key) {
    case 'redisSavePoints': {
      const text = (value as string).trim();
      if (text === '') return [];
      const points: [number, number][] = [];
      for (const pair of text.split(/\s+/)) {
        const match = /^(\d+):(\d+)$/.exec(pair);
        if (!match) {
          problems.push(`${where}: '${pair}' is not a 'seconds:changes' pair (e.g. '3600:1 300:100')`);
          return undefined;
        }
        points.push([Number(match[1]), Number(match[2])]);
      }
      return points;
    }
    case 'networkAddresses': {
      const out: Record<string, string> = {};
      for (const item of value as string[]) {
        const match = /^([a-z0-9-]+)=(\S+)$/.exec(item);
        if (!match) {
          problems.push(`${where}: '${item}' is not 'instance=address' (e.g. 'api-0=172.20.0.50')`);
          return undefined;
        }
        out[match[1] as string] = match[2] as string;
      }
      return out;
    }
    case 'gatewayWorkerProcesses':
      return /^\d+$/.test(value as string) ? Number(value) : value;
    default:
      return value;
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const part of path.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

/** `api.instances: must be …` → `evergreen-stores:apiInstances (api.instances): must be …`. */
function nameConfigKey(problem: string): string {
  const byPath = new Map(SETTINGS.filter((d) => d.model).map((d) => [(d.model as string[]).join('.'), d.key]));
  const match = /^([A-Za-z0-9_.]+): /.exec(problem);
  const path = match?.[1];
  if (path === undefined) return problem;
  for (let parts = path.split('.'); parts.length > 0; parts = parts.slice(0, -1)) {
    const key = byPath.get(parts.join('.'));
    if (key !== undefined) return `${PROJECT_NAME}:${key} (${problem}`.replace(`(${path}: `, `(${path}): `);
  }
  return problem;
}

/**
 * Whether the engine holds config `key` as a secret (`pulumi config set --secret`): the SDK's own check, which it
 * marks internal (it is how `Config` knows), hence looked up defensively; undefined where it cannot tell.
 */
function configIsSecret(key: string): boolean | undefined {
  const check = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
  return typeof check === 'function' ? check(key) : undefined;
}

/**
 * Reads the stack config (the current project's namespace), applies defaults, validates with the model.
 * Throws StackValidationError listing every problem, in terms of config keys.
 */
export function readSettings(config: pulumi.Config = new pulumi.Config(PROJECT_NAME)): DeploymentSettings {
  const problems: string[] = [];
  const overrides: Record<string, unknown> = {};
  const infra: Record<string, unknown> = {};
  const configuredSecrets: Partial<Record<SecretKey, pulumi.Output<string>>> = {};

  for (const def of SETTINGS) {
    let raw = config.get(def.key);
    // Pulumi.yaml declares every key with a default (a declared key without one is required): '' is
    // how "unset" is declared for the optional ones.
    if (raw === '' && settingDefault(def) === undefined) raw = undefined;
    const heldAsSecret = raw === undefined ? undefined : configIsSecret(`${PROJECT_NAME}:${def.key}`);
    if (def.secret && heldAsSecret === false) {
      problems.push(
        `${PROJECT_NAME}:${def.key}: is a secret but was set in plain text, which Pulumi.<stack>.yaml keeps unencrypted; set it again with \`pulumi config set --secret ${def.key} …\``,
      );
      continue;
    }
    if (!def.secret && heldAsSecret === true) {
      problems.push(
        `${PROJECT_NAME}:${def.key}: was set with --secret, but this setting is not handled as a secret (its value goes into rendered files and the state as it is)${def.key === 'alertWebhookUrl' ? '; a webhook URL that carries a token goes in alertWebhookSecretUrl' : ''}`,
      );
      continue;
    }
    if (def.secret) {
      if (raw !== undefined) {
        const problem = secretValueProblem(def.key as SecretKey, raw);
        if (problem) problems.push(`${PROJECT_NAME}:${def.key}: ${problem}`);
        else configuredSecrets[def.key as SecretKey] = pulumi.secret(config.require(def.key));
      }
      continue;
    }
    if (raw === undefined) {
      if (!def.model) infra[def.key] = def.default;
      continue;
    }
    const value = parseValue(def, raw, problems);
    if (value === undefined) continue;
    if (def.model) {
      const modelValue = toModelValue(def, value, problems);
      if (modelValue !== undefined) setPath(overrides, def.model, modelValue);
    } else {
      infra[def.key] = value;
    }
  }

  // A misspelt key would otherwise be ignored without a word, and its setting silently left at its default.
  const known = new Set(SETTINGS.map((d) => d.key));
  for (const full of Object.keys(pulumi.runtime.allConfig())) {
    if (!full.startsWith(`${PROJECT_NAME}:`)) continue;
    const key = full.slice(PROJECT_NAME.length + 1);
    if (known.has(key)) continue;
    const near = nearestSetting(key);
    problems.push(`${full}: unknown setting${near ? ` (did you mean ${near}?)` : ''}; Pulumi.yaml lists every setting`);
  }

  let spec: StackSpec | undefined;
  try {
    spec = defineStack(overrides as StackOverrides, 'docker');
  } catch (error) {
    if (!(error instanceof StackValidationError)) throw error;
    problems.push(...error.problems.map(nameConfigKey));
  }

  const memoryMb: MemoryLimits = {
    gateway: infra.memoryGatewayMb as number,
    api: infra.memoryApiMb as number,
    redis: infra.memoryRedisMb as number,
    sentinel: infra.memorySentinelMb as number,
    exporter: infra.memoryExporterMb as number,
    prometheus: infra.memoryPrometheusMb as number,
    alertmanager: infra.memoryAlertmanagerMb as number,
    grafana: infra.memoryGrafanaMb as number,
  };
  for (const [service, mb] of Object.entries(memoryMb)) {
    if (mb !== undefined && (mb < 16 || mb > 65536)) {
      const key = `memory${service[0]?.toUpperCase()}${service.slice(1)}Mb`;
      problems.push(`${PROJECT_NAME}:${key}: must be between 16 and 65536 MiB (got ${mb})`);
    }
  }
  if (spec && memoryMb.redis !== undefined) {
    const maxmemoryMb = redisBytes(spec.redis.maxmemory) / 2 ** 20;
    // Redis needs room beyond its data set (fork for snapshots, buffers): refuse a limit the kernel
    // would hit before maxmemory does.
    if (maxmemoryMb === 0 || memoryMb.redis < maxmemoryMb * REDIS_MEMORY_HEADROOM) {
      problems.push(
        `${PROJECT_NAME}:memoryRedisMb: must be at least ${REDIS_MEMORY_HEADROOM} × redisMaxmemory (${spec.redis.maxmemory}${maxmemoryMb === 0 ? ', i.e. unlimited: set a redisMaxmemory' : ''}) so that Redis refuses writes before the kernel kills it (got ${memoryMb.redis})`,
      );
    }
  }
  const logMaxSize = infra.logMaxSize as string | undefined;
  if (logMaxSize !== undefined && !/^\d+[kmg]$/.test(logMaxSize)) {
    problems.push(`${PROJECT_NAME}:logMaxSize: must be a size such as '10m' or '500k' (got ${JSON.stringify(logMaxSize)})`);
  }
  const logMaxFiles = infra.logMaxFiles as number | undefined;
  if (logMaxFiles !== undefined && (logMaxFiles < 1 || logMaxFiles > 100)) {
    problems.push(`${PROJECT_NAME}:logMaxFiles: must be between 1 and 100 (got ${logMaxFiles})`);
  }
  const publicBindAddress = infra.publicBindAddress as string | undefined;
  if (publicBindAddress !== undefined && !/^(\d{1,3}\.){3}\d{1,3}$/.test(publicBindAddress)) {
    problems.push(`${PROJECT_NAME}:publicBindAddress: must be an IPv4 address such as 0.0.0.0 or 127.0.0.1 (got ${JSON.stringify(publicBindAddress)})`);
  }

  if (problems.length > 0 || spec === undefined) throw new StackValidationError(problems);
  return {
    spec,
    apiBuild: infra.apiBuild as boolean,
    apiBaseImage: infra.imageApiBase as string,
    publicBindAddress: publicBindAddress as string,
    log: { maxSize: logMaxSize as string, maxFiles: logMaxFiles as number },
    memoryMb,
    configuredSecrets,
  };
}

/** The declared key closest to a misspelt one (edit distance at most 3), if any. */
function nearestSetting(key: string): string | undefined {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i += 1) {
      let previous = row[0] as number;
      row[0] = i;
      for (let j = 1; j <= b.length; j += 1) {
        const current = row[j] as number;
        row[j] = Math.min(current + 1, (row[j - 1] as number) + 1, previous + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1));
        previous = current;
      }
    }
    return row[b.length] as number;
  };
  let best: { key: string; d: number } | undefined;
  for (const def of SETTINGS) {
    const d = distance(key, def.key);
    if (d <= 3 && (best === undefined || d < best.d)) best = { key: def.key, d };
  }
  return best?.key;
}

/** What is wrong with a secret set in the config (never quoting the value), or undefined. */
function secretValueProblem(key: SecretKey, value: string): string | undefined {
  const rule = 'must be 12–256 characters of A–Z a–z 0–9 . _ ~ + / = - (it is written into config files unquoted)';
  if (key === 'alertWebhookSecretUrl') {
    return isWebhookUrl(value) ? undefined : 'must be an http(s) URL';
  }
  if (key === 'apiTokens') {
    const tokens = value.split(',').map((t) => t.trim());
    if (tokens.length === 0 || tokens.some((t) => !SECRET_PATTERN.test(t))) return `every comma-separated token ${rule}`;
    return undefined;
  }
  return SECRET_PATTERN.test(value) ? undefined : rule;
}

