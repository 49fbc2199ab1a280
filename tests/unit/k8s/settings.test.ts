/**
 * Settings flow into the manifests: the model's counts and the manifest settings change exactly the
 * objects they should; bad settings are refused with every problem named, before anything is built.
 */
import { defineStack, StackValidationError } from '../../../config';
import { synthesizeManifests } from '../../../infra/k8s/app';
import { ManifestSettingsError, parseManifestProps } from '../../../infra/k8s/props';
import { configData, env, find, synth, workload } from './support/manifests';

const base = synth();

function claimStorage(objects: ReturnType<typeof synth>['objects'], name: string): string | undefined {
  const claim = workload(objects, name).claimTemplates[0] as { spec: { resources?: { requests?: { storage?: string } } } } | undefined;
  return claim?.spec.resources?.requests?.storage;
}

describe('settings → manifests', () => {
  it('API instances set the autoscaler minimum (the Deployment leaves the count to it)', () => {
    const more = synth({ api: { instances: 4 } }, { apiAutoscaling: { maxReplicas: 12, cpuUtilization: 55 } });
    expect(find(base.objects, 'HorizontalPodAutoscaler', 'api').spec).toMatchObject({ minReplicas: 2, maxReplicas: 10 });
    expect(find(more.objects, 'HorizontalPodAutoscaler', 'api').spec).toMatchObject({
      minReplicas: 4,
      maxReplicas: 12,
      metrics: [{ resource: { target: { averageUtilization: 55 } } }],
    });
    // a drain evicts one API pod at a time, whatever the autoscaler runs, and a single instance does not block it
    for (const objects of [more.objects, synth({ api: { instances: 1 } }).objects]) {
      const budget = find(objects, 'PodDisruptionBudget', 'api');
      expect(budget.spec).toMatchObject({ maxUnavailable: 1 });
      expect(budget.spec).not.toHaveProperty('minAvailable');
    }
  });

  it('headless Services name their pods before they are ready: Redis and Sentinel (to sync), the API and gateway pods (Prometheus keeps scraping an unready one)', () => {
    for (const name of ['redis', 'sentinel', 'api-pods', 'gateway-pods']) {
      expect({ name, spec: find(base.objects, 'Service', name).spec }).toMatchObject({ name, spec: { clusterIP: 'None', publishNotReadyAddresses: true } });
    }
  });

  it("a LoadBalancer gateway keeps the clients' addresses (externalTrafficPolicy Local); a NodePort answers on every node (Cluster)", () => {
    const policy = (objects: ReturnType<typeof synth>['objects']) => (find(objects, 'Service', 'gateway').spec as { externalTrafficPolicy?: string }).externalTrafficPolicy;
    expect(policy(base.objects)).toBe('Local');
    expect(policy(synth({}, { gatewayServiceType: 'NodePort' }).objects)).toBe('Cluster');
    expect(policy(synth({}, { gatewayServiceType: 'NodePort', gatewayExternalTrafficPolicy: 'Local' }).objects)).toBe('Local');
    expect(policy(synth({}, { gatewayExternalTrafficPolicy: 'Cluster' }).objects)).toBe('Cluster');
    // a ClusterIP Service refuses the field
    expect(policy(synth({}, { gatewayServiceType: 'ClusterIP' }).objects)).toBeUndefined();
    expect(() => parseManifestProps({ gatewayExternalTrafficPolicy: 'local' })).toThrow(/gatewayExternalTrafficPolicy/);
  });

  it('DNS reached by address too (NodeLocal DNSCache): dns.ipBlocks join the DNS egress rule; a bad range is refused', () => {
    const egress = (objects: ReturnType<typeof synth>['objects']) =>
      (find(objects, 'NetworkPolicy', 'allow-dns').spec as { egress: { to: unknown[] }[] }).egress[0]?.to;
    expect(egress(base.objects)).toHaveLength(1);
    expect(egress(synth({}, { dns: { ipBlocks: ['169.254.20.10/32'] } }).objects)).toEqual([
      expect.objectContaining({ podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }),
      { ipBlock: { cidr: '169.254.20.10/32' } },
    ]);
    expect(() => parseManifestProps({ dns: { ipBlocks: ['169.254.20.10'] } })).toThrow(/dns\.ipBlocks\.0: must be an IPv4 CIDR range/);
  });

  it('Redis and Sentinel pods are spread over the nodes as a rule, not a preference (a drain must not leave the quorum on one node)', () => {
    for (const name of ['redis', 'sentinel']) {
      const w = workload(base.objects, name);
      const spec = (w.object.spec as { template: { spec: { topologySpreadConstraints?: unknown[] } } }).template.spec;
      expect({ name, constraints: spec.topologySpreadConstraints }).toEqual({
        name,
        constraints: [
          // Honor: a tainted node (control plane, cordoned) is no domain to spread to, or a third pod could never be placed
          { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', nodeTaintsPolicy: 'Honor', labelSelector: { matchLabels: w.selector } },
        ],
      });
    }
  });

  it('a stopping API or gateway pod serves on while the endpoints drop it, and its grace period covers that and the drain', () => {
    const api = workload(base.objects, 'api').pod;
    const apiDelayMs = Number(env(api.containers[0]!, 'API_SHUTDOWN_DELAY_MS'));
    expect(apiDelayMs).toBeGreaterThanOrEqual(3000);
    // the delay, then the API's drain (API_SHUTDOWN_TIMEOUT_MS, 10 s by default)
    expect(api.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(apiDelayMs + 10_000);
    const gatewayStop = (objects: ReturnType<typeof synth>['objects']) => {
      const pod = workload(objects, 'gateway').pod;
      const preStop = pod.containers.find((c) => c.name === 'nginx')?.lifecycle?.preStop?.exec?.command;
      expect(preStop?.[0]).toBe('sleep');
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(preStop?.[1]) + 5);
      return Number(preStop?.[1]);
    };
    // behind a load balancer with the Local policy, until its health checks of the node find no gateway (10–30 s)
    expect(gatewayStop(base.objects)).toBeGreaterThanOrEqual(30);
    // behind a Service alone, until its endpoints drop the pod
    expect(gatewayStop(synth({}, { gatewayServiceType: 'ClusterIP' }).objects)).toBeGreaterThanOrEqual(3);
  });

  it("the gateway Service (perhaps a LoadBalancer) carries nginx's port only; the exporters' port is on the headless gateway-pods", () => {
    const ports = (name: string) => (find(base.objects, 'Service', name).spec as { ports: { port: number }[] }).ports.map((p) => p.port);
    expect(ports('gateway')).toEqual([base.spec.gateway.instance.port]);
    expect(ports('gateway-pods')).toEqual([base.spec.monitoring.nginxExporter.port]);
  });

  it('Redis replicas set the StatefulSet size and every address list that names the nodes', () => {
    const more = synth({ redis: { replicas: 4 } });
    expect((find(base.objects, 'StatefulSet', 'redis').spec as { replicas: number }).replicas).toBe(3);
    expect((find(more.objects, 'StatefulSet', 'redis').spec as { replicas: number }).replicas).toBe(5);
    const sentinel = workload(more.objects, 'sentinel').pod.containers[0];
    expect(sentinel && env(sentinel, 'REDIS_ADDRESSES')?.split(',')).toEqual(
      [0, 1, 2, 3, 4].map((i) => `redis-${i}.redis.evergreen.svc.cluster.local:6379`),
    );
    const prometheus = configData(more.objects, 'prometheus-config', 'prometheus.yml');
    expect(prometheus).toContain('redis-4.redis.evergreen.svc.cluster.local:9121');
  });

  it('Sentinel count and quorum set the Sentinel StatefulSet, the API and the monitor line', () => {
    const five = synth({ sentinel: { count: 5, quorum: 3 } });
    expect((find(five.objects, 'StatefulSet', 'sentinel').spec as { replicas: number }).replicas).toBe(5);
    const api = workload(five.objects, 'api').pod.containers[0];
    expect(api && env(api, 'REDIS_SENTINELS')?.split(',')).toHaveLength(5);
    const template = configData(five.objects, 'redis-config', 'sentinel.conf.template');
    expect(template).toMatch(/^sentinel monitor evergreen redis-0\.redis\.evergreen\.svc\.cluster\.local 6379 3$/m);
  });

  it('storage sizes set the volume claim of each StatefulSet (the k8s.Quantity trap)', () => {
    expect(claimStorage(base.objects, 'redis')).toBe('1Gi');
    expect(claimStorage(base.objects, 'prometheus')).toBe('10Gi');
    const bigger = synth({}, { storage: { redis: '8Gi', prometheus: '50Gi', grafana: '2Gi' }, storageClassName: 'fast-ssd' });
    expect(claimStorage(bigger.objects, 'redis')).toBe('8Gi');
    expect(claimStorage(bigger.objects, 'prometheus')).toBe('50Gi');
    expect(claimStorage(bigger.objects, 'grafana')).toBe('2Gi');
    expect(claimStorage(bigger.objects, 'alertmanager')).toBe('1Gi');
    expect(workload(bigger.objects, 'redis').claimTemplates[0]?.spec).toMatchObject({ storageClassName: 'fast-ssd' });
  });

  it('namespace, ports and images come from the model', () => {
    const other = synth({ kubernetes: { namespace: 'shop' }, redis: { port: 6380 }, images: { redis: 'redis:7.4.3-alpine' } });
    expect(other.objects.every((o) => o.kind === 'Namespace' ? o.metadata.name === 'shop' : o.metadata.namespace === 'shop')).toBe(true);
    const redis = workload(other.objects, 'redis');
    expect(redis.pod.containers[0]?.image).toBe('redis:7.4.3-alpine');
    expect(redis.pod.containers[0]?.ports).toEqual([{ containerPort: 6380, name: 'redis' }]);
    expect(redis.podLabels['app.kubernetes.io/version']).toBe('7.4.3-alpine');
    const api = workload(other.objects, 'api').pod.containers[0];
    expect(api && env(api, 'REDIS_SENTINELS')).toContain('sentinel-0.sentinel.shop.svc.cluster.local:26379');
  });

  it('the gateway Service type, replicas and Ingress follow the manifest settings', () => {
    expect((find(base.objects, 'Service', 'gateway').spec as { type: string }).type).toBe('LoadBalancer');
    const internal = synth({}, { gatewayServiceType: 'ClusterIP', gatewayReplicas: 2, ingress: { host: 'shop.example.com', className: 'nginx' } });
    expect((find(internal.objects, 'Service', 'gateway').spec as { type: string }).type).toBe('ClusterIP');
    expect((find(internal.objects, 'Deployment', 'gateway').spec as { replicas: number }).replicas).toBe(2);
    expect(find(internal.objects, 'Ingress', 'gateway').spec).toMatchObject({
      ingressClassName: 'nginx',
      rules: [{ host: 'shop.example.com' }],
    });
  });

  it('a changed config changes the hash annotation of exactly the pods that read it (so apply rolls them)', () => {
    const hash = (objects: ReturnType<typeof synth>['objects'], name: string) =>
      (workload(objects, name).object.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template.metadata
        .annotations?.['evergreen.dev/config-hash'];
    const tuned = synth({ redis: { maxmemory: '320mb' } });
    expect(hash(tuned.objects, 'redis')).toMatch(/^[0-9a-f]{16}$/);
    expect(hash(tuned.objects, 'redis')).not.toBe(hash(base.objects, 'redis'));
    for (const unchanged of ['sentinel', 'gateway', 'prometheus', 'alertmanager', 'grafana']) {
      expect({ [unchanged]: hash(tuned.objects, unchanged) }).toEqual({ [unchanged]: hash(base.objects, unchanged) });
    }
  });

  it('bad manifest settings are refused with every problem named', () => {
    let caught: unknown;
    try {
      parseManifestProps({ storage: { redis: '1GB' }, gatewayServiceType: 'Public', resources: { api: { cpuRequest: '2', cpuLimit: '1' } }, extra: 1 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ManifestSettingsError);
    const problems = (caught as ManifestSettingsError).problems.join('\n');
    expect(problems).toMatch(/storage\.redis: must be a size/);
    expect(problems).toMatch(/gatewayServiceType/);
    expect(problems).toMatch(/extra/);
    expect(() => parseManifestProps({ resources: { api: { cpuRequest: '2', cpuLimit: '1' } } })).toThrow(/resources\.api: cpuRequest exceeds cpuLimit/);
  });

  it('bad stack settings are refused by the model, and only a kubernetes spec is accepted', () => {
    expect(() => synth({ sentinel: { count: 2 } })).toThrow(StackValidationError);
    expect(() => synthesizeManifests(defineStack({}, 'docker'), parseManifestProps({}))).toThrow(/target 'kubernetes'/);
  });

  it('a receiver config from a Secret: its host and port open the egress, nothing of the URL is in the manifests; a loopback URL is refused', () => {
    const manifest = parseManifestProps({ secrets: { alertmanagerConfig: 'alertmanager-secret' } });
    expect(() => synthesizeManifests(defineStack({}, 'kubernetes'), manifest)).toThrow(
      /secrets\.alertmanagerConfig: the stack's monitoring\.alertWebhookUrl \(http:\/\/127\.0\.0\.1:5001\/alerts\) is a loopback placeholder/,
    );
    const files = synthesizeManifests(defineStack({ monitoring: { alertWebhookUrl: 'https://hooks.example.com:8443/T0KEN' } }, 'kubernetes'), manifest);
    const objects = files.flatMap((f) => f.objects);
    expect(JSON.stringify(objects)).not.toMatch(/T0KEN|hooks\.example\.com/);
    expect(find(objects, 'NetworkPolicy', 'allow-alertmanager').spec).toMatchObject({
      egress: expect.arrayContaining([{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ protocol: 'TCP', port: 8443 }] }]),
    });
  });

  it("refuses a Redis memory limit the kernel would hit before maxmemory (and an unlimited maxmemory), as Docker's settings do", () => {
    const limit = (maxmemory: string, memoryLimit: string) => () =>
      synthesizeManifests(defineStack({ redis: { maxmemory } }, 'kubernetes'), parseManifestProps({ resources: { redis: { memoryLimit } } }));
    expect(limit('2gb', '768Mi')).toThrow(ManifestSettingsError);
    expect(limit('2gb', '768Mi')).toThrow(/resources\.redis\.memoryLimit: must be at least 2 × redis\.maxmemory \(2gb\).*got 768Mi/);
    expect(limit('0', '64Gi')).toThrow(/i\.e\. unlimited: set a maxmemory/);
    expect(limit('512mb', '768Mi')).toThrow(/at least 2 ×/); // a snapshot's fork may copy the data set
    expect(limit('384mb', '768Mi')).not.toThrow();
    expect(limit('2gb', '4Gi')).not.toThrow();
  });
});
