import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Chart, Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import type { StackSpec } from '../../../config';
import { KUBERNETES_API_PODS_SERVICE } from '../../../config/render';
import { IMAGE_FACTS } from '../../images';
import { selectorLabels, workloadLabels } from '../labels';
import {
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

/** How long a stopping API pod goes on serving (API_SHUTDOWN_DELAY_MS) while the Service's endpoints catch up. */
export const API_SHUTDOWN_DELAY_MS = 5_000;

export interface ApiChartProps {
  readonly spec: StackSpec;
  readonly manifest: ManifestProps;
}

/** The API image reference: the `apiImage` setting, else the model's image name tagged with the project version. */
export function apiImage(spec: StackSpec, manifest: ManifestProps): string {
  if (manifest.apiImage !== undefined) return manifest.apiImage;
  const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  return `${spec.images.api}:${version}`;
}

/**
 * The API: a Deployment scaled by a HorizontalPodAutoscaler (from the model's `api.instances` up to
 * `apiAutoscaling.maxReplicas`, by CPU), a Service the gateway proxies to, a headless Service for
 * Prometheus, and a PodDisruptionBudget that lets a node drain evict one API pod at a time.
 */
export class ApiChart extends Chart {
  readonly deployment: kplus.Deployment;

  constructor(scope: Construct, id: string, props: ApiChartProps) {
    const { spec, manifest } = props;
    super(scope, id, { namespace: spec.kubernetes.namespace });
    const stack = spec.name;
    const image = apiImage(spec, manifest);
    const labels = workloadLabels(stack, 'api', image);
    const runAs = { user: IMAGE_FACTS.api.user.uid, group: IMAGE_FACTS.api.user.gid };
    const port = spec.api.port;
    const secrets = manifest.secrets;

    const tmp = scratchVolume(this, 'tmp', 'tmp');
    this.deployment = new kplus.Deployment(this, 'deployment', {
      metadata: { name: 'api', labels },
      podMetadata: { labels },
      select: false,
      // No `replicas`: the autoscaler owns the count (from api.instances up).
      securityContext: restrictedPod(runAs),
      automountServiceAccountToken: false,
      // the delay above, the drain (API_SHUTDOWN_TIMEOUT_MS, 10 s) and the Redis clients' QUIT
      terminationGracePeriod: Duration.seconds(30),
      volumes: [tmp],
      containers: [
        {
          name: 'api',
          image,
          imagePullPolicy: imagePullPolicy(manifest),
          // As the image's CMD (api/Dockerfile), stated so that any image with the same layout works.
          command: [IMAGE_FACTS.api.binary, 'build/api/src/main.js'],
          workingDir: IMAGE_FACTS.api.configDir,
          ports: [{ name: 'http', number: port }],
          envVariables: {
            ...Object.fromEntries(Object.entries(spec.api.environment).map(([k, v]) => [k, kplus.EnvValue.fromValue(v)])),
            // Endpoints drop a stopping pod a second or two after it is told to stop: it serves on meanwhile, or
            // the connections kube-proxy still sends it would be refused — nginx has no other server to retry.
            API_SHUTDOWN_DELAY_MS: kplus.EnvValue.fromValue(String(API_SHUTDOWN_DELAY_MS)),
            REDIS_PASSWORD: fromSecret(this, secrets.redisPasswords, spec.api.redisUser),
            API_TOKENS: fromSecret(this, secrets.apiTokens, 'tokens'),
          },
          resources: containerResources(manifest.resources.api),
          securityContext: restrictedContainer(runAs),
          volumeMounts: [{ path: '/tmp', volume: tmp }],
          // Ready only while the Redis master is writable: the Service then sends traffic elsewhere.
          readiness: kplus.Probe.fromHttpGet('/readyz', { port, ...probeTiming(5) }),
          // Alive while the process answers at all (a Redis outage must not restart every API pod).
          liveness: kplus.Probe.fromHttpGet('/healthz', { port, ...probeTiming(10) }),
          startup: kplus.Probe.fromHttpGet('/healthz', { port, ...probeTiming(2, 30) }),
        },
      ],
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: selectorLabels(stack, 'api') }));
    this.deployment.scheduling.spread({ topology: kplus.Topology.HOSTNAME, weight: 50 });
    hardenPodTemplate(this.deployment);

    const service = new kplus.Service(this, 'service', {
      metadata: { name: 'api', labels },
      ports: [{ name: 'http', port, targetPort: port }],
    });
    selectPods(service, selectorLabels(stack, 'api'));
    const podsService = new kplus.Service(this, 'pods-service', {
      // Prometheus' `api` job discovers every pod through this name's DNS (config/render/prometheus.ts).
      metadata: { name: KUBERNETES_API_PODS_SERVICE, labels },
      clusterIP: 'None',
      ports: [{ name: 'http', port, targetPort: port }],
    });
    selectPods(podsService, selectorLabels(stack, 'api'));
    // Every pod, ready or not: an unready pod (/readyz 503 while the master is not writable) must stay a scrape
    // target, or its evergreen_redis_master_writable 0 and its up 0 vanish before an alert's `for:` has passed.
    publishNotReadyAddresses(podsService);

    new kplus.HorizontalPodAutoscaler(this, 'autoscaler', {
      metadata: { name: 'api', labels },
      target: this.deployment,
      minReplicas: spec.api.instances,
      maxReplicas: Math.max(manifest.apiAutoscaling.maxReplicas, spec.api.instances),
      metrics: [kplus.Metric.resourceCpu(kplus.MetricTarget.averageUtilization(manifest.apiAutoscaling.cpuUtilization))],
    });

    podDisruptionBudget(this, 'disruption-budget', {
      name: 'api',
      labels,
      selector: selectorLabels(stack, 'api'),
      // One pod at a time, however many the autoscaler runs. Not minAvailable: instances - 1 fixed at synth time
      // would let a drain take many pods once the autoscaler has scaled up, and block every drain with one instance.
      maxUnavailable: 1,
    });
  }
}
