import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiObject, Chart, Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import { REDIS_USERS, type StackSpec } from '../../../config';
import { renderRedisConf } from '../../../config/render/redis';
import { renderSentinelConf } from '../../../config/render/sentinel';
import { IMAGE_FACTS } from '../../images';
import { selectorLabels, workloadLabels, type Workload } from '../labels';
import {
  addVolumeClaimTemplate,
  configHash,
  containerResources,
  fromSecret,
  hardenPodTemplate,
  imagePullPolicy,
  podDisruptionBudget,
  probeTiming,
  publishNotReadyAddresses,
  restrictedContainer,
  restrictedPod,
  scratchVolume,
  selectPods,
} from '../pods';
import type { ManifestProps } from '../props';
import { placeholder, placeholderSecrets, redisPasswordEnv } from '../secrets';

/** Bound of a Redis pod's preStop handoff of the master role (redis-start.sh handoff). */
export const REDIS_HANDOFF_SECONDS = 20;

export interface RedisChartProps {
  readonly spec: StackSpec;
  readonly manifest: ManifestProps;
}

/** The start-up script shared by the Redis and Sentinel pods (and run for real by the tests). */
export const START_SCRIPT_PATH = join(__dirname, '..', 'scripts', 'redis-start.sh');
/** The script that restores a snapshot into a Redis volume (migration; docs/kubernetes.md). */
export const RESTORE_SCRIPT_PATH = join(__dirname, '..', 'scripts', 'redis-restore.sh');

/** Where the pods mount the ConfigMap with the templates and the script. */
const TEMPLATE_DIR = '/etc/evergreen';
/** Memory-backed emptyDir for the rendered redis.conf (it holds the passwords once rendered). */
const REDIS_RUN_DIR = '/run/redis';
/**
 * Size of each Sentinel's volume claim: its sentinel.conf, a few kilobytes (provisioners with a larger
 * minimum round it up).
 */
const SENTINEL_STORAGE = '64Mi';

/**
 * redis.conf template for every Redis pod: the model's redis.conf rendered with placeholder secrets.
 * The per-node lines (role, announced address) are the start-up script's business, so the template is
 * the first node's file; the script drops its `replicaof` / `replica-announce-*` lines and adds its own.
 */
export function redisConfTemplate(spec: StackSpec): string {
  return renderRedisConf(spec, placeholderSecrets(), spec.redis.initialMaster);
}

/** sentinel.conf template for every Sentinel pod (announce lines are replaced by the start-up script). */
export function sentinelConfTemplate(spec: StackSpec): string {
  const first = spec.sentinel.instances[0];
  if (!first) throw new Error('the stack has no Sentinel');
  return renderSentinelConf(spec, placeholderSecrets(), first);
}

/**
 * The stable DNS name of pod `$(POD_NAME)` behind the headless Service `service`. Kubernetes expands
 * `$(POD_NAME)` from the env var declared before it.
 */
function podHost(spec: StackSpec, service: string): string {
  return `$(POD_NAME).${service}.${spec.kubernetes.namespace}.svc.${spec.kubernetes.clusterDomain}`;
}

/**
 * Redis (a StatefulSet of 1 + `redis.replicas` nodes, each with its own volume) and the Sentinels (a
 * StatefulSet of `sentinel.count`), each behind a headless Service that gives every pod a stable DNS
 * name, with a redis_exporter sidecar per pod, PodDisruptionBudgets and anti-affinity.
 *
 * Both run scripts/redis-start.sh: a Redis pod asks the Sentinels for the current master (for a while
 * if none answers yet), else the other nodes, and otherwise makes pod 0 the master, so a restarted
 * former master rejoins as a replica; a Sentinel writes its config to its own volume claim (Sentinel
 * rewrites it) and monitors the master its peers (or the Redis nodes) name, else the master it saved
 * there in its previous run, so that a restart of every pod at once does not fall back to a pod 0 that
 * may have missed writes. Each pod gets only the passwords its template has placeholders for.
 */
export class RedisChart extends Chart {
  readonly redis: kplus.StatefulSet;
  readonly sentinel: kplus.StatefulSet;
  private readonly stack: string;

  constructor(scope: Construct, id: string, props: RedisChartProps) {
    const { spec, manifest } = props;
    super(scope, id, { namespace: spec.kubernetes.namespace });
    const stack = spec.name;
    this.stack = stack;
    const image = spec.images.redis;
    const facts = IMAGE_FACTS.redis;
    const runAs = { user: facts.user.uid, group: facts.user.gid };
    const exporterFacts = IMAGE_FACTS['redis-exporter'];
    const exporterRunAs = { user: exporterFacts.user.uid, group: exporterFacts.user.gid };
    const secrets = manifest.secrets;
    const redisLabels = workloadLabels(stack, 'redis', image);
    const sentinelLabels = workloadLabels(stack, 'sentinel', image);
    const exporterPort = spec.monitoring.redisExporterPort;

    const configData = {
      'redis.conf.template': redisConfTemplate(spec),
      'sentinel.conf.template': sentinelConfTemplate(spec),
      'redis-start.sh': readFileSync(START_SCRIPT_PATH, 'utf8'),
      'redis-restore.sh': readFileSync(RESTORE_SCRIPT_PATH, 'utf8'),
    };
    const config = new kplus.ConfigMap(this, 'config', {
      metadata: { name: 'redis-config', labels: redisLabels },
      data: configData,
    });

    const cli = facts.tools.find((t) => t.endsWith('/redis-cli')) ?? 'redis-cli';
    /**
     * Env of both kinds of pod: where the Sentinels and nodes are, who is master at first start, how to
     * ask, and the password of every Redis user whose placeholder `template` holds.
     */
    const commonEnv = (template: string): Record<string, kplus.EnvValue> => ({
      POD_NAME: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAME),
      REDIS_MASTER_NAME: kplus.EnvValue.fromValue(spec.redis.masterName),
      SENTINEL_ADDRESSES: kplus.EnvValue.fromValue(spec.sentinel.sentinelList),
      REDIS_BOOTSTRAP_MASTER_HOST: kplus.EnvValue.fromValue(spec.redis.initialMaster.host),
      REDIS_BOOTSTRAP_MASTER_PORT: kplus.EnvValue.fromValue(String(spec.redis.initialMaster.port)),
      REDIS_ADDRESSES: kplus.EnvValue.fromValue(spec.redis.nodes.map((n) => n.hostPort).join(',')),
      // The start script asks as the least-privileged user that may (SENTINEL GET-MASTER-ADDR-BY-NAME, INFO): `api`,
      // as on Docker (infra/components/redis-tier.ts); admin's rights are not needed to find the master.
      REDIS_QUERY_USER: kplus.EnvValue.fromValue('api'),
      REDIS_QUERY_PASSWORD: fromSecret(this, secrets.redisPasswords, 'api'),
      REDIS_CLI: kplus.EnvValue.fromValue(cli),
      // The probes authenticate as the read-only exporter user; redis-cli reads the password from here.
      REDISCLI_AUTH: fromSecret(this, secrets.redisPasswords, 'exporter'),
      ...Object.fromEntries(
        REDIS_USERS.filter((user) => template.includes(placeholder(redisPasswordEnv(user)))).map((user) => [
          redisPasswordEnv(user),
          fromSecret(this, secrets.redisPasswords, user),
        ]),
      ),
    });
    /** `redis-cli -e` turns an error reply (NOAUTH, LOADING, MASTERDOWN) into a failed probe. */
    const cliProbe = (port: number, ...command: string[]): string[] => [
      cli,
      '-e',
      '--no-auth-warning',
      '--user',
      'exporter',
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      ...command,
    ];

    const exporter = (name: string, address: string): kplus.ContainerProps => ({
      name,
      image: spec.images.redisExporter,
      imagePullPolicy: imagePullPolicy(manifest),
      command: [exporterFacts.binary],
      ports: [{ name: 'metrics', number: exporterPort }],
      envVariables: {
        REDIS_ADDR: kplus.EnvValue.fromValue(address),
        REDIS_USER: kplus.EnvValue.fromValue('exporter'),
        REDIS_PASSWORD: fromSecret(this, secrets.redisPasswords, 'exporter'),
        REDIS_EXPORTER_WEB_LISTEN_ADDRESS: kplus.EnvValue.fromValue(`:${exporterPort}`),
      },
      resources: containerResources(name === 'exporter' ? manifest.resources.redisExporter : manifest.resources.sentinelExporter),
      securityContext: restrictedContainer(exporterRunAs),
      readiness: kplus.Probe.fromHttpGet('/health', { port: exporterPort, ...probeTiming(10) }),
      liveness: kplus.Probe.fromHttpGet('/health', { port: exporterPort, ...probeTiming(20) }),
      startup: kplus.Probe.fromTcpSocket({ port: exporterPort, ...probeTiming(2, 15) }),
    });

    // ---- Redis ---------------------------------------------------------------------------------
    const redisService = new kplus.Service(this, 'redis-service', {
      metadata: { name: 'redis', labels: redisLabels },
      clusterIP: 'None',
      ports: [
        { name: 'redis', port: spec.redis.port, targetPort: spec.redis.port },
        { name: 'metrics', port: exporterPort, targetPort: exporterPort },
      ],
    });
    const templates = kplus.Volume.fromConfigMap(this, 'templates', config, { name: 'templates', defaultMode: 0o444 });
    const redisRun = scratchVolume(this, 'redis-run', 'run', true);
    this.redis = new kplus.StatefulSet(this, 'redis', {
      metadata: { name: 'redis', labels: redisLabels },
      podMetadata: { labels: redisLabels, annotations: configHash(configData['redis.conf.template'], configData['redis-start.sh']) },
      select: false,
      service: redisService,
      replicas: spec.redis.nodes.length,
      // Every node decides its own role at start (see redis-start.sh): no need to start them in order.
      podManagementPolicy: kplus.PodManagementPolicy.PARALLEL,
      securityContext: restrictedPod(runAs),
      automountServiceAccountToken: false,
      // the handoff (REDIS_HANDOFF_SECONDS) and then Redis' own shutdown (its snapshot, the AOF's fsync)
      terminationGracePeriod: Duration.seconds(REDIS_HANDOFF_SECONDS + 40),
      volumes: [templates, redisRun],
      containers: [
        {
          name: 'redis',
          image,
          imagePullPolicy: imagePullPolicy(manifest),
          command: ['/bin/sh', `${TEMPLATE_DIR}/redis-start.sh`, 'redis'],
          ports: [{ name: 'redis', number: spec.redis.port }],
          envVariables: {
            ...commonEnv(configData['redis.conf.template']),
            REDIS_SERVER: kplus.EnvValue.fromValue(facts.binary),
            REDIS_CONFIG_TEMPLATE: kplus.EnvValue.fromValue(`${TEMPLATE_DIR}/redis.conf.template`),
            REDIS_CONFIG_FILE: kplus.EnvValue.fromValue(`${REDIS_RUN_DIR}/redis.conf`),
            REDIS_ANNOUNCE_HOST: kplus.EnvValue.fromValue(podHost(spec, 'redis')),
            REDIS_PORT: kplus.EnvValue.fromValue(String(spec.redis.port)),
            // the preStop handoff pauses writes and asks a Sentinel for a failover: admin's rights
            REDIS_ADMIN_USER: kplus.EnvValue.fromValue('admin'),
            REDIS_ADMIN_PASSWORD: fromSecret(this, secrets.redisPasswords, 'admin'),
            REDIS_HANDOFF_SECONDS: kplus.EnvValue.fromValue(String(REDIS_HANDOFF_SECONDS)),
            // the hook's lines into the container's log (redis-server's stderr): the kubelet keeps none of its own
            REDIS_HANDOFF_LOG: kplus.EnvValue.fromValue('/proc/1/fd/2'),
          },
          // A rollout or a drain stops the pods in its own order, whatever their role: the master first hands its
          // role to a replica (redis-start.sh handoff), so writes pause for the failover instead of failing until
          // the Sentinels notice it is gone.
          lifecycle: { preStop: kplus.Handler.fromCommand(['/bin/sh', `${TEMPLATE_DIR}/redis-start.sh`, 'handoff']) },
          resources: containerResources(manifest.resources.redis),
          securityContext: restrictedContainer(runAs),
          volumeMounts: [
            { path: TEMPLATE_DIR, volume: templates, readOnly: true },
            { path: REDIS_RUN_DIR, volume: redisRun },
          ],
          // A replica without its master refuses PING (replica-serve-stale-data no): not ready, correctly.
          readiness: kplus.Probe.fromCommand(cliProbe(spec.redis.port, 'ping'), probeTiming(5)),
          // Alive while it answers INFO at all (loading a large AOF or syncing is not a reason to restart).
          liveness: kplus.Probe.fromCommand(cliProbe(spec.redis.port, 'info', 'server'), probeTiming(10, 6)),
          // Loading the AOF after a restart may take a while: up to 5 minutes before liveness counts.
          startup: kplus.Probe.fromCommand(cliProbe(spec.redis.port, 'info', 'server'), probeTiming(5, 60)),
        },
        exporter('exporter', `redis://127.0.0.1:${spec.redis.port}`),
      ],
    });
    this.redis.select(kplus.LabelSelector.of({ labels: selectorLabels(stack, 'redis') }));
    selectPods(redisService, selectorLabels(stack, 'redis'));
    this.spreadOverNodes(this.redis, 'redis');
    addVolumeClaimTemplate(this.redis, {
      name: 'data',
      size: manifest.storage.redis,
      storageClassName: manifest.storageClassName,
      labels: redisLabels,
      mounts: [{ container: 0, path: spec.redis.dataDir }],
    });
    hardenPodTemplate(this.redis);
    // Pod DNS names must resolve before the pods are ready: replicas and Sentinels need them to sync.
    publishNotReadyAddresses(redisService);
    podDisruptionBudget(this, 'redis-budget', {
      name: 'redis',
      labels: redisLabels,
      selector: selectorLabels(stack, 'redis'),
      // One node at a time: the others keep the master and at least one replica.
      maxUnavailable: 1,
    });

    // ---- Sentinels -----------------------------------------------------------------------------
    const sentinelService = new kplus.Service(this, 'sentinel-service', {
      metadata: { name: 'sentinel', labels: sentinelLabels },
      clusterIP: 'None',
      ports: [
        { name: 'sentinel', port: spec.sentinel.port, targetPort: spec.sentinel.port },
        { name: 'metrics', port: exporterPort, targetPort: exporterPort },
      ],
    });
    const sentinelTemplates = kplus.Volume.fromConfigMap(this, 'sentinel-templates', config, {
      name: 'templates',
      defaultMode: 0o444,
    });
    this.sentinel = new kplus.StatefulSet(this, 'sentinel', {
      metadata: { name: 'sentinel', labels: sentinelLabels },
      podMetadata: {
        labels: sentinelLabels,
        annotations: configHash(configData['sentinel.conf.template'], configData['redis-start.sh']),
      },
      select: false,
      service: sentinelService,
      replicas: spec.sentinel.count,
      podManagementPolicy: kplus.PodManagementPolicy.PARALLEL,
      securityContext: restrictedPod(runAs),
      automountServiceAccountToken: false,
      terminationGracePeriod: Duration.seconds(10),
      volumes: [sentinelTemplates],
      containers: [
        {
          name: 'sentinel',
          image,
          imagePullPolicy: imagePullPolicy(manifest),
          command: ['/bin/sh', `${TEMPLATE_DIR}/redis-start.sh`, 'sentinel'],
          ports: [{ name: 'sentinel', number: spec.sentinel.port }],
          envVariables: {
            ...commonEnv(configData['sentinel.conf.template']),
            REDIS_SERVER: kplus.EnvValue.fromValue(IMAGE_FACTS.sentinel.binary),
            SENTINEL_CONFIG_TEMPLATE: kplus.EnvValue.fromValue(`${TEMPLATE_DIR}/sentinel.conf.template`),
            SENTINEL_CONFIG_FILE: kplus.EnvValue.fromValue(`${spec.sentinel.dataDir}/sentinel.conf`),
            SENTINEL_ANNOUNCE_HOST: kplus.EnvValue.fromValue(podHost(spec, 'sentinel')),
            SENTINEL_PORT: kplus.EnvValue.fromValue(String(spec.sentinel.port)),
          },
          resources: containerResources(manifest.resources.sentinel),
          securityContext: restrictedContainer(runAs),
          // The data directory (sentinel.conf) is the volume claim added below.
          volumeMounts: [{ path: TEMPLATE_DIR, volume: sentinelTemplates, readOnly: true }],
          readiness: kplus.Probe.fromCommand(cliProbe(spec.sentinel.port, 'ping'), probeTiming(5)),
          liveness: kplus.Probe.fromCommand(cliProbe(spec.sentinel.port, 'ping'), probeTiming(10, 6)),
          startup: kplus.Probe.fromCommand(cliProbe(spec.sentinel.port, 'ping'), probeTiming(2, 30)),
        },
        exporter('sentinel-exporter', `redis://127.0.0.1:${spec.sentinel.port}`),
      ],
    });
    this.sentinel.select(kplus.LabelSelector.of({ labels: selectorLabels(stack, 'sentinel') }));
    selectPods(sentinelService, selectorLabels(stack, 'sentinel'));
    this.spreadOverNodes(this.sentinel, 'sentinel');
    // Sentinel rewrites its sentinel.conf at run time (the current master after a failover, its epochs)
    // and the start-up script reads it back at the next start: on a volume that outlives the pod. An
    // emptyDir would not: it is gone when the pod is re-created (a rollout, an eviction, a whole-cluster
    // restart), and Sentinels that all start fresh fall back to pod 0. The file holds the Sentinel's
    // passwords, like the Redis nodes' data holds the store's; only this pod mounts its claim.
    addVolumeClaimTemplate(this.sentinel, {
      name: 'data',
      size: SENTINEL_STORAGE,
      storageClassName: manifest.storageClassName,
      labels: sentinelLabels,
      mounts: [{ container: 0, path: spec.sentinel.dataDir }],
    });
    hardenPodTemplate(this.sentinel);
    publishNotReadyAddresses(sentinelService);
    podDisruptionBudget(this, 'sentinel-budget', {
      name: 'sentinel',
      labels: sentinelLabels,
      selector: selectorLabels(stack, 'sentinel'),
      // Quorum survives one Sentinel down, not two.
      maxUnavailable: 1,
    });
  }

  /**
   * The pods of one StatefulSet spread evenly over the nodes they may run on, as a rule (DoNotSchedule), not a
   * preference, which the scheduler may waive — and two Sentinels (the quorum), or the master and a replica, on
   * one node go down with it. maxSkew 1 still schedules all three on one or two nodes (counts differ by one at
   * most). nodeTaintsPolicy Honor: nodes whose taints the pods do not tolerate (a control plane, a cordoned node)
   * are no place to spread to — counted, a cluster of two workers and a tainted control plane could never place a
   * third pod. So a pod evicted by a drain joins the emptiest other node and stays there when the drained node is
   * back: deleting it then (`kubectl delete pod sentinel-2`) spreads it again.
   */
  private spreadOverNodes(statefulSet: kplus.StatefulSet, workload: Workload): void {
    ApiObject.of(statefulSet).addJsonPatch(
      JsonPatch.add('/spec/template/spec/topologySpreadConstraints', [
        {
          maxSkew: 1,
          topologyKey: 'kubernetes.io/hostname',
          whenUnsatisfiable: 'DoNotSchedule',
          nodeTaintsPolicy: 'Honor',
          labelSelector: { matchLabels: selectorLabels(this.stack, workload) },
        },
      ]),
    );
  }
}
