/**
 * Cross-references inside the manifests: selectors, Services, ConfigMaps/Secrets/PVCs, the autoscaler's
 * target, and the NetworkPolicies against the connections the stack really makes.
 *
 * The needed connections are read from what the pods are configured with — the rendered nginx.conf,
 * prometheus.yml, Grafana datasource and Sentinel config in the ConfigMaps, the env of the containers —
 * and resolved to pods through the Services, independently of the flow list the policies are built from.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { ManifestObject } from '../../../infra/k8s/app';
import {
  allowed,
  byKind,
  containers,
  env,
  find,
  matches,
  policies,
  services,
  synth,
  targetContainerPort,
  workloads,
  type Endpoint,
  type Labels,
  type Workload,
} from './support/manifests';

const variants = {
  defaults: synth(),
  'bigger, with ingress and an external alert webhook': synth(
    { api: { instances: 3 }, redis: { replicas: 4 }, sentinel: { count: 5, quorum: 3 }, monitoring: { alertWebhookUrl: 'https://alerts.example.com/hook' } },
    { ingress: { host: 'shop.example.com' }, gatewayReplicas: 3, gatewayServiceType: 'NodePort' },
  ),
};

const docs = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'kubernetes.md'), 'utf8');

describe.each(Object.entries(variants))('cross-references (%s)', (_name, { spec, manifest, objects }) => {
  const all = workloads(objects);
  const namespace = spec.kubernetes.namespace;

  it('every workload selector matches its own pod template and no other workload', () => {
    for (const w of all) {
      expect(Object.keys(w.selector).length).toBeGreaterThan(0);
      expect({ [w.name]: matches(w.selector, w.podLabels) }).toEqual({ [w.name]: true });
      const others = all.filter((o) => o !== w && matches(w.selector, o.podLabels)).map((o) => o.name);
      expect({ [w.name]: others }).toEqual({ [w.name]: [] });
    }
  });

  it('every Service selects exactly one workload and targets ports its pods declare', () => {
    for (const service of services(objects)) {
      const selected = all.filter((w) => Object.keys(service.selector).length > 0 && matches(service.selector, w.podLabels));
      expect({ [service.name]: selected.map((w) => w.name) }).toEqual({ [service.name]: [expect.any(String)] });
      for (const port of service.ports) {
        expect({ [`${service.name}:${port.port}`]: targetContainerPort(port, (selected[0] as Workload).pod) }).toEqual({
          [`${service.name}:${port.port}`]: expect.objectContaining({ containerPort: expect.any(Number) }),
        });
      }
    }
  });

  it('every StatefulSet names an existing governing Service that selects it', () => {
    for (const w of all.filter((x) => x.kind === 'StatefulSet')) {
      const serviceName = (w.object.spec as { serviceName: string }).serviceName;
      const service = services(objects).find((s) => s.name === serviceName);
      expect({ [w.name]: service !== undefined && matches(service.selector, w.podLabels) }).toEqual({ [w.name]: true });
    }
  });

  it('every ConfigMap, Secret and volume claim a pod names exists, or is a documented external Secret', () => {
    const configMaps = new Map(byKind(objects, 'ConfigMap').map((o) => [o.metadata.name, (o as { data?: Record<string, string> }).data ?? {}]));
    const external = new Map<string, Set<string>>();
    const problems: string[] = [];
    for (const w of all) {
      const volumeNames = new Set([...(w.pod.volumes ?? []).map((v) => v.name), ...w.claimTemplates.map((c) => c.metadata.name)]);
      for (const volume of w.pod.volumes ?? []) {
        const cm = volume.configMap as { name: string; items?: { key: string }[] } | undefined;
        if (cm) {
          const data = configMaps.get(cm.name);
          if (!data) problems.push(`${w.name}: ConfigMap ${cm.name} does not exist`);
          for (const item of cm.items ?? []) if (data && !(item.key in data)) problems.push(`${w.name}: ConfigMap ${cm.name} has no key ${item.key}`);
        }
        const secret = volume.secret as { secretName: string } | undefined;
        if (secret) external.set(secret.secretName, external.get(secret.secretName) ?? new Set());
        if (volume.persistentVolumeClaim) problems.push(`${w.name}: names a PVC outside its claim templates`);
      }
      for (const c of containers(w.pod)) {
        for (const mount of c.volumeMounts ?? []) {
          if (!volumeNames.has(mount.name)) problems.push(`${w.name}/${c.name}: mounts unknown volume ${mount.name}`);
        }
        for (const e of c.env ?? []) {
          const ref = (e.valueFrom as { secretKeyRef?: { name: string; key: string } } | undefined)?.secretKeyRef;
          if (ref) external.set(ref.name, (external.get(ref.name) ?? new Set()).add(ref.key));
          const cmRef = (e.valueFrom as { configMapKeyRef?: { name: string; key: string } } | undefined)?.configMapKeyRef;
          if (cmRef && !(cmRef.key in (configMaps.get(cmRef.name) ?? {}))) problems.push(`${w.name}: env ${e.name} names a missing ConfigMap key`);
        }
      }
      for (const claim of w.claimTemplates) {
        const storage = (claim.spec as { resources?: { requests?: { storage?: string } } }).resources?.requests?.storage;
        if (!storage) problems.push(`${w.name}: claim ${claim.metadata.name} requests no storage`);
        if (!containers(w.pod).some((c) => c.volumeMounts?.some((m) => m.name === claim.metadata.name))) {
          problems.push(`${w.name}: claim ${claim.metadata.name} is mounted nowhere`);
        }
      }
    }
    // Every Secret is created outside the manifests: it must be one of the configured names and
    // docs/kubernetes.md must say how to create it, with each key the pods read.
    const documented = Object.values(manifest.secrets);
    for (const [name, keys] of external) {
      if (!documented.includes(name)) problems.push(`Secret ${name} is not one of the configured secret names`);
      if (!docs.includes(name)) problems.push(`docs/kubernetes.md does not mention Secret ${name}`);
      for (const key of keys) if (!new RegExp(`--from-literal=${key}=`).test(docs)) problems.push(`docs do not show key ${key} of ${name}`);
    }
    expect(problems).toEqual([]);
    expect([...external.keys()].sort()).toEqual([manifest.secrets.apiTokens, manifest.secrets.grafanaAdmin, manifest.secrets.redisPasswords].sort());
  });

  it('every secret placeholder of a template is filled from a Secret in the pod that renders it, and no pod gets more', () => {
    const templates = (find(objects, 'ConfigMap', 'redis-config') as ManifestObject & { data: Record<string, string> }).data;
    for (const name of ['redis', 'sentinel']) {
      const container = all.find((w) => w.name === name)?.pod.containers[0];
      const templatePath = container?.env?.find((e) => e.name.endsWith('_CONFIG_TEMPLATE'))?.value ?? '';
      const template = templates[templatePath.slice(templatePath.lastIndexOf('/') + 1)] ?? '';
      const needed = new Set([...template.matchAll(/__SECRET_([A-Z0-9_]+?)__/g)].map((m) => m[1]));
      const given = new Set((container?.env ?? []).filter((e) => e.name.startsWith('REDIS_PASSWORD_')).map((e) => e.name));
      expect(needed.size).toBeGreaterThanOrEqual(4);
      expect({ [name]: [...given].sort() }).toEqual({ [name]: [...needed].sort() });
      for (const e of (container?.env ?? []).filter((x) => given.has(x.name))) {
        expect(e.valueFrom).toEqual({ secretKeyRef: { name: manifest.secrets.redisPasswords, key: e.name.replace('REDIS_PASSWORD_', '').toLowerCase() } });
      }
    }
  });

  it("the autoscaler's and the disruption budgets' targets exist", () => {
    for (const hpa of byKind(objects, 'HorizontalPodAutoscaler')) {
      const ref = (hpa.spec as { scaleTargetRef: { kind: string; name: string; apiVersion: string } }).scaleTargetRef;
      const target = find(objects, ref.kind, ref.name);
      expect(target.apiVersion).toBe(ref.apiVersion);
      // The autoscaler owns the count: a fixed `replicas` would fight it on every apply.
      expect((target.spec as { replicas?: number }).replicas).toBeUndefined();
    }
    for (const pdb of byKind(objects, 'PodDisruptionBudget')) {
      const selector = (pdb.spec as { selector: { matchLabels: Labels } }).selector.matchLabels;
      expect({ [pdb.metadata.name]: all.filter((w) => matches(selector, w.podLabels)).length }).toEqual({ [pdb.metadata.name]: 1 });
    }
  });

  it('the Ingress, when there is one, routes to the gateway Service port', () => {
    for (const ingress of byKind(objects, 'Ingress')) {
      const backend = (ingress.spec as { rules: { http: { paths: { backend: { service: { name: string; port: { number: number } } } }[] } }[] })
        .rules[0]?.http.paths[0]?.backend.service;
      const service = services(objects).find((s) => s.name === backend?.name);
      expect(service?.ports.map((p) => p.port)).toContain(backend?.port.number);
    }
  });

  describe('NetworkPolicies', () => {
    const all_ = policies(objects);
    const pod = (w: Workload): Endpoint => ({ kind: 'pod', namespace, labels: w.podLabels });
    const outside: Endpoint = { kind: 'outside' };
    const dns: Endpoint = { kind: 'pod', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };

    /** The workload and container port a `host:port` of the stack reaches (through its Service). */
    const resolve = (host: string, port: number): { workload: Workload; port: number } => {
      const suffix = `.${namespace}.svc.${spec.kubernetes.clusterDomain}`;
      expect(host.endsWith(suffix)).toBe(true);
      const parts = host.slice(0, -suffix.length).split('.');
      const service = services(objects).find((s) => s.name === parts[parts.length - 1]);
      if (!service) throw new Error(`${host}: no Service ${parts[parts.length - 1]}`);
      const target = all.find((w) => matches(service.selector, w.podLabels));
      if (!target) throw new Error(`${host}: Service ${service.name} selects no workload`);
      if (parts.length === 2) {
        // A pod's own name behind a headless Service: the pod must exist and listen on the port.
        expect(service.headless).toBe(true);
        const ordinal = Number(/-(\d+)$/.exec(parts[0] as string)?.[1]);
        expect(ordinal).toBeLessThan((target.object.spec as { replicas: number }).replicas);
        const declared = containers(target.pod).flatMap((c) => c.ports ?? []).some((p) => p.containerPort === port);
        if (!declared) throw new Error(`${host}:${port}: no container of ${target.name} listens on ${port}`);
        return { workload: target, port };
      }
      const servicePort = service.ports.find((p) => p.port === port);
      if (!servicePort) throw new Error(`${host}:${port}: Service ${service.name} has no port ${port}`);
      const containerPort = targetContainerPort(servicePort, target.pod);
      if (!containerPort) throw new Error(`${host}:${port}: no container port behind it`);
      return { workload: target, port: containerPort.containerPort };
    };
    const split = (address: string): [string, number] => {
      const i = address.lastIndexOf(':');
      return [address.slice(0, i), Number(address.slice(i + 1))];
    };
    const configData = (name: string, key: string): string => {
      const data = (find(objects, 'ConfigMap', name) as { data?: Record<string, string> }).data ?? {};
      const value = data[key];
      if (value === undefined) throw new Error(`ConfigMap ${name} has no ${key}`);
      return value;
    };
    const byName = (name: string): Workload => {
      const w = all.find((x) => x.name === name);
      if (!w) throw new Error(`no workload ${name}`);
      return w;
    };

    interface Needed {
      readonly from: Workload | 'outside';
      readonly to: Workload;
      readonly port: number;
      readonly why: string;
    }
    /** Every connection the pods are configured to make, resolved to workloads and container ports. */
    const neededConnections = (): Needed[] => {
      const needed: Needed[] = [];
      const need = (from: Workload | 'outside', address: string, why: string): void => {
        const [host, port] = split(address);
        const target = resolve(host, port);
        needed.push({ from, to: target.workload, port: target.port, why });
      };

      // Clients reach the gateway through its Service (LoadBalancer / NodePort / Ingress controller).
      const gatewayService = services(objects).find((s) => s.name === 'gateway');
      const gatewayHttp = gatewayService?.ports.find((p) => p.name === 'http');
      needed.push({ from: 'outside', to: byName('gateway'), port: Number(gatewayHttp?.targetPort), why: 'clients' });
      // nginx.conf upstream servers.
      for (const m of configData('gateway-config', 'nginx.conf').matchAll(/^\s*server (\S+:\d+)\b/gm)) need(byName('gateway'), m[1] as string, 'nginx upstream');
      // The API's Sentinels and, through them, every Redis node.
      const apiContainer = byName('api').pod.containers[0];
      for (const address of (apiContainer ? env(apiContainer, 'REDIS_SENTINELS') ?? '' : '').split(',')) need(byName('api'), address, 'API → Sentinel');
      for (const node of spec.redis.nodes) need(byName('api'), node.hostPort, 'API → Redis (master or replica named by the Sentinels)');
      // Redis start-up script → Sentinels; replication between any two nodes.
      const redisContainer = byName('redis').pod.containers[0];
      for (const address of (redisContainer ? env(redisContainer, 'SENTINEL_ADDRESSES') ?? '' : '').split(',')) need(byName('redis'), address, 'start-up script → Sentinel');
      for (const node of spec.redis.nodes) need(byName('redis'), node.hostPort, 'replication');
      // Sentinels → the monitored master (sentinel.conf), every Redis node, every other Sentinel.
      const monitor = /^sentinel monitor \S+ (\S+) (\d+) /m.exec(configData('redis-config', 'sentinel.conf.template'));
      need(byName('sentinel'), `${monitor?.[1]}:${monitor?.[2]}`, 'Sentinel monitors the master');
      const sentinelContainer = byName('sentinel').pod.containers[0];
      for (const address of (sentinelContainer ? env(sentinelContainer, 'REDIS_ADDRESSES') ?? '' : '').split(',')) need(byName('sentinel'), address, 'Sentinel → Redis');
      for (const address of (sentinelContainer ? env(sentinelContainer, 'SENTINEL_ADDRESSES') ?? '' : '').split(',')) need(byName('sentinel'), address, 'Sentinel peers');
      // Prometheus: every scrape target and the Alertmanager of prometheus.yml.
      const prometheusYml = parse(configData('prometheus-config', 'prometheus.yml')) as {
        alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
        scrape_configs: { job_name: string; static_configs?: { targets: string[] }[]; dns_sd_configs?: { names: string[]; port: number }[] }[];
      };
      for (const job of prometheusYml.scrape_configs) {
        for (const target of (job.static_configs ?? []).flatMap((s) => s.targets)) need(byName('prometheus'), target, `scrape ${job.job_name}`);
        for (const sd of job.dns_sd_configs ?? []) for (const name of sd.names) need(byName('prometheus'), `${name}:${sd.port}`, `scrape ${job.job_name}`);
      }
      for (const target of prometheusYml.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets))) {
        need(byName('prometheus'), target, 'alerts');
      }
      // Grafana's datasource.
      const datasources = parse(configData('grafana-provisioning', 'datasources.prometheus.yml')) as { datasources: { url: string }[] };
      for (const ds of datasources.datasources) need(byName('grafana'), new URL(ds.url).host, 'Grafana datasource');
      return needed;
    };
    let cached: Needed[] | undefined;
    /** Computed inside the tests (not while jest collects them), once. */
    const connections = (): Needed[] => (cached ??= neededConnections());

    // Alertmanager → its webhook, when it is outside the pod.
    const webhook = new URL(spec.monitoring.alertWebhookUrl);
    const webhookOutside = !/^127\.|^localhost$/.test(webhook.hostname);

    it('allow every connection the stack makes (and DNS)', () => {
      // gateway, API, replication, Sentinels, scrapes, alerts, Grafana: dozens, whatever the counts.
      expect(connections().length).toBeGreaterThan(25);
      const denied = connections().filter((n) => !allowed(all_, n.from === 'outside' ? outside : pod(n.from), pod(n.to), n.port));
      expect(denied.map((n) => `${n.from === 'outside' ? 'outside' : n.from.name} → ${n.to.name}:${n.port} (${n.why})`)).toEqual([]);
      for (const w of all) {
        expect({ [w.name]: [allowed(all_, pod(w), dns, 53, 'UDP'), allowed(all_, pod(w), dns, 53, 'TCP')] }).toEqual({ [w.name]: [true, true] });
      }
      if (webhookOutside) expect(allowed(all_, pod(byName('alertmanager')), outside, Number(webhook.port || 443))).toBe(true);
    });

    it('deny everything else: every pair of pods, every port they declare, and the outside', () => {
      const isNeeded = (from: Workload | 'outside', to: Workload, port: number) =>
        connections().some((n) => n.from === from && n.to === to && n.port === port);
      const leaks: string[] = [];
      for (const to of all) {
        const ports = containers(to.pod).flatMap((c) => c.ports ?? []).map((p) => p.containerPort);
        for (const port of [...ports, 22, 443]) {
          for (const from of [...all, 'outside' as const]) {
            const source = from === 'outside' ? outside : pod(from);
            if (!isNeeded(from, to, port) && allowed(all_, source, pod(to), port)) {
              leaks.push(`${from === 'outside' ? 'outside' : from.name} → ${to.name}:${port}`);
            }
          }
        }
        // Egress to the world only where a needed connection goes there (the alert webhook).
        const world = allowed(all_, pod(to), outside, 443);
        if (world !== (to.name === 'alertmanager' && webhookOutside)) leaks.push(`${to.name} → outside:443`);
      }
      expect(leaks).toEqual([]);
    });

    it('start from a default deny of every pod in both directions', () => {
      const deny = all_.find((p) => Object.keys(p.podSelector).length === 0 && p.types.includes('Ingress') && p.types.includes('Egress'));
      expect(deny).toMatchObject({ ingress: [], egress: [] });
    });

    it('have no rule that no needed connection uses', () => {
      const unused: string[] = [];
      const endpointsOf = (peers: { podSelector?: { matchLabels?: Labels }; namespaceSelector?: unknown; ipBlock?: unknown }[] | undefined) =>
        peers === undefined
          ? ['any' as const]
          : peers.map((peer) => (peer.ipBlock || peer.namespaceSelector ? ('other' as const) : all.filter((w) => matches(peer.podSelector?.matchLabels ?? {}, w.podLabels))));
      for (const policy of all_.filter((p) => Object.keys(p.podSelector).length > 0)) {
        const owners = all.filter((w) => matches(policy.podSelector, w.podLabels));
        for (const [direction, rules] of [['ingress', policy.ingress], ['egress', policy.egress]] as const) {
          for (const rule of rules) {
            for (const portSpec of rule.ports ?? []) {
              const peers = endpointsOf(direction === 'ingress' ? rule.from : rule.to);
              for (const peer of peers) {
                const used = owners.some((owner) =>
                  connections().some((n) => {
                    if (n.port !== portSpec.port) return false;
                    const [self, other] = direction === 'ingress' ? [n.to, n.from] : [n.from, n.to];
                    if (self !== owner) return false;
                    if (peer === 'any' || peer === 'other') return other === 'outside' || peer === 'any';
                    return other !== 'outside' && peer.includes(other);
                  }) || (direction === 'egress' && peer === 'other' && owner.name === 'alertmanager' && webhookOutside),
                );
                if (!used) unused.push(`${policy.name} ${direction} port ${portSpec.port}`);
              }
            }
          }
        }
      }
      expect(unused).toEqual([]);
    });
  });
});

it('the negative checks can fail: a missing policy rule is reported as a denied connection', () => {
  const { objects } = synth();
  const broken = objects.map((o) =>
    o.kind === 'NetworkPolicy' && o.metadata.name === 'allow-sentinel'
      ? ({ ...o, spec: { ...(o.spec as object), ingress: [] } } as ManifestObject)
      : o,
  );
  const api = workloads(broken).find((w) => w.name === 'api') as Workload;
  const sentinel = workloads(broken).find((w) => w.name === 'sentinel') as Workload;
  const from: Endpoint = { kind: 'pod', namespace: 'evergreen', labels: api.podLabels };
  const to: Endpoint = { kind: 'pod', namespace: 'evergreen', labels: sentinel.podLabels };
  expect(allowed(policies(objects), from, to, 26379)).toBe(true);
  expect(allowed(policies(broken), from, to, 26379)).toBe(false);
});
