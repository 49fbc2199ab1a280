import { ApiObject, Chart, Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import type { StackSpec } from '../../../config';
import { KUBERNETES_GATEWAY_PODS_SERVICE, renderNginxConf } from '../../../config/render';
import { IMAGE_FACTS } from '../../images';
import { selectorLabels, workloadLabels } from '../labels';
import {
  configHash,
  containerResources,
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

export interface GatewayChartProps {
  readonly spec: StackSpec;
  readonly manifest: ManifestProps;
}

/**
 * How long a stopping gateway pod goes on serving before nginx is stopped (its preStop hook): until the Service's
 * endpoints drop it (seconds) — or, behind a load balancer with the Local traffic policy, until the load balancer's
 * health checks of the node's health-check port find no gateway there (cloud defaults: 10–30 s).
 */
function gatewayStopDelaySeconds(manifest: ManifestProps): number {
  return manifest.gatewayServiceType !== 'ClusterIP' && externalTrafficPolicy(manifest) === 'Local' ? 30 : 5;
}

/** The gateway Service's externalTrafficPolicy (not for ClusterIP): see ManifestProps.gatewayExternalTrafficPolicy. */
function externalTrafficPolicy(manifest: ManifestProps): 'Local' | 'Cluster' {
  return manifest.gatewayExternalTrafficPolicy ?? (manifest.gatewayServiceType === 'LoadBalancer' ? 'Local' : 'Cluster');
}

/** Where the gateway pod mounts the rendered nginx.conf. */
const NGINX_CONFIG_DIR = '/etc/nginx/evergreen';

/**
 * The gateway: nginx (the unprivileged image, so nothing runs as root) with the rendered nginx.conf
 * from a ConfigMap, an nginx-prometheus-exporter sidecar reading stub_status on 127.0.0.1, a Service
 * of the type `gatewayServiceType` chooses and, when `ingress` is set, an Ingress.
 *
 * The exporters are scraped pod by pod through the headless Service `gateway-pods`, which alone carries
 * their port: the `gateway` Service (perhaps a LoadBalancer) carries nginx's only. The NetworkPolicy
 * admits the exporter's port from Prometheus only.
 */
export class GatewayChart extends Chart {
  constructor(scope: Construct, id: string, props: GatewayChartProps) {
    const { spec, manifest } = props;
    super(scope, id, { namespace: spec.kubernetes.namespace });
    const stack = spec.name;
    const image = spec.images.nginxUnprivileged;
    const labels = workloadLabels(stack, 'gateway', image);
    const facts = IMAGE_FACTS.gateway;
    const runAs = { user: facts.user.uid, group: facts.user.gid };
    const exporterFacts = IMAGE_FACTS['nginx-exporter'];
    const exporterRunAs = { user: exporterFacts.user.uid, group: exporterFacts.user.gid };
    const port = spec.gateway.instance.port;
    const exporterPort = spec.monitoring.nginxExporter.port;

    const nginxConf = renderNginxConf(spec);
    const config = new kplus.ConfigMap(this, 'config', {
      metadata: { name: 'gateway-config', labels },
      data: { 'nginx.conf': nginxConf },
    });
    const configVolume = kplus.Volume.fromConfigMap(this, 'config-volume', config, { name: 'config', defaultMode: 0o444 });
    // pid file (gateway.runDir of the model) and temp files (gateway.tempDir) on writable volumes. nginx
    // creates its temp directories but not their parent, so a tempDir other than runDir is a mount too.
    const run = scratchVolume(this, 'run', 'run');
    const separateTemp = spec.gateway.tempDir !== spec.gateway.runDir;
    const temp = separateTemp ? [scratchVolume(this, 'temp', 'temp')] : [];

    const deployment = new kplus.Deployment(this, 'deployment', {
      metadata: { name: 'gateway', labels },
      podMetadata: { labels, annotations: configHash(nginxConf) },
      select: false,
      replicas: manifest.gatewayReplicas,
      securityContext: restrictedPod(runAs),
      automountServiceAccountToken: false,
      // the preStop delay, then nginx's graceful stop
      terminationGracePeriod: Duration.seconds(gatewayStopDelaySeconds(manifest) + 15),
      volumes: [configVolume, run, ...temp],
      containers: [
        {
          name: 'nginx',
          image,
          imagePullPolicy: imagePullPolicy(manifest),
          // The image's entrypoint scripts rewrite files under /etc/nginx; run nginx itself instead.
          // `-e stderr`: the compiled-in error log path is on the read-only root file system.
          command: [facts.binary, '-e', 'stderr', '-c', `${NGINX_CONFIG_DIR}/nginx.conf`, '-g', 'daemon off;'],
          ports: [{ name: 'http', number: port }],
          resources: containerResources(manifest.resources.gateway),
          securityContext: restrictedContainer(runAs),
          volumeMounts: [
            { path: NGINX_CONFIG_DIR, volume: configVolume, readOnly: true },
            { path: spec.gateway.runDir, volume: run },
            ...temp.map((volume) => ({ path: spec.gateway.tempDir, volume })),
          ],
          // Endpoints (and a load balancer) drop a stopping pod a few seconds after it is told to stop: nginx serves on
          // meanwhile, then takes the image's stop signal (SIGQUIT: a graceful stop) within terminationGracePeriod.
          lifecycle: { preStop: kplus.Handler.fromCommand(['sleep', String(gatewayStopDelaySeconds(manifest))]) },
          // nginx itself, not the API behind it (an API outage must not take the gateway out of service:
          // it answers 503 problem+json then).
          readiness: kplus.Probe.fromTcpSocket({ port, ...probeTiming(5) }),
          liveness: kplus.Probe.fromTcpSocket({ port, ...probeTiming(10) }),
          startup: kplus.Probe.fromTcpSocket({ port, ...probeTiming(2, 15) }),
        },
        {
          name: 'exporter',
          image: spec.images.nginxExporter,
          imagePullPolicy: imagePullPolicy(manifest),
          command: [exporterFacts.binary],
          args: [
            `--nginx.scrape-uri=http://127.0.0.1:${spec.gateway.status.port}/stub_status`,
            `--web.listen-address=:${exporterPort}`,
          ],
          ports: [{ name: 'metrics', number: exporterPort }],
          resources: containerResources(manifest.resources.nginxExporter),
          securityContext: restrictedContainer(exporterRunAs),
          readiness: kplus.Probe.fromHttpGet('/metrics', { port: exporterPort, ...probeTiming(10) }),
          liveness: kplus.Probe.fromTcpSocket({ port: exporterPort, ...probeTiming(20) }),
          startup: kplus.Probe.fromTcpSocket({ port: exporterPort, ...probeTiming(2, 15) }),
        },
      ],
    });
    deployment.select(kplus.LabelSelector.of({ labels: selectorLabels(stack, 'gateway') }));
    deployment.scheduling.spread({ topology: kplus.Topology.HOSTNAME, weight: 50 });
    hardenPodTemplate(deployment);

    const service = new kplus.Service(this, 'service', {
      metadata: { name: 'gateway', labels },
      type: kplus.ServiceType[serviceTypeKey(manifest.gatewayServiceType)],
      ports: [{ name: 'http', port, targetPort: port }],
    });
    selectPods(service, selectorLabels(stack, 'gateway'));
    if (manifest.gatewayServiceType !== 'ClusterIP') {
      // (not among cdk8s-plus' Service props)
      ApiObject.of(service).addJsonPatch(JsonPatch.add('/spec/externalTrafficPolicy', externalTrafficPolicy(manifest)));
    }
    const podsService = new kplus.Service(this, 'pods-service', {
      // Prometheus' `nginx` job scrapes each pod's exporter through this name's DNS (config/render/prometheus.ts);
      // the exporter's port is not on the `gateway` Service, which may face the internet.
      metadata: { name: KUBERNETES_GATEWAY_PODS_SERVICE, labels },
      clusterIP: 'None',
      ports: [{ name: 'metrics', port: exporterPort, targetPort: exporterPort }],
    });
    selectPods(podsService, selectorLabels(stack, 'gateway'));
    // Every pod, ready or not: a pod whose nginx fails its probe must stay a target, or its nginx_up 0 vanishes.
    publishNotReadyAddresses(podsService);

    if (manifest.ingress) {
      const { host, className, tlsSecretName } = manifest.ingress;
      const ingress = new kplus.Ingress(this, 'ingress', {
        metadata: { name: 'gateway', labels },
        className,
        ...(tlsSecretName === undefined
          ? {}
          : { tls: [{ hosts: [host], secret: kplus.Secret.fromSecretName(this, 'tls-secret', tlsSecretName) }] }),
      });
      ingress.addHostDefaultBackend(host, kplus.IngressBackend.fromService(service, { port }));
    }

    // With a single gateway pod a budget would block every node drain; with more, keep one serving.
    if (manifest.gatewayReplicas > 1) {
      podDisruptionBudget(this, 'disruption-budget', {
        name: 'gateway',
        labels,
        selector: selectorLabels(stack, 'gateway'),
        minAvailable: 1,
      });
    }
  }
}

function serviceTypeKey(type: ManifestProps['gatewayServiceType']): 'CLUSTER_IP' | 'NODE_PORT' | 'LOAD_BALANCER' {
  switch (type) {
    case 'ClusterIP':
      return 'CLUSTER_IP';
    case 'NodePort':
      return 'NODE_PORT';
    default:
      return 'LOAD_BALANCER';
  }
}
