/**
 * Settings that exist only for the Kubernetes manifests (the shared stack model in config/ holds
 * everything else: counts, ports, images, Redis and Sentinel tuning, namespace). Each has a default,
 * so `npm run synth` needs none; `npm run synth -- --manifests file.yaml` overrides any of them.
 */
import { z } from 'zod';
import { REDIS_MEMORY_HEADROOM, redisBytes, type StackSpec } from '../../config';
import { alertWebhookEndpoint } from './flows';

/** CPU and memory of one container, as Kubernetes quantities (`100m`, `256Mi`). */
export interface ContainerResourcesProps {
  readonly cpuRequest: string;
  readonly cpuLimit: string;
  readonly memoryRequest: string;
  readonly memoryLimit: string;
}

/** How the gateway is exposed outside the cluster. */
export type GatewayServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';

export interface IngressProps {
  /** Host name the Ingress routes to the gateway. */
  readonly host: string;
  /** `ingressClassName`. @default the cluster's default IngressClass */
  readonly className?: string;
  /** Secret holding the TLS certificate for `host` (created outside the manifests). @default no TLS */
  readonly tlsSecretName?: string;
}

/** Names of the Secrets the manifests reference; none of them is in the manifests (docs/kubernetes.md). */
export interface SecretNamesProps {
  /** Keys `api`, `replication`, `sentinel`, `exporter`, `admin`: the Redis ACL passwords. @default 'evergreen-redis-passwords' */
  readonly redisPasswords: string;
  /** Key `tokens`: comma-separated bearer tokens of the API (`API_TOKENS`). @default 'evergreen-api-tokens' */
  readonly apiTokens: string;
  /** Key `password`: Grafana's admin password. @default 'evergreen-grafana-admin' */
  readonly grafanaAdmin: string;
  /**
   * Key `alertmanager.yml`: Alertmanager's whole config, for a receiver whose URL or password is a
   * secret (render it with `npm run render` and the secret, then create the Secret from the file). The stack
   * given to `npm run synth` must name the receiver's host and port in `monitoring.alertWebhookUrl` (a token-free
   * URL such as `https://hooks.example.com/` will do; not its loopback default): they open Alertmanager's egress
   * policy, and nothing else of it reaches the manifests.
   * @default none: the rendered alertmanager.yml (which holds no secret) goes into a ConfigMap
   */
  readonly alertmanagerConfig?: string;
}

export interface ManifestProps {
  /**
   * The API image, pushed to a registry the cluster can pull from (the Docker deployment builds it
   * locally from api/Dockerfile: tag and push that build, then set this).
   * @default '<images.api of the model>:<version in package.json>'
   */
  readonly apiImage?: string;
  /** Pull policy of every container. Images are pinned by tag, so a node pulls each once. @default 'IfNotPresent' */
  readonly imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** HorizontalPodAutoscaler bounds of the API; the minimum is the model's `api.instances`. */
  readonly apiAutoscaling: {
    /** @default 10 */
    readonly maxReplicas: number;
    /** Average CPU use (percent of the request) the autoscaler keeps the API pods at. @default 70 */
    readonly cpuUtilization: number;
  };
  /**
   * Number of gateway (nginx) pods. With more than one, a PodDisruptionBudget keeps one serving through
   * node drains; Prometheus scrapes each pod's nginx exporter (headless Service `gateway-pods`). With one, a
   * rollout or a drain leaves no gateway serving for a moment (and, behind a LoadBalancer with the `Local`
   * traffic policy, until the load balancer's health check finds the new pod's node).
   * @default 2 (the Docker deployment runs one nginx)
   */
  readonly gatewayReplicas: number;
  /** Type of the gateway's Service. @default 'LoadBalancer' */
  readonly gatewayServiceType: GatewayServiceType;
  /**
   * `externalTrafficPolicy` of a LoadBalancer or NodePort gateway Service. `Local`: traffic goes only to gateway pods
   * on the node it arrived at, and nginx sees each client's address — what its per-client rate limit keys on; a
   * load balancer health-checks the nodes and sends only to those with a gateway pod (keep `gatewayReplicas` ≥ 2:
   * with one, a rescheduled pod is unreachable until the check sees its new node). `Cluster`: any node forwards to
   * any pod, one hop more, and the client's address is replaced by a node's, so every client behind a node shares
   * one rate-limit budget. Ignored for ClusterIP (behind an Ingress, set the stack's `gateway.trustedProxies`).
   * @default 'Local' for a LoadBalancer; 'Cluster' for a NodePort (with `Local` only the nodes running a gateway pod
   * would answer on the port)
   */
  readonly gatewayExternalTrafficPolicy?: 'Local' | 'Cluster';
  /** An Ingress in front of the gateway Service. @default none */
  readonly ingress?: IngressProps;
  /**
   * Namespace labels of the ingress controller / load balancer health checkers allowed to reach the
   * gateway. An empty object allows every source (clients come from outside the cluster through
   * the LoadBalancer/NodePort).
   * @default {} (anywhere)
   */
  readonly gatewayClientNamespaceLabels: Readonly<Record<string, string>>;
  /** StorageClass of every PersistentVolumeClaim. @default the cluster's default StorageClass */
  readonly storageClassName?: string;
  /** Size of each volume. */
  readonly storage: {
    /** Each Redis node's data (RDB + AOF). @default '1Gi' */
    readonly redis: string;
    /** Prometheus' TSDB. @default '10Gi' */
    readonly prometheus: string;
    /** Alertmanager's silences and notification log. @default '1Gi' */
    readonly alertmanager: string;
    /** Grafana's database (users, sessions). @default '1Gi' */
    readonly grafana: string;
  };
  /**
   * Requests and limits of every container. The `redis` memory limit must be at least 2 × the stack's
   * `redis.maxmemory` (room for a snapshot's fork and the buffers), or synthesis stops: below it the kernel
   * would kill Redis before Redis refuses writes. @default see DEFAULT_MANIFEST_PROPS (redis: 768Mi, for 256mb)
   */
  readonly resources: Readonly<Record<ContainerName, ContainerResourcesProps>>;
  readonly secrets: SecretNamesProps;
  /**
   * Where the pods may ask the cluster DNS (the DNS egress rule of the NetworkPolicies): the DNS pods by their
   * labels and their namespace's, and `ipBlocks`, address ranges a label cannot name — NodeLocal DNSCache's
   * link-local address (169.254.20.10/32), a resolver outside the cluster. Without DNS the Redis pods cannot find
   * the Sentinels or each other, and every start falls back as if all were down.
   * @default { namespaceLabels: { 'kubernetes.io/metadata.name': 'kube-system' }, podLabels: { 'k8s-app': 'kube-dns' }, ipBlocks: [] }
   */
  readonly dns: {
    readonly namespaceLabels: Readonly<Record<string, string>>;
    readonly podLabels: Readonly<Record<string, string>>;
    readonly ipBlocks: readonly string[];
  };
}

/** Every container of the stack (sidecars included), for `resources`. */
export type ContainerName =
  | 'gateway'
  | 'nginxExporter'
  | 'api'
  | 'redis'
  | 'redisExporter'
  | 'sentinel'
  | 'sentinelExporter'
  | 'prometheus'
  | 'alertmanager'
  | 'grafana';

const small = (cpuRequest: string, cpuLimit: string, memoryRequest: string, memoryLimit: string): ContainerResourcesProps => ({
  cpuRequest,
  cpuLimit,
  memoryRequest,
  memoryLimit,
});

export const DEFAULT_MANIFEST_PROPS: ManifestProps = {
  imagePullPolicy: 'IfNotPresent',
  apiAutoscaling: { maxReplicas: 10, cpuUtilization: 70 },
  gatewayReplicas: 2,
  gatewayServiceType: 'LoadBalancer',
  gatewayClientNamespaceLabels: {},
  storage: { redis: '1Gi', prometheus: '10Gi', alertmanager: '1Gi', grafana: '1Gi' },
  resources: {
    gateway: small('50m', '500m', '32Mi', '128Mi'),
    nginxExporter: small('10m', '100m', '16Mi', '64Mi'),
    api: small('100m', '1000m', '128Mi', '384Mi'),
    // maxmemory (256mb by default) plus replication buffers and the fork of a snapshot. Memory request = limit
    // (Guaranteed for memory): a node short of memory evicts pods using more than they requested first, and a
    // Redis forking for a snapshot is one.
    redis: small('100m', '1000m', '768Mi', '768Mi'),
    redisExporter: small('10m', '100m', '16Mi', '64Mi'),
    sentinel: small('20m', '200m', '32Mi', '64Mi'),
    sentinelExporter: small('10m', '100m', '16Mi', '64Mi'),
    prometheus: small('100m', '1000m', '256Mi', '1Gi'),
    alertmanager: small('10m', '200m', '32Mi', '128Mi'),
    grafana: small('50m', '500m', '128Mi', '384Mi'),
  },
  secrets: {
    redisPasswords: 'evergreen-redis-passwords',
    apiTokens: 'evergreen-api-tokens',
    grafanaAdmin: 'evergreen-grafana-admin',
  },
  dns: {
    namespaceLabels: { 'kubernetes.io/metadata.name': 'kube-system' },
    podLabels: { 'k8s-app': 'kube-dns' },
    ipBlocks: [],
  },
};

type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { readonly [K in keyof T]?: DeepPartial<T[K]> } : T;
export type ManifestOverrides = DeepPartial<ManifestProps>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (isRecord(base) && isRecord(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(over)) out[key] = merge(out[key], value);
    return out;
  }
  return over;
}

/** The defaults with `overrides` merged in (records merge by key, everything else replaces). */
export function manifestProps(overrides: ManifestOverrides = {}): ManifestProps {
  return merge(DEFAULT_MANIFEST_PROPS, overrides) as ManifestProps;
}

// ---- validation of overrides (the `--manifests` file of `npm run synth`) ----------------------

const quantity = (what: string, pattern: RegExp, example: string) =>
  z.string().regex(pattern, { error: `must be a ${what} such as ${example}` });
const cpu = quantity('CPU quantity', /^(\d+m|\d+(\.\d+)?)$/, "'250m' or '1'");
const size = quantity('size', /^\d+(Ki|Mi|Gi|Ti)$/, "'256Mi' or '1Gi'");
const dnsName = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, { error: 'must be a DNS name' });
const labelMap = z.record(z.string().min(1), z.string());
const resources = z.strictObject({ cpuRequest: cpu, cpuLimit: cpu, memoryRequest: size, memoryLimit: size }).partial();

const overridesSchema = z
  .strictObject({
    apiImage: z.string().regex(/^[^\s:@]+(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$/, { error: 'must be an image reference' }),
    imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']),
    apiAutoscaling: z
      .strictObject({
        maxReplicas: z.int().min(1).max(1000),
        cpuUtilization: z.int().min(1).max(100, { error: 'must be a percentage in 1–100' }),
      })
      .partial(),
    gatewayReplicas: z.int().min(1).max(100),
    gatewayServiceType: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer']),
    gatewayExternalTrafficPolicy: z.enum(['Local', 'Cluster']),
    ingress: z.strictObject({ host: dnsName, className: dnsName.optional(), tlsSecretName: dnsName.optional() }),
    gatewayClientNamespaceLabels: labelMap,
    storageClassName: dnsName,
    storage: z.strictObject({ redis: size, prometheus: size, alertmanager: size, grafana: size }).partial(),
    resources: z
      .strictObject({
        gateway: resources,
        nginxExporter: resources,
        api: resources,
        redis: resources,
        redisExporter: resources,
        sentinel: resources,
        sentinelExporter: resources,
        prometheus: resources,
        alertmanager: resources,
        grafana: resources,
      })
      .partial(),
    secrets: z
      .strictObject({ redisPasswords: dnsName, apiTokens: dnsName, grafanaAdmin: dnsName, alertmanagerConfig: dnsName })
      .partial(),
    dns: z
      .strictObject({
        namespaceLabels: labelMap,
        podLabels: labelMap,
        ipBlocks: z.array(z.cidrv4({ error: "must be an IPv4 CIDR range such as '169.254.20.10/32'" })).max(16),
      })
      .partial(),
  })
  .partial();

/** Thrown for invalid manifest settings; `problems` has one line per problem. */
export class ManifestSettingsError extends Error {
  override readonly name = 'ManifestSettingsError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid manifest settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Validates manifest overrides (every problem at once) and returns the settings with defaults applied. */
export function parseManifestProps(input: unknown): ManifestProps {
  const result = overridesSchema.safeParse(input ?? {});
  if (!result.success) {
    throw new ManifestSettingsError(
      result.error.issues.map((issue) => `${issue.path.join('.') || '(settings)'}: ${issue.message}`),
    );
  }
  const props = manifestProps(result.data as ManifestOverrides);
  const problems: string[] = [];
  for (const [name, r] of Object.entries(props.resources)) {
    if (parseCpuMillis(r.cpuRequest) > parseCpuMillis(r.cpuLimit)) problems.push(`resources.${name}: cpuRequest exceeds cpuLimit`);
    if (parseBytes(r.memoryRequest) > parseBytes(r.memoryLimit)) problems.push(`resources.${name}: memoryRequest exceeds memoryLimit`);
  }
  if (problems.length > 0) throw new ManifestSettingsError(problems);
  return props;
}

/**
 * What depends on both the manifest settings and the stack, checked before any object is built (every problem at
 * once):
 * - the Redis container's memory limit must leave Redis room beyond `redis.maxmemory`, or the kernel kills Redis
 *   before Redis refuses writes (noeviction → 503) and RedisMemoryNearLimit can warn;
 * - with `secrets.alertmanagerConfig` the receiver's URL lives in that Secret, but Alertmanager's egress policy is
 *   opened from `monitoring.alertWebhookUrl`: left at its loopback default, every notification would be dropped.
 */
export function checkManifestForStack(props: ManifestProps, spec: StackSpec): void {
  const problems: string[] = [];
  const maxmemory = redisBytes(spec.redis.maxmemory);
  const limit = props.resources.redis.memoryLimit;
  if (maxmemory === 0 || parseBytes(limit) < maxmemory * REDIS_MEMORY_HEADROOM) {
    problems.push(
      `resources.redis.memoryLimit: must be at least ${REDIS_MEMORY_HEADROOM} × redis.maxmemory (${spec.redis.maxmemory}${maxmemory === 0 ? ', i.e. unlimited: set a maxmemory' : ''}) so that Redis refuses writes before the kernel kills it (got ${limit})`,
    );
  }
  if (props.secrets.alertmanagerConfig !== undefined && alertWebhookEndpoint(spec) === undefined) {
    problems.push(
      `secrets.alertmanagerConfig: the stack's monitoring.alertWebhookUrl (${spec.monitoring.alertWebhookUrl}) is a loopback placeholder, so Alertmanager's network policy would let no notification out; set it to a URL of the receiver's host and port — a token-free one such as https://hooks.example.com/ will do: only its host and port reach the manifests`,
    );
  }
  if (problems.length > 0) throw new ManifestSettingsError(problems);
}

function parseCpuMillis(q: string): number {
  return q.endsWith('m') ? Number(q.slice(0, -1)) : Number(q) * 1000;
}

function parseBytes(q: string): number {
  const units: Readonly<Record<string, number>> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
  return Number(q.slice(0, -2)) * (units[q.slice(-2)] ?? Number.NaN);
}
