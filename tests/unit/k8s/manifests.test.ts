/**
 * The synthesized manifests are valid Kubernetes 1.27 objects: kubernetes-models schemas, API versions
 * served by 1.27, no unknown field; recommended labels everywhere; every container with resources,
 * probes and a non-root security context; no secret value anywhere.
 */
import { parseAllDocuments } from 'yaml';
import { manifestYaml, type ManifestFile } from '../../../infra/k8s/app';
import { isServedBy127, unknownFields, type KubeObject } from './support/kube-fields';
import { schemaProblems } from './support/kube-models';
import { containers, synth, workloads } from './support/manifests';

const defaults = synth();
const withIngress = synth({}, { ingress: { host: 'shop.example.com', tlsSecretName: 'shop-tls' }, gatewayReplicas: 2 });
const all = [...defaults.objects, ...withIngress.objects] as unknown as KubeObject[];

describe('synthesized manifests', () => {
  it('holds every object the stack needs, one file per concern, namespace first', () => {
    expect(defaults.files.map((f) => f.name)).toEqual([
      '00-namespace.k8s.yaml',
      '10-network-policies.k8s.yaml',
      '20-redis.k8s.yaml',
      '30-api.k8s.yaml',
      '40-gateway.k8s.yaml',
      '50-monitoring.k8s.yaml',
    ]);
    const kinds = defaults.objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'Namespace/evergreen',
        'Deployment/api',
        'Service/api',
        'HorizontalPodAutoscaler/api',
        'PodDisruptionBudget/api',
        'Deployment/gateway',
        'Service/gateway',
        'ConfigMap/gateway-config',
        'StatefulSet/redis',
        'Service/redis',
        'PodDisruptionBudget/redis',
        'StatefulSet/sentinel',
        'Service/sentinel',
        'PodDisruptionBudget/sentinel',
        'StatefulSet/prometheus',
        'StatefulSet/alertmanager',
        'StatefulSet/grafana',
        'NetworkPolicy/default-deny',
        'NetworkPolicy/allow-dns',
      ]),
    );
    expect(withIngress.objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(
      expect.arrayContaining(['Ingress/gateway', 'PodDisruptionBudget/gateway']),
    );
    expect(kinds).not.toContain('Ingress/gateway');
  });

  it('writes YAML that reads back as exactly the synthesized objects (configs as literal blocks)', () => {
    for (const file of [...defaults.files, ...withIngress.files]) {
      const text = manifestYaml(file);
      expect(parseAllDocuments(text).map((d) => d.toJS() as unknown)).toEqual(file.objects);
    }
    expect(manifestYaml(defaults.files[2] as ManifestFile)).toMatch(/^ {2}redis-start\.sh: \|-?\n {4}#!\/bin\/sh$/m);
  });

  it('validates against the Kubernetes schemas of kubernetes-models', () => {
    expect(schemaProblems(all)).toEqual([]);
  });

  it('uses only API versions that Kubernetes 1.27 serves', () => {
    expect(all.filter((o) => !isServedBy127(o.apiVersion, o.kind)).map((o) => `${o.apiVersion} ${o.kind}`)).toEqual([]);
  });

  it('has no field that Kubernetes 1.27 does not know', () => {
    expect(all.flatMap((o) => unknownFields(o))).toEqual([]);
  });

  it('the checks catch what they are meant to catch', () => {
    const deployment = JSON.parse(JSON.stringify(defaults.objects.find((o) => o.kind === 'Deployment'))) as KubeObject & {
      spec: { replicas?: unknown; template: { spec: { containers: Record<string, unknown>[] } } };
    };
    deployment.spec.replicas = 'two';
    const container = deployment.spec.template.spec.containers[0] as Record<string, unknown>;
    container.restartPolicy = 'Always'; // a container field of Kubernetes 1.28, unknown to 1.27
    container.resourceLimits = {};
    expect(schemaProblems([deployment])).toEqual([expect.stringMatching(/\/spec\/replicas must be integer/)]);
    expect(unknownFields(deployment)).toEqual([
      expect.stringMatching(/containers\[0\]\.restartPolicy: unknown field/),
      expect.stringMatching(/containers\[0\]\.resourceLimits: unknown field/),
    ]);
    expect(isServedBy127('policy/v1beta1', 'PodDisruptionBudget')).toBe(false);
    expect(isServedBy127('autoscaling/v2beta2', 'HorizontalPodAutoscaler')).toBe(false);
  });

  it('puts the recommended labels on every object and pod template, and every object in the namespace', () => {
    const required = ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/part-of', 'app.kubernetes.io/managed-by'];
    const missing: string[] = [];
    for (const object of all) {
      for (const label of required) if (!object.metadata.labels?.[label]) missing.push(`${object.kind}/${object.metadata.name} ${label}`);
      if (object.kind !== 'Namespace' && object.metadata.namespace !== 'evergreen') missing.push(`${object.kind}/${object.metadata.name} namespace`);
    }
    for (const w of workloads(defaults.objects)) {
      for (const label of [...required, 'app.kubernetes.io/component', 'app.kubernetes.io/version']) {
        if (!w.podLabels[label]) missing.push(`pod template of ${w.name} ${label}`);
      }
      for (const claim of w.claimTemplates) {
        for (const label of required) if (!(claim.metadata as { labels?: Record<string, string> }).labels?.[label]) missing.push(`claim of ${w.name} ${label}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('gives every container requests, limits, probes and a restricted non-root security context', () => {
    const problems: string[] = [];
    for (const w of workloads(all as never)) {
      const pod = w.pod.securityContext as { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
      if (pod.runAsNonRoot !== true || !(Number(pod.runAsUser) > 0)) problems.push(`${w.name}: pod may run as root`);
      if (pod.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${w.name}: no RuntimeDefault seccomp profile`);
      if ((w.object.spec as { template: { spec: { automountServiceAccountToken?: boolean } } }).template.spec.automountServiceAccountToken !== false) {
        problems.push(`${w.name}: mounts a service account token it does not need`);
      }
      for (const c of containers(w.pod)) {
        const id = `${w.name}/${c.name}`;
        for (const kind of ['requests', 'limits'] as const) {
          for (const resource of ['cpu', 'memory']) if (!c.resources?.[kind]?.[resource]) problems.push(`${id}: no ${resource} ${kind}`);
        }
        if (!c.readinessProbe || !c.livenessProbe) problems.push(`${id}: missing readiness or liveness probe`);
        const sc = c.securityContext as {
          runAsNonRoot?: boolean;
          runAsUser?: number;
          allowPrivilegeEscalation?: boolean;
          readOnlyRootFilesystem?: boolean;
          privileged?: boolean;
          capabilities?: { drop?: string[] };
        };
        if (sc.runAsNonRoot !== true || !(Number(sc.runAsUser) > 0)) problems.push(`${id}: may run as root`);
        if (sc.allowPrivilegeEscalation !== false || sc.privileged !== false) problems.push(`${id}: may escalate privileges`);
        if (sc.readOnlyRootFilesystem !== true) problems.push(`${id}: writable root file system`);
        if (!sc.capabilities?.drop?.includes('ALL')) problems.push(`${id}: keeps capabilities`);
        if ((c as { imagePullPolicy?: string }).imagePullPolicy !== 'IfNotPresent') problems.push(`${id}: pull policy`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('puts every path a container writes on a writable volume (the root file system is read-only)', () => {
    const nginxConf = (defaults.objects.find((o) => o.metadata.name === 'gateway-config') as unknown as { data: Record<string, string> }).data['nginx.conf'] ?? '';
    const nginxPaths = [...nginxConf.matchAll(/^\s*(?:pid|\w+_temp_path) "?([^";]+)"?;/gm)].map((m) => (m[1] as string).replace(/\/[^/]+$/, ''));
    expect(nginxPaths.length).toBeGreaterThanOrEqual(5);
    const writes: Record<string, Record<string, string[]>> = {
      gateway: { nginx: nginxPaths },
      redis: { redis: [defaults.spec.redis.dataDir, '/run/redis'] },
      sentinel: { sentinel: [defaults.spec.sentinel.dataDir] },
      prometheus: { prometheus: ['/prometheus'] },
      alertmanager: { alertmanager: ['/alertmanager'] },
      grafana: { grafana: ['/var/lib/grafana', '/var/log/grafana', '/tmp'] },
      api: { api: ['/tmp'] },
    };
    const problems: string[] = [];
    for (const w of workloads(defaults.objects)) {
      for (const c of containers(w.pod)) {
        const mounts = (c.volumeMounts ?? []).filter((m) => !(m as { readOnly?: boolean }).readOnly).map((m) => m.mountPath);
        // Paths the container's own settings point at must be among them too.
        const fromSettings = [
          ...(c.args ?? []).flatMap((a) => /^--(?:storage\.tsdb\.path|storage\.path)=(.+)$/.exec(a)?.slice(1) ?? []),
          ...(c.env ?? []).filter((e) => /^GF_PATHS_(DATA|LOGS)$|_CONFIG_FILE$/.test(e.name)).map((e) => (e.value ?? '').replace(/\/[^/]*\.conf$/, '')),
        ];
        for (const path of [...(writes[w.name]?.[c.name] ?? []), ...fromSettings]) {
          if (!mounts.some((m) => path === m || path.startsWith(`${m}/`))) problems.push(`${w.name}/${c.name} writes ${path}, which is not on a writable volume`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("keeps each Sentinel's rewritten config on a volume claim of its own, which outlives the pod", () => {
    const sentinel = workloads(defaults.objects).find((w) => w.name === 'sentinel');
    expect(sentinel?.claimTemplates.map((c) => c.metadata.name)).toEqual(['data']);
    const [container] = sentinel ? containers(sentinel.pod) : [];
    const file = container?.env?.find((e) => e.name === 'SENTINEL_CONFIG_FILE')?.value;
    expect(file).toBe(`${defaults.spec.sentinel.dataDir}/sentinel.conf`);
    expect(container?.volumeMounts).toEqual(expect.arrayContaining([{ name: 'data', mountPath: defaults.spec.sentinel.dataDir }]));
    // Not an emptyDir (gone with the pod): no pod volume mounted there.
    expect((sentinel?.pod.volumes ?? []).map((v) => v.name)).not.toContain('data');
  });

  it('runs the API with readiness on /readyz and liveness on /healthz, scaled 2–10 by CPU', () => {
    const api = workloads(defaults.objects).find((w) => w.name === 'api');
    const container = api?.pod.containers[0];
    expect(container?.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 8080 } });
    expect(container?.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 8080 } });
    expect((api?.object.spec as { replicas?: number }).replicas).toBeUndefined();
    const hpa = defaults.objects.find((o) => o.kind === 'HorizontalPodAutoscaler');
    expect(hpa?.spec).toMatchObject({
      minReplicas: 2,
      maxReplicas: 10,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
    });
  });

  it('holds no Secret object and no secret value: configs carry placeholders the pods fill from Secrets', () => {
    expect(all.filter((o) => o.kind === 'Secret')).toEqual([]);
    const configMaps = all.filter((o) => o.kind === 'ConfigMap');
    const text = configMaps.map((o) => Object.values((o as { data?: Record<string, string> }).data ?? {}).join('\n')).join('\n');
    const secretValues = [
      ...[...text.matchAll(/^user \S+ on (?:resetpass )?>(\S+)/gm)].map((m) => m[1]),
      ...[...text.matchAll(/^(?:masterauth|sentinel auth-pass \S+|sentinel sentinel-pass) (\S+)$/gm)].map((m) => m[1]),
    ];
    expect(secretValues.length).toBeGreaterThanOrEqual(10);
    for (const value of secretValues) expect(value).toMatch(/^__SECRET_REDIS_PASSWORD_[A-Z]+__$/);
    // Every env var holding a credential comes from a Secret reference, never a literal value.
    for (const w of workloads(all as never)) {
      for (const c of containers(w.pod)) {
        for (const e of c.env ?? []) {
          if (/PASSWORD|TOKENS|AUTH$/.test(e.name)) expect({ [e.name]: e.valueFrom }).toEqual({ [e.name]: { secretKeyRef: expect.anything() } });
        }
      }
    }
  });
});
