/**
 * Helpers for reading synthesized manifests in tests: workloads and their pod templates, Services,
 * label selectors, and a small NetworkPolicy evaluator (Kubernetes semantics: a pod selected by no
 * policy of a direction is open in that direction; otherwise a connection needs a rule in some
 * selecting policy; ingress and egress must both allow it).
 */
import { defineStack, type StackOverrides, type StackSpec } from '../../../../config';
import { synthesizeManifests, type ManifestFile, type ManifestObject } from '../../../../infra/k8s/app';
import { parseManifestProps, type ManifestOverrides, type ManifestProps } from '../../../../infra/k8s/props';

export interface Synthesized {
  readonly spec: StackSpec;
  readonly manifest: ManifestProps;
  readonly files: readonly ManifestFile[];
  readonly objects: readonly ManifestObject[];
}

export function synth(stack: StackOverrides = {}, manifestOverrides: ManifestOverrides = {}): Synthesized {
  const spec = defineStack(stack, 'kubernetes');
  const manifest = parseManifestProps(manifestOverrides);
  const files = synthesizeManifests(spec, manifest);
  return { spec, manifest, files, objects: files.flatMap((f) => f.objects) };
}

type Json = Record<string, unknown>;
export type Labels = Readonly<Record<string, string>>;

export interface ContainerPort {
  readonly containerPort: number;
  readonly name?: string;
  readonly protocol?: string;
}
export interface Container {
  readonly name: string;
  readonly image: string;
  readonly command?: string[];
  readonly args?: string[];
  readonly ports?: ContainerPort[];
  readonly env?: { name: string; value?: string; valueFrom?: Json }[];
  readonly volumeMounts?: { name: string; mountPath: string }[];
  readonly resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readonly securityContext?: Json;
  readonly readinessProbe?: Json;
  readonly livenessProbe?: Json;
  readonly startupProbe?: Json;
  readonly lifecycle?: { preStop?: { exec?: { command: string[] } } };
}
export interface PodSpec {
  readonly containers: Container[];
  readonly initContainers?: Container[];
  readonly volumes?: (Json & { name: string })[];
  readonly securityContext?: Json;
  readonly terminationGracePeriodSeconds?: number;
}
export interface Workload {
  readonly object: ManifestObject;
  readonly kind: string;
  readonly name: string;
  readonly selector: Labels;
  readonly podLabels: Labels;
  readonly pod: PodSpec;
  readonly claimTemplates: { metadata: { name: string }; spec: Json }[];
}

export function byKind(objects: readonly ManifestObject[], kind: string): ManifestObject[] {
  return objects.filter((o) => o.kind === kind);
}

export function find(objects: readonly ManifestObject[], kind: string, name: string): ManifestObject {
  const object = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!object) throw new Error(`no ${kind}/${name} in the manifests`);
  return object;
}

export function workloads(objects: readonly ManifestObject[]): Workload[] {
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
    .map((object) => {
      const spec = object.spec as {
        selector: { matchLabels?: Labels };
        template: { metadata: { labels: Labels }; spec: PodSpec };
        volumeClaimTemplates?: Workload['claimTemplates'];
      };
      return {
        object,
        kind: object.kind,
        name: object.metadata.name,
        selector: spec.selector.matchLabels ?? {},
        podLabels: spec.template.metadata.labels,
        pod: spec.template.spec,
        claimTemplates: spec.volumeClaimTemplates ?? [],
      };
    });
}

export function workload(objects: readonly ManifestObject[], name: string): Workload {
  const w = workloads(objects).find((x) => x.name === name);
  if (!w) throw new Error(`no workload ${name}`);
  return w;
}

/** `matchLabels` semantics: every selector label is on the object. An empty selector matches everything. */
export function matches(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export function containers(pod: PodSpec): Container[] {
  return [...pod.containers, ...(pod.initContainers ?? [])];
}

export function env(container: Container, name: string): string | undefined {
  return container.env?.find((e) => e.name === name)?.value;
}

export interface ServiceObject {
  readonly name: string;
  readonly selector: Labels;
  readonly headless: boolean;
  readonly ports: { name?: string; port: number; targetPort?: number | string }[];
}

export function services(objects: readonly ManifestObject[]): ServiceObject[] {
  return byKind(objects, 'Service').map((o) => {
    const spec = o.spec as { selector?: Labels; clusterIP?: string; ports: ServiceObject['ports'] };
    return { name: o.metadata.name, selector: spec.selector ?? {}, headless: spec.clusterIP === 'None', ports: spec.ports };
  });
}

/** The container port a Service port sends to, in a given pod. */
export function targetContainerPort(port: ServiceObject['ports'][number], pod: PodSpec): ContainerPort | undefined {
  const target = port.targetPort ?? port.port;
  return containers(pod)
    .flatMap((c) => c.ports ?? [])
    .find((p) => (typeof target === 'number' ? p.containerPort === target : p.name === target));
}

// ---- NetworkPolicy evaluation -------------------------------------------------------------------

/** Where a connection comes from or goes to. */
export type Endpoint =
  | { readonly kind: 'pod'; readonly namespace: string; readonly labels: Labels }
  | { readonly kind: 'outside' };

interface PolicyPeer {
  podSelector?: { matchLabels?: Labels };
  namespaceSelector?: { matchLabels?: Labels };
  ipBlock?: { cidr: string };
}
interface PolicyRule {
  from?: PolicyPeer[];
  to?: PolicyPeer[];
  ports?: { port?: number; protocol?: string }[];
}
export interface Policy {
  readonly name: string;
  readonly namespace: string;
  readonly podSelector: Labels;
  readonly types: readonly string[];
  readonly ingress: readonly PolicyRule[];
  readonly egress: readonly PolicyRule[];
}

export function policies(objects: readonly ManifestObject[]): Policy[] {
  return byKind(objects, 'NetworkPolicy').map((o) => {
    const spec = o.spec as {
      podSelector: { matchLabels?: Labels };
      policyTypes: string[];
      ingress?: PolicyRule[];
      egress?: PolicyRule[];
    };
    return {
      name: o.metadata.name,
      namespace: o.metadata.namespace ?? 'default',
      podSelector: spec.podSelector.matchLabels ?? {},
      types: spec.policyTypes,
      ingress: spec.ingress ?? [],
      egress: spec.egress ?? [],
    };
  });
}

/** Namespace labels the evaluator assumes (Kubernetes sets `kubernetes.io/metadata.name` on every namespace). */
function namespaceLabels(namespace: string): Labels {
  return { 'kubernetes.io/metadata.name': namespace };
}

function peerMatches(peer: PolicyPeer, endpoint: Endpoint, policyNamespace: string): boolean {
  if (endpoint.kind === 'outside') return peer.ipBlock !== undefined && peer.ipBlock.cidr === '0.0.0.0/0';
  if (peer.ipBlock) return false; // pod IPs are not matched by CIDR here (policies use selectors for pods)
  const namespaceOk = peer.namespaceSelector
    ? matches(peer.namespaceSelector.matchLabels ?? {}, namespaceLabels(endpoint.namespace))
    : endpoint.namespace === policyNamespace;
  const podOk = peer.podSelector ? matches(peer.podSelector.matchLabels ?? {}, endpoint.labels) : true;
  return namespaceOk && podOk;
}

function ruleAllows(rule: PolicyRule, peers: PolicyPeer[] | undefined, other: Endpoint, port: number, protocol: string, ns: string): boolean {
  const portOk =
    rule.ports === undefined || rule.ports.some((p) => (p.port === undefined || p.port === port) && (p.protocol ?? 'TCP') === protocol);
  const peerOk = peers === undefined || peers.some((peer) => peerMatches(peer, other, ns));
  return portOk && peerOk;
}

/** Whether the policies let `from` open a connection to `to` on `port`. */
export function allowed(
  all: readonly Policy[],
  from: Endpoint,
  to: Endpoint,
  port: number,
  protocol = 'TCP',
): boolean {
  const selecting = (endpoint: Endpoint, type: string) =>
    endpoint.kind === 'pod'
      ? all.filter((p) => p.namespace === endpoint.namespace && p.types.includes(type) && matches(p.podSelector, endpoint.labels))
      : [];
  const egressPolicies = selecting(from, 'Egress');
  const egressOk =
    from.kind === 'outside' ||
    egressPolicies.length === 0 ||
    egressPolicies.some((p) => p.egress.some((r) => ruleAllows(r, r.to, to, port, protocol, p.namespace)));
  const ingressPolicies = selecting(to, 'Ingress');
  const ingressOk =
    to.kind === 'outside' ||
    ingressPolicies.length === 0 ||
    ingressPolicies.some((p) => p.ingress.some((r) => ruleAllows(r, r.from, from, port, protocol, p.namespace)));
  return egressOk && ingressOk;
}

/** The value of `key` in ConfigMap `name`. */
export function configData(objects: readonly ManifestObject[], name: string, key: string): string {
  const data = (find(objects, 'ConfigMap', name) as ManifestObject & { data?: Record<string, string> }).data ?? {};
  const value = data[key];
  if (value === undefined) throw new Error(`ConfigMap ${name} has no key ${key}`);
  return value;
}
