/**
 * The typed model of the Evergreen stack: the settings an operator may change (with their defaults),
 * and the derivation of everything else (addresses, ports, upstream lists, scrape targets, the
 * Sentinel monitor line). Pulumi (infra/), cdk8s (infra/k8s/), the loopback topology of the tests and
 * `npm run render` all read the same {@link StackSpec}, so they cannot disagree about an address.
 *
 * Settings are grouped by service; every field is documented here, where it is declared, and in
 * docs/config.md. Use {@link defineStack} (config/validate.ts) to get a validated spec.
 */
import * as path from 'node:path';

/** Where the stack runs. Only addresses, ports and file paths differ between targets. */
export type StackTarget = 'docker' | 'loopback' | 'kubernetes';
export const STACK_TARGETS: readonly StackTarget[] = ['docker', 'loopback', 'kubernetes'];

/** The kinds of process in the topology (one container / pod / loopback process each). */
export type ServiceKind =
  | 'gateway'
  | 'api'
  | 'redis'
  | 'sentinel'
  | 'prometheus'
  | 'alertmanager'
  | 'grafana'
  | 'redis-exporter'
  | 'sentinel-exporter'
  | 'nginx-exporter';

// ---------------------------------------------------------------------------------------------
// Settings (what an operator may override). Every field has a default in DEFAULT_SETTINGS.
// ---------------------------------------------------------------------------------------------

/** Container images. Official images with pinned tags, so a deployment is reproducible. */
export interface ImageSettings {
  /** nginx for the gateway. @default 'nginx:1.27.4-alpine' (Kubernetes uses the unprivileged variant, see below) */
  readonly nginx: string;
  /**
   * nginx image used by the Kubernetes target, where nothing may run as root.
   * @default 'nginxinc/nginx-unprivileged:1.27.4-alpine'
   */
  readonly nginxUnprivileged: string;
  /**
   * The API image name. The Pulumi program builds it from api/Dockerfile and tags it with a hash of
   * api/'s content; this is the repository part of that tag. @default 'evergreen/api'
   */
  readonly api: string;
  /** Redis server, also used for the Sentinels (`redis-sentinel`). @default 'redis:7.4.2-alpine' */
  readonly redis: string;
  /** Prometheus. @default 'prom/prometheus:v2.55.1' */
  readonly prometheus: string;
  /** Alertmanager. @default 'prom/alertmanager:v0.28.0' */
  readonly alertmanager: string;
  /** Grafana. @default 'grafana/grafana:11.4.0' */
  readonly grafana: string;
  /** redis_exporter, one per Redis node and one per Sentinel. @default 'oliver006/redis_exporter:v1.67.0' */
  readonly redisExporter: string;
  /** nginx-prometheus-exporter, reading the gateway's stub_status. @default 'nginx/nginx-prometheus-exporter:1.4.0' */
  readonly nginxExporter: string;
}

/** The Docker network (ignored by the loopback and Kubernetes targets, which have no fixed addresses). */
export interface NetworkSettings {
  /** Name of the user-defined Docker network. @default '<stack name>' (i.e. 'evergreen') */
  readonly name?: string;
  /**
   * IPv4 subnet of the network. Every container gets a fixed address in it at a fixed offset from the
   * subnet's base (gateway .10, API .20+i, Redis .60+i, Sentinel .80+i, Redis exporters .100+i,
   * Sentinel exporters .120+i, nginx exporter .140, Prometheus .150, Alertmanager .151, Grafana .152);
   * the first host address (.1) is Docker's gateway. A subnet smaller than /24 leaves some of these
   * outside it: give those an address with `addresses`.
   * @default '172.20.0.0/24'
   */
  readonly subnet: string;
  /**
   * Fixed address of one instance, by instance name (`gateway`, `api-0`, `redis-1`, `sentinel-2`,
   * `redis-exporter-0`, `sentinel-exporter-0`, `nginx-exporter`, `prometheus`, `alertmanager`,
   * `grafana`), replacing the derived one. Must be inside the subnet and unique.
   * @default {} (every address derived from the subnet)
   */
  readonly addresses: Readonly<Record<string, string>>;
}

/** The nginx gateway: the only public entry. */
export interface GatewaySettings {
  /** Port nginx listens on for the API (inside its container; on 127.0.0.1 for loopback). @default 8080 */
  readonly port: number;
  /**
   * Host port Docker publishes the gateway on (the public URL is http://localhost:<publishedPort>).
   * @default 8080
   */
  readonly publishedPort: number;
  /**
   * Port of the separate listener that serves `stub_status` to the nginx exporter only (allowed from
   * the exporter's address, denied to everyone else). @default 8081
   */
  readonly statusPort: number;
  /** nginx worker processes. @default 'auto' (one per CPU) */
  readonly workerProcesses: number | 'auto';
  /** Connections per worker. @default 1024 */
  readonly workerConnections: number;
  /**
   * Idle keep-alive connections to the API instances each nginx worker keeps for reuse. A connection beyond it
   * is closed after its request, so when more requests are in flight than this, nginx opens (and the API accepts)
   * a new connection for many of them — the tail latency of a busy gateway (docs/performance.md: p99 at 128
   * client connections 310–380 ms with 128, 710–1 150 ms with 32, same throughput). Idle connections cost the API
   * a few KiB each. 0: a new connection per request.
   * @default 128
   */
  readonly upstreamKeepalive: number;
  /**
   * How nginx spreads requests over the API instances. `round-robin`: strictly in turn, busy or not.
   * `least-conn`: to the instance with the fewest requests in flight (each nginx worker counts its own; equals in
   * turn), so one that is slow for a moment — a GC pause, a batch of purchases waiting for its replica — gets fewer
   * new requests than a free one; on the benchmark, purchases at 32 connections went up about 5 % (9 alternations,
   * docs/performance.md). Not the default because of the opposite case: an instance that fails *fast* — its Redis
   * clients reconnecting, answering 503 at once — always has the fewest in flight, and would get most requests
   * where round robin gives it its share (nginx does not count a 503 as a failure: during a failover every
   * instance answers it). Orchestrators that take unready instances out (Kubernetes readiness) remove that risk.
   * @default 'round-robin'
   */
  readonly balancing: 'least-conn' | 'round-robin';
  /** Time to establish a connection to an API instance before trying the next one. @default '2s' */
  readonly connectTimeout: string;
  /**
   * Time to wait between two reads of an API response. The API bounds its own Redis waits below this,
   * so a slow instance answers 503 before nginx gives up. @default '15s'
   */
  readonly readTimeout: string;
  /** Time to wait between two writes of a request to an API instance. @default '15s' */
  readonly sendTimeout: string;
  /**
   * How many instances an idempotent request (GET, HEAD, PUT, DELETE…) is tried on when an instance
   * fails (connection error, timeout, 502, 504; a 503 is the API's own problem answer and is passed on) — 2 means
   * "the other instance once". A POST is never
   * retried once sent (nginx's `non_idempotent` is not set): a purchase must not run twice by accident.
   * @default 2
   */
  readonly retries: number;
  /**
   * Total time budget for those tries, counted from the request's start (`proxy_next_upstream_timeout`; 0: none).
   * Longer than `readTimeout`, or an instance that stops answering would never be retried: the 30 s default holds a
   * read timeout on one instance and a second try. @default '30s'
   */
  readonly retryTimeout: string;
  /** Largest request body accepted; larger bodies get 413 problem+json (the API contract says 64 KiB). @default '64k' */
  readonly clientMaxBodySize: string;
  /** Per-client-address request rate limit; excess requests get 429 problem+json. */
  readonly rateLimit: {
    /** Sustained rate per client address, `<n>r/s` or `<n>r/m`. @default '200r/s' */
    readonly rate: string;
    /** Requests above the rate that are still served at once (nodelay) before 429s start. @default 400 */
    readonly burst: number;
    /** Shared-memory zone size for the per-address counters (~16k addresses per MB). @default '10m' */
    readonly zoneSize: string;
  };
  /** Idle time of a client keep-alive connection. @default '65s' */
  readonly clientKeepaliveTimeout: string;
  /**
   * Addresses or CIDR ranges of the proxies in front of nginx (a load balancer, a Kubernetes ingress controller's
   * pods) whose `X-Forwarded-For` nginx believes: the client is then the last address in it that is not such a
   * proxy, and the per-client rate limit, the access log and the API's `X-Forwarded-For` see each client instead
   * of the proxy — behind one, all clients would otherwise share one rate-limit budget. Only connections from these
   * addresses are believed, so a client cannot choose its address by sending the header itself.
   * @default [] (no proxy: the client is the connection's peer and `X-Forwarded-For` is ignored)
   */
  readonly trustedProxies: readonly string[];
  /**
   * Directory nginx writes its pid file (`nginx.pid`) and temp directories (`client_body`, `proxy`, …)
   * to; it must exist and be writable by nginx's user, so the gateway also runs unprivileged (nginx
   * creates the temp directories itself). Containers: this path; loopback: `<workDir>/gateway` (temp
   * directories under `<workDir>/gateway/tmp`).
   * @default '/tmp'
   */
  readonly runDir: string;
}

/** The API tier (api/): N identical instances behind the gateway. */
export interface ApiSettings {
  /** Number of API instances (Docker containers; initial Kubernetes replicas). @default 2 */
  readonly instances: number;
  /** Port each instance listens on (`PORT`). @default 8080 */
  readonly port: number;
  /** `LOG_LEVEL` of each instance (pino level). @default 'info' */
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
}

/** Redis: one master and N replicas, persisted with RDB snapshots and an AOF. */
export interface RedisSettings {
  /** Number of replicas of the master. @default 2 */
  readonly replicas: number;
  /** Redis port. @default 6379 */
  readonly port: number;
  /** The Sentinel master group name (`REDIS_MASTER_NAME` of the API). @default 'evergreen' */
  readonly masterName: string;
  /**
   * RDB snapshot points, pairs of [seconds, changes]: snapshot when at least `changes` writes happened
   * within `seconds`. Empty disables snapshots (the AOF still persists). The RDB is what `npm run
   * backup` ships out. @default [[3600, 1], [300, 100], [60, 10000]] (Redis' own defaults)
   */
  readonly savePoints: readonly (readonly [number, number])[];
  /**
   * AOF fsync policy. `everysec` loses at most ~1 s of writes on a power loss of one node; a purchase
   * is acknowledged only once a replica has it too (min-replicas-to-write, WAIT), so losing that second
   * on one node loses nothing acknowledged. `always` fsyncs each write (slow); `no` leaves it to the OS.
   * @default 'everysec'
   */
  readonly appendfsync: 'always' | 'everysec' | 'no';
  /**
   * Memory limit of the data set (`maxmemory`), e.g. '256mb', '1gb'; '0' means no limit. Keep it below
   * the container's memory limit so Redis refuses writes before the kernel kills it.
   * @default '256mb'
   */
  readonly maxmemory: string;
  /**
   * What Redis does at `maxmemory`. `noeviction` refuses writes (the API answers 503) rather than
   * silently dropping users, products or purchases, which any eviction policy would do.
   * @default 'noeviction'
   */
  readonly maxmemoryPolicy:
    | 'noeviction'
    | 'allkeys-lru'
    | 'allkeys-lfu'
    | 'allkeys-random'
    | 'volatile-lru'
    | 'volatile-lfu'
    | 'volatile-random'
    | 'volatile-ttl';
  /**
   * The master refuses writes unless at least this many replicas are connected with a lag below
   * `minReplicasMaxLagSeconds`. With 1, a master cut off from every replica stops accepting writes that
   * a failover would then lose. 0 disables the check. Must not exceed `replicas`.
   * @default 1
   */
  readonly minReplicasToWrite: number;
  /** See `minReplicasToWrite`: the largest replica lag (seconds since its last ack) that still counts. @default 10 */
  readonly minReplicasMaxLagSeconds: number;
  /**
   * Data directory (RDB, AOF) inside the Redis containers, a volume. Loopback: `<workDir>/<instance>`.
   * @default '/data'
   */
  readonly dataDir: string;
}

/** Redis Sentinel: watches the master and promotes a replica when it fails. */
export interface SentinelSettings {
  /** Number of Sentinels. Odd and at least 3, so that a majority survives the loss of one. @default 3 */
  readonly count: number;
  /** Sentinels that must agree the master is down before a failover starts. @default 2 (a majority of 3) */
  readonly quorum: number;
  /** Sentinel port. @default 26379 */
  readonly port: number;
  /**
   * Time the master must be unreachable (no valid PING reply) before a Sentinel considers it down.
   * 5 s: long enough to ride out the stalls a loaded Redis really shows (fork for an RDB snapshot or an
   * AOF rewrite, a slow fsync, a GC pause of the host) — 500 ms has caused false failovers under load,
   * and every failover costs a few seconds of refused writes; short enough that a dead master is
   * replaced within ~6–8 s instead of the minute Redis' own default (30 s) plus election takes.
   * Tests use 1000–2000 ms on loopback. Values below 1000 ms are refused.
   * @default 5000
   */
  readonly downAfterMs: number;
  /**
   * Failover timeout: how long a failover may take before it is abandoned, and twice this is how long
   * Sentinels wait before retrying a failover of the same master. 30 s is ample for replicas of a small
   * data set to resynchronise, and a sixth of Redis' default (180 s) so a failed attempt is retried sooner.
   * Must exceed `downAfterMs`.
   * @default 30000
   */
  readonly failoverTimeoutMs: number;
  /** Replicas re-pointed to the new master at the same time after a failover. @default 1 */
  readonly parallelSyncs: number;
  /** Sentinel working directory (it rewrites sentinel.conf there). Loopback: `<workDir>/<instance>`. @default '/data' */
  readonly dataDir: string;
}

/** Prometheus, Alertmanager, Grafana and the exporters. */
export interface MonitoringSettings {
  /** How often Prometheus scrapes every target. @default '15s' */
  readonly scrapeInterval: string;
  /** How often Prometheus evaluates the alert rules. @default '15s' */
  readonly evaluationInterval: string;
  /** How long Prometheus keeps samples in its TSDB (`--storage.tsdb.retention.time`). @default '15d' */
  readonly retentionTime: string;
  /** Size cap of the TSDB (`--storage.tsdb.retention.size`); '0' means no cap. @default '0' */
  readonly retentionSize: string;
  /** Prometheus port. @default 9090 */
  readonly prometheusPort: number;
  /** Alertmanager port. @default 9093 */
  readonly alertmanagerPort: number;
  /** Grafana port. @default 3000 */
  readonly grafanaPort: number;
  /** redis_exporter port (each exporter has its own container, so they share it). @default 9121 */
  readonly redisExporterPort: number;
  /** nginx-prometheus-exporter port. @default 9113 */
  readonly nginxExporterPort: number;
  /**
   * Where Alertmanager sends alerts (a webhook receiver an operator sets). The default points at a
   * local receiver that does not exist, so alerts are visible in Alertmanager's UI only.
   * @default 'http://127.0.0.1:5001/alerts'
   */
  readonly alertWebhookUrl: string;
  /** Grafana admin user name (its password is a secret). @default 'admin' */
  readonly grafanaAdminUser: string;
  /** Publish Prometheus on 127.0.0.1:<port> of the Docker host (never on other interfaces). @default false */
  readonly publishPrometheus: boolean;
  /** Publish Grafana on 127.0.0.1:<port> of the Docker host (never on other interfaces). @default false */
  readonly publishGrafana: boolean;
}

/** Kubernetes target settings. */
export interface KubernetesSettings {
  /** Namespace of every object. @default 'evergreen' */
  readonly namespace: string;
  /** Cluster DNS domain, used in the stable Service names. @default 'cluster.local' */
  readonly clusterDomain: string;
}

/** Loopback target settings (the tests and `npm run dev`). */
export interface LoopbackSettings {
  /**
   * Directory for the loopback processes' data and run files (`<workDir>/<instance>/`).
   * @default '.tmp/loopback' (relative to the working directory; made absolute)
   */
  readonly workDir: string;
}

/** Every setting of the stack, defaults applied. */
export interface StackSettings {
  /** Stack name: prefix of container names, label value, default network name. @default 'evergreen' */
  readonly name: string;
  readonly images: ImageSettings;
  readonly network: NetworkSettings;
  /**
   * Port of one instance by instance name (see `network.addresses` for the names; the gateway's status
   * listener is `gateway-status`), replacing the service-wide port. The loopback launcher passes the
   * free ports it allocated here ({@link portKeys} lists the names).
   * @default {} (service ports; on loopback: service port + instance index, see docs/config.md)
   */
  readonly ports: Readonly<Record<string, number>>;
  readonly gateway: GatewaySettings;
  readonly api: ApiSettings;
  readonly redis: RedisSettings;
  readonly sentinel: SentinelSettings;
  readonly monitoring: MonitoringSettings;
  readonly kubernetes: KubernetesSettings;
  readonly loopback: LoopbackSettings;
}

type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { readonly [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** What a caller passes to {@link defineStack}: any subset of {@link StackSettings}. */
export type StackOverrides = DeepPartial<StackSettings>;

export const DEFAULT_SETTINGS: StackSettings = {
  name: 'evergreen',
  images: {
    nginx: 'nginx:1.27.4-alpine',
    nginxUnprivileged: 'nginxinc/nginx-unprivileged:1.27.4-alpine',
    api: 'evergreen/api',
    redis: 'redis:7.4.2-alpine',
    prometheus: 'prom/prometheus:v2.55.1',
    alertmanager: 'prom/alertmanager:v0.28.0',
    grafana: 'grafana/grafana:11.4.0',
    redisExporter: 'oliver006/redis_exporter:v1.67.0',
    nginxExporter: 'nginx/nginx-prometheus-exporter:1.4.0',
  },
  network: { subnet: '172.20.0.0/24', addresses: {} },
  ports: {},
  gateway: {
    port: 8080,
    publishedPort: 8080,
    statusPort: 8081,
    workerProcesses: 'auto',
    workerConnections: 1024,
    upstreamKeepalive: 128,
    balancing: 'round-robin',
    connectTimeout: '2s',
    readTimeout: '15s',
    sendTimeout: '15s',
    retries: 2,
    retryTimeout: '30s',
    clientMaxBodySize: '64k',
    rateLimit: { rate: '200r/s', burst: 400, zoneSize: '10m' },
    clientKeepaliveTimeout: '65s',
    trustedProxies: [],
    runDir: '/tmp',
  },
  api: { instances: 2, port: 8080, logLevel: 'info' },
  redis: {
    replicas: 2,
    port: 6379,
    masterName: 'evergreen',
    savePoints: [
      [3600, 1],
      [300, 100],
      [60, 10000],
    ],
    appendfsync: 'everysec',
    maxmemory: '256mb',
    maxmemoryPolicy: 'noeviction',
    minReplicasToWrite: 1,
    minReplicasMaxLagSeconds: 10,
    dataDir: '/data',
  },
  sentinel: {
    count: 3,
    quorum: 2,
    port: 26379,
    downAfterMs: 5000,
    failoverTimeoutMs: 30000,
    parallelSyncs: 1,
    dataDir: '/data',
  },
  monitoring: {
    scrapeInterval: '15s',
    evaluationInterval: '15s',
    retentionTime: '15d',
    retentionSize: '0',
    prometheusPort: 9090,
    alertmanagerPort: 9093,
    grafanaPort: 3000,
    redisExporterPort: 9121,
    nginxExporterPort: 9113,
    alertWebhookUrl: 'http://127.0.0.1:5001/alerts',
    grafanaAdminUser: 'admin',
    publishPrometheus: false,
    publishGrafana: false,
  },
  kubernetes: { namespace: 'evergreen', clusterDomain: 'cluster.local' },
  loopback: { workDir: '.tmp/loopback' },
};

// ---------------------------------------------------------------------------------------------
// The derived spec.
// ---------------------------------------------------------------------------------------------

/** Somewhere a client connects to. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** One process of the topology: a container (Docker), a pod (Kubernetes) or a loopback process. */
export interface ServiceInstance extends Endpoint {
  /** Instance name, unique in the stack: 'gateway', 'api-0', 'redis-1', 'sentinel-2', … */
  readonly name: string;
  readonly service: ServiceKind;
  /** Index within its service (0 for singletons). */
  readonly index: number;
  /**
   * Fixed IPv4 address on the Docker network (docker target only; `host` is this address then).
   * Loopback: '127.0.0.1'. Kubernetes: undefined (pods get addresses from the cluster).
   */
  readonly address: string | undefined;
  /** Docker container name / Kubernetes object name: `<stack>-<instance>` for Docker, the instance name otherwise. */
  readonly containerName: string;
  /** `host:port`. */
  readonly hostPort: string;
}

export interface RedisNode extends ServiceInstance {
  readonly service: 'redis';
  /** Role at first start: redis-0 is the master until Sentinel promotes another node. */
  readonly initialRole: 'master' | 'replica';
  /** Data directory (RDB, AOF). */
  readonly dataDir: string;
}

export interface SentinelInstance extends ServiceInstance {
  readonly service: 'sentinel';
  /** Working directory; Sentinel rewrites its config file here. */
  readonly dataDir: string;
}

export interface ExporterInstance extends ServiceInstance {
  readonly service: 'redis-exporter' | 'sentinel-exporter' | 'nginx-exporter';
  /** What it exports: the Redis node, Sentinel or gateway status listener it scrapes. */
  readonly target: Endpoint & { readonly name: string };
}

/** One Prometheus scrape job derived from the topology (job names fixed by the contracts). */
export interface ScrapeJob {
  readonly job: 'api' | 'nginx' | 'redis' | 'sentinel' | 'alertmanager' | 'prometheus';
  /** `host:port` of every target, with the instance it represents. */
  readonly targets: readonly { readonly address: string; readonly instance: string }[];
  /** HTTP path of the metrics. @default '/metrics' */
  readonly metricsPath: string;
}

/** The whole stack: settings with defaults applied, plus everything derived from them. */
export interface StackSpec {
  readonly target: StackTarget;
  /** The settings this spec was derived from (defaults applied). */
  readonly settings: StackSettings;
  readonly name: string;
  readonly images: ImageSettings;
  readonly network: {
    readonly name: string;
    readonly subnet: string;
    /** Docker's gateway address on the network (the subnet's first host). */
    readonly gatewayAddress: string;
  };
  readonly gateway: GatewaySettings & {
    readonly instance: ServiceInstance;
    /** Where the status listener is reached (the exporter's target). */
    readonly status: Endpoint;
    /** Every API endpoint nginx balances over (each instance; Kubernetes: the API Service). */
    readonly upstreams: readonly Endpoint[];
    /** Address the stub_status listener admits (the nginx exporter's; loopback: 127.0.0.1; k8s: pod network). */
    readonly statusAllowFrom: readonly string[];
    /** nginx pid file, and the directory nginx creates its temp directories in (both writable). */
    readonly pidFile: string;
    readonly tempDir: string;
    /** Address nginx listens on: 127.0.0.1 on loopback, every address otherwise. */
    readonly listenAddress: string | undefined;
  };
  readonly api: ApiSettings & {
    readonly instanceList: readonly ServiceInstance[];
    /** The non-secret environment every instance gets (PORT differs per instance on loopback). */
    readonly environment: Readonly<Record<string, string>>;
    /** Redis ACL user the API authenticates as (to Redis and to the Sentinels). */
    readonly redisUser: 'api';
  };
  readonly redis: RedisSettings & {
    readonly nodes: readonly RedisNode[];
    /** The node that is master at first start (redis-0). */
    readonly initialMaster: RedisNode;
    /** Address Redis binds: 127.0.0.1 on loopback, every address otherwise. */
    readonly bind: string;
  };
  readonly sentinel: SentinelSettings & {
    readonly instances: readonly SentinelInstance[];
    /** `sentinel monitor <name> <host> <port> <quorum>` */
    readonly monitorLine: string;
    /** Sentinels list for clients: `host:port,host:port,…` (`REDIS_SENTINELS`). */
    readonly sentinelList: string;
    /** Kubernetes: Sentinels resolve and announce host names instead of IPs. */
    readonly useHostnames: boolean;
    readonly bind: string;
  };
  readonly monitoring: MonitoringSettings & {
    readonly prometheus: ServiceInstance;
    readonly alertmanager: ServiceInstance;
    readonly grafana: ServiceInstance;
    readonly redisExporters: readonly ExporterInstance[];
    readonly sentinelExporters: readonly ExporterInstance[];
    readonly nginxExporter: ExporterInstance;
    readonly scrapeJobs: readonly ScrapeJob[];
  };
  readonly kubernetes: KubernetesSettings;
  readonly loopback: LoopbackSettings;
  /** Every instance of the stack, in a stable order. */
  readonly instances: readonly ServiceInstance[];
}

// ---------------------------------------------------------------------------------------------
// Derivation.
// ---------------------------------------------------------------------------------------------

/** Offset of each service's first address from the subnet base (docker target). */
export const ADDRESS_OFFSETS: Readonly<Record<ServiceKind, number>> = {
  gateway: 10,
  api: 20,
  redis: 60,
  sentinel: 80,
  'redis-exporter': 100,
  'sentinel-exporter': 120,
  'nginx-exporter': 140,
  prometheus: 150,
  alertmanager: 151,
  grafana: 152,
};

/** Kubernetes Service (and StatefulSet) name of each service. */
export const KUBERNETES_SERVICE_NAMES: Readonly<Record<ServiceKind, string>> = {
  gateway: 'gateway',
  api: 'api',
  redis: 'redis',
  sentinel: 'sentinel',
  'redis-exporter': 'redis',
  'sentinel-exporter': 'sentinel',
  'nginx-exporter': 'gateway',
  prometheus: 'prometheus',
  alertmanager: 'alertmanager',
  grafana: 'grafana',
};

export function ipv4ToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  return (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Base address (as integer) and prefix length of a CIDR. */
export function parseCidr(cidr: string): { base: number; prefix: number; size: number } {
  const [ip = '0.0.0.0', prefixText = '32'] = cidr.split('/');
  const prefix = Number(prefixText);
  const size = 2 ** (32 - prefix);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (ipv4ToInt(ip) & mask) >>> 0, prefix, size };
}

/** Is `ip` a usable host address of `cidr` (not the network or broadcast address)? */
export function isHostInSubnet(ip: string, cidr: string): boolean {
  const { base, size } = parseCidr(cidr);
  const n = ipv4ToInt(ip);
  return n > base && n < base + size - 1;
}

/**
 * Loopback default ports: the service's port plus an offset, distinct across services with the default
 * settings (every process shares 127.0.0.1).
 */
function loopbackPort(service: ServiceKind, index: number, s: StackSettings): number {
  switch (service) {
    case 'api':
      return servicePort(service, s) + 10 + index; // 8090, 8091… (8080 is the gateway's)
    case 'redis':
    case 'sentinel':
    case 'redis-exporter':
      return servicePort(service, s) + index;
    case 'sentinel-exporter':
      return servicePort(service, s) + 20 + index; // shares the redis exporter's port elsewhere
    default:
      return servicePort(service, s); // singletons
  }
}

function servicePort(service: ServiceKind, s: StackSettings): number {
  switch (service) {
    case 'gateway':
      return s.gateway.port;
    case 'api':
      return s.api.port;
    case 'redis':
      return s.redis.port;
    case 'sentinel':
      return s.sentinel.port;
    case 'redis-exporter':
    case 'sentinel-exporter':
      return s.monitoring.redisExporterPort;
    case 'nginx-exporter':
      return s.monitoring.nginxExporterPort;
    case 'prometheus':
      return s.monitoring.prometheusPort;
    case 'alertmanager':
      return s.monitoring.alertmanagerPort;
    case 'grafana':
      return s.monitoring.grafanaPort;
  }
}

/** Name of an instance: singletons by service name, the rest `<service>-<index>`. */
function instanceName(service: ServiceKind, index: number): string {
  switch (service) {
    case 'gateway':
    case 'nginx-exporter':
    case 'prometheus':
    case 'alertmanager':
    case 'grafana':
      return service;
    default:
      return `${service}-${index}`;
  }
}

/** Instance names and counts in stable order. */
function instancePlan(s: StackSettings): { service: ServiceKind; count: number }[] {
  const redisNodes = 1 + s.redis.replicas;
  return [
    { service: 'gateway', count: 1 },
    { service: 'api', count: s.api.instances },
    { service: 'redis', count: redisNodes },
    { service: 'sentinel', count: s.sentinel.count },
    { service: 'redis-exporter', count: redisNodes },
    { service: 'sentinel-exporter', count: s.sentinel.count },
    { service: 'nginx-exporter', count: 1 },
    { service: 'prometheus', count: 1 },
    { service: 'alertmanager', count: 1 },
    { service: 'grafana', count: 1 },
  ];
}

/** Every instance name of a stack with these settings (for `ports` / `network.addresses`). */
export function instanceNames(settings: StackSettings): string[] {
  return instancePlan(settings).flatMap(({ service, count }) =>
    Array.from({ length: count }, (_, i) => instanceName(service, i)),
  );
}

/** Keys accepted by `ports`: every instance name plus `gateway-status`. */
export function portKeys(settings: StackSettings): string[] {
  return [...instanceNames(settings), 'gateway-status'];
}

/** Deep-merge overrides onto the defaults (arrays and records replace / merge by key). */
export function applyDefaults(overrides: StackOverrides = {}): StackSettings {
  const merge = (base: unknown, over: unknown): unknown => {
    if (over === undefined) return base;
    if (
      base !== null &&
      typeof base === 'object' &&
      !Array.isArray(base) &&
      over !== null &&
      typeof over === 'object' &&
      !Array.isArray(over)
    ) {
      const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
      for (const [k, v] of Object.entries(over as Record<string, unknown>)) out[k] = merge(out[k], v);
      return out;
    }
    return over;
  };
  return merge(DEFAULT_SETTINGS, overrides) as StackSettings;
}

/**
 * Derive the full spec from settings (defaults already applied). Pure; does not validate — use
 * defineStack (config/validate.ts), which validates the settings first and the derived spec after.
 */
export function deriveSpec(settings: StackSettings, target: StackTarget): StackSpec {
  const s = settings;
  const subnet = parseCidr(s.network.subnet);
  const namespace = s.kubernetes.namespace;
  const domain = s.kubernetes.clusterDomain;
  const workDir = path.resolve(s.loopback.workDir);

  const hostOf = (service: ServiceKind, index: number, name: string): { host: string; address: string | undefined } => {
    if (target === 'loopback') return { host: '127.0.0.1', address: '127.0.0.1' };
    if (target === 'kubernetes') {
      const svc = KUBERNETES_SERVICE_NAMES[service];
      // Redis nodes and Sentinels are StatefulSet pods behind headless Services: each has a stable name.
      // Exporters run as sidecars of what they export, so they share its pod name.
      const perPod = service === 'redis' || service === 'sentinel' || service === 'redis-exporter' || service === 'sentinel-exporter';
      const pod = service === 'redis-exporter' ? `redis-${index}` : service === 'sentinel-exporter' ? `sentinel-${index}` : undefined;
      const host = perPod
        ? `${pod ?? name}.${svc}.${namespace}.svc.${domain}`
        : `${svc}.${namespace}.svc.${domain}`;
      return { host, address: undefined };
    }
    const address = s.network.addresses[name] ?? intToIpv4(subnet.base + ADDRESS_OFFSETS[service] + index);
    return { host: address, address };
  };

  const portOf = (service: ServiceKind, index: number, name: string): number =>
    s.ports[name] ?? (target === 'loopback' ? loopbackPort(service, index, s) : servicePort(service, s));

  const make = (service: ServiceKind, index: number): ServiceInstance => {
    const name = instanceName(service, index);
    const { host, address } = hostOf(service, index, name);
    const port = portOf(service, index, name);
    return {
      name,
      service,
      index,
      host,
      port,
      address,
      containerName: target === 'docker' ? `${s.name}-${name}` : name,
      hostPort: `${host}:${port}`,
    };
  };
  const many = (service: ServiceKind, count: number): ServiceInstance[] =>
    Array.from({ length: count }, (_, i) => make(service, i));
  const dirFor = (name: string, containerDir: string): string =>
    target === 'loopback' ? path.join(workDir, name) : containerDir;

  const gatewayInstance = make('gateway', 0);
  const apiInstances = many('api', s.api.instances);
  const redisNodes: RedisNode[] = many('redis', 1 + s.redis.replicas).map((i) => ({
    ...i,
    service: 'redis',
    initialRole: i.index === 0 ? 'master' : 'replica',
    dataDir: dirFor(i.name, s.redis.dataDir),
  }));
  const sentinels: SentinelInstance[] = many('sentinel', s.sentinel.count).map((i) => ({
    ...i,
    service: 'sentinel',
    dataDir: dirFor(i.name, s.sentinel.dataDir),
  }));
  const initialMaster = redisNodes[0] as RedisNode;

  const statusPort = s.ports['gateway-status'] ?? (target === 'loopback' ? s.gateway.statusPort : s.gateway.statusPort);
  const status: Endpoint = { host: gatewayInstance.host, port: statusPort };

  const exporter = (
    service: ExporterInstance['service'],
    index: number,
    target_: Endpoint & { name: string },
  ): ExporterInstance => ({ ...make(service, index), service, target: target_ });
  const redisExporters = redisNodes.map((n) => exporter('redis-exporter', n.index, n));
  const sentinelExporters = sentinels.map((n) => exporter('sentinel-exporter', n.index, n));
  const nginxExporter = exporter('nginx-exporter', 0, { ...status, name: 'gateway-status' });
  const prometheus = make('prometheus', 0);
  const alertmanager = make('alertmanager', 0);
  const grafana = make('grafana', 0);

  const upstreams: Endpoint[] =
    target === 'kubernetes'
      ? [{ host: `${KUBERNETES_SERVICE_NAMES.api}.${namespace}.svc.${domain}`, port: s.api.port }]
      : apiInstances.map(({ host, port }) => ({ host, port }));

  const statusAllowFrom =
    target === 'docker'
      ? [nginxExporter.host]
      : target === 'loopback'
        ? ['127.0.0.1']
        : ['127.0.0.1']; // Kubernetes: the exporter is a sidecar in the gateway pod
  const runDir = target === 'loopback' ? path.join(workDir, 'gateway') : s.gateway.runDir;
  const listenAll = target !== 'loopback';

  const sentinelList = sentinels.map((x) => x.hostPort).join(',');
  const monitorLine = `sentinel monitor ${s.redis.masterName} ${initialMaster.host} ${initialMaster.port} ${s.sentinel.quorum}`;

  const job = (j: ScrapeJob['job'], list: readonly ServiceInstance[]): ScrapeJob => ({
    job: j,
    metricsPath: '/metrics',
    targets: list.map((x) => ({ address: x.hostPort, instance: x.name })),
  });
  const scrapeJobs: ScrapeJob[] = [
    job('api', apiInstances),
    job('nginx', [nginxExporter]),
    job('redis', redisExporters),
    job('sentinel', sentinelExporters),
    job('alertmanager', [alertmanager]),
    job('prometheus', [prometheus]),
  ];

  const environment: Record<string, string> = {
    PORT: String(s.api.port),
    HOST: target === 'loopback' ? '127.0.0.1' : '0.0.0.0',
    REDIS_SENTINELS: sentinelList,
    REDIS_MASTER_NAME: s.redis.masterName,
    REDIS_USERNAME: 'api',
    LOG_LEVEL: s.api.logLevel,
  };

  const instances: ServiceInstance[] = [
    gatewayInstance,
    ...apiInstances,
    ...redisNodes,
    ...sentinels,
    ...redisExporters,
    ...sentinelExporters,
    nginxExporter,
    prometheus,
    alertmanager,
    grafana,
  ];

  return {
    target,
    settings: s,
    name: s.name,
    images: s.images,
    network: {
      name: s.network.name ?? s.name,
      subnet: s.network.subnet,
      gatewayAddress: intToIpv4(subnet.base + 1),
    },
    gateway: {
      ...s.gateway,
      instance: gatewayInstance,
      status,
      upstreams,
      statusAllowFrom,
      pidFile: path.posix.join(runDir, 'nginx.pid'),
      tempDir: target === 'loopback' ? path.posix.join(runDir, 'tmp') : runDir,
      runDir,
      listenAddress: listenAll ? undefined : '127.0.0.1',
    },
    api: { ...s.api, instanceList: apiInstances, environment, redisUser: 'api' },
    redis: { ...s.redis, nodes: redisNodes, initialMaster, bind: listenAll ? '* -::*' : '127.0.0.1' },
    sentinel: {
      ...s.sentinel,
      instances: sentinels,
      monitorLine,
      sentinelList,
      useHostnames: target === 'kubernetes',
      bind: listenAll ? '* -::*' : '127.0.0.1',
    },
    monitoring: {
      ...s.monitoring,
      prometheus,
      alertmanager,
      grafana,
      redisExporters,
      sentinelExporters,
      nginxExporter,
      scrapeJobs,
    },
    kubernetes: s.kubernetes,
    loopback: { workDir },
    instances,
  };
}

/** The environment of API instance `index` without secrets (add REDIS_PASSWORD and API_TOKENS). */
export function apiInstanceEnvironment(spec: StackSpec, index: number): Record<string, string> {
  const instance = spec.api.instanceList[index];
  if (!instance) throw new RangeError(`no API instance ${index} (the stack has ${spec.api.instances})`);
  return { ...spec.api.environment, PORT: String(instance.port) };
}
