/**
 * Settings that exist only for the Kubernetes manifests (the shared stack model in config/ holds
 * everything else: counts, ports, images, Redis and Sentinel tuning, namespace). Each has a default,
 * so `npm run synth` needs none; `npm run synth -- --manifests file.yaml` overrides any of them.
 */

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
}

export interface ManifestProps {
  /**
   * The API image, pushed to a registry the cluster can pull from (the Docker deployment builds it
   * locally from api/Dockerfile: tag and push that build, then set this).
   * @default '<images.api of the model>:0.1.0'
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
  /** Number of gateway (nginx) pods. @default 2 (so that a node drain never leaves the stack unreachable) */
  readonly gatewayReplicas: number;
  /** Type of the gateway's Service. @default 'LoadBalancer' */
  readonly gatewayServiceType: GatewayServiceType;
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
  /** Requests and limits of every container. */
  readonly resources: Readonly<Record<ContainerName, ContainerResourcesProps>>;
  readonly secrets: SecretNamesProps;
  /**
   * Labels of the cluster DNS pods and of their namespace, for the DNS egress rule of the NetworkPolicies.
   * @default { namespace: { 'kubernetes.io/metadata.name': 'kube-system' }, pods: { 'k8s-app': 'kube-dns' } }
   */
  readonly dns: {
    readonly namespaceLabels: Readonly<Record<string, string>>;
    readonly podLabels: Readonly<Record<string, string>>;
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
    // maxmemory (256mb by default) plus replication buffers and the fork of a snapshot.
    redis: small('100m', '1000m', '384Mi', '768Mi'),
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
