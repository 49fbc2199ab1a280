/**
 * Pod and container building blocks shared by the charts. cdk8s-plus defaults (1 CPU request and 512Mi
 * per container, `imagePullPolicy: Always`, read-only root file system with no writable path, a random
 * selector label) break stock images or hide what a pod asks for, so every container states its
 * resources, user, writable volumes and probes here explicitly.
 */
import { createHash } from 'node:crypto';
import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { k8s } from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import type { ContainerResourcesProps, ManifestProps } from './props';

/** `100m` → millis, `1` / `0.5` → cores. */
export function parseCpu(quantity: string): kplus.Cpu {
  const millis = /^(\d+)m$/.exec(quantity);
  if (millis) return kplus.Cpu.millis(Number(millis[1]));
  if (/^\d+(\.\d+)?$/.test(quantity)) return kplus.Cpu.units(Number(quantity));
  throw new Error(`"${quantity}" is not a CPU quantity like 250m or 1`);
}

/** `256Mi`, `1Gi`, `512Ki` → Size. */
export function parseMemory(quantity: string): Size {
  const match = /^(\d+)(Ki|Mi|Gi|Ti)$/.exec(quantity);
  if (!match) throw new Error(`"${quantity}" is not a size like 256Mi or 1Gi`);
  const amount = Number(match[1]);
  switch (match[2]) {
    case 'Ki':
      return Size.kibibytes(amount);
    case 'Mi':
      return Size.mebibytes(amount);
    case 'Gi':
      return Size.gibibytes(amount);
    default:
      return Size.tebibytes(amount);
  }
}

export function containerResources(r: ContainerResourcesProps): kplus.ContainerResources {
  return {
    cpu: { request: parseCpu(r.cpuRequest), limit: parseCpu(r.cpuLimit) },
    memory: { request: parseMemory(r.memoryRequest), limit: parseMemory(r.memoryLimit) },
  };
}

/** A non-root user (and group) a container runs as; it must match the files of its image. */
export interface RunAs {
  readonly user: number;
  readonly group: number;
}

/**
 * Container security context of every container: the given non-root user, no privilege escalation, no
 * capabilities, read-only root file system (writable paths are emptyDir / PVC mounts).
 */
export function restrictedContainer(runAs: RunAs): kplus.ContainerSecurityContextProps {
  return {
    ensureNonRoot: true,
    user: runAs.user,
    group: runAs.group,
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
  };
}

/** Pod security context: non-root, and `fsGroup` so that mounted volumes are writable by the pod's group. */
export function restrictedPod(runAs: RunAs): kplus.PodSecurityContextProps {
  return {
    ensureNonRoot: true,
    user: runAs.user,
    group: runAs.group,
    fsGroup: runAs.group,
    fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH,
  };
}

/**
 * What cdk8s-plus cannot express on a pod template (its Capability enum has no `ALL`): the RuntimeDefault
 * seccomp profile and dropping every capability, both required by the `restricted` Pod Security
 * Standard the namespace enforces. Call it once every container has been added.
 */
export function hardenPodTemplate(workload: kplus.Workload): void {
  const patches = [JsonPatch.add('/spec/template/spec/securityContext/seccompProfile', { type: 'RuntimeDefault' })];
  const dropAll = (list: string, count: number): void => {
    for (let i = 0; i < count; i += 1) {
      patches.push(JsonPatch.add(`/spec/template/spec/${list}/${i}/securityContext/capabilities`, { drop: ['ALL'] }));
    }
  };
  dropAll('containers', workload.containers.length);
  dropAll('initContainers', workload.initContainers.length);
  ApiObject.of(workload).addJsonPatch(...patches);
}

/** An emptyDir for a writable path (pid files, temp files, rendered configs); `memory` for secrets. */
export function scratchVolume(scope: Construct, id: string, name: string, memory = false): kplus.Volume {
  return kplus.Volume.fromEmptyDir(scope, id, name, {
    medium: memory ? kplus.EmptyDirMedium.MEMORY : kplus.EmptyDirMedium.DEFAULT,
    sizeLimit: memory ? Size.mebibytes(16) : Size.mebibytes(256),
  });
}

/** Probe timing shared by the probes (cdk8s-plus leaves period and timeout to the cluster defaults). */
export function probeTiming(periodSeconds: number, failureThreshold = 3): Pick<
  kplus.ProbeOptions,
  'periodSeconds' | 'timeoutSeconds' | 'failureThreshold'
> {
  return {
    periodSeconds: Duration.seconds(periodSeconds),
    timeoutSeconds: Duration.seconds(Math.min(5, periodSeconds)),
    failureThreshold,
  };
}

export function imagePullPolicy(props: ManifestProps): kplus.ImagePullPolicy {
  switch (props.imagePullPolicy) {
    case 'Always':
      return kplus.ImagePullPolicy.ALWAYS;
    case 'Never':
      return kplus.ImagePullPolicy.NEVER;
    default:
      return kplus.ImagePullPolicy.IF_NOT_PRESENT;
  }
}

/** An env value from a key of a Secret created outside the manifests. */
export function fromSecret(scope: Construct, secretName: string, key: string): kplus.EnvValue {
  const id = `secret-${secretName}`;
  const existing = scope.node.tryFindChild(id) as kplus.ISecret | undefined;
  const secret = existing ?? kplus.Secret.fromSecretName(scope, id, secretName);
  return kplus.EnvValue.fromSecretValue({ secret, key });
}

export interface VolumeClaimTemplateProps {
  /** Claim name; each pod gets a PVC `<name>-<statefulset>-<ordinal>`. */
  readonly name: string;
  /** Storage request, a Kubernetes quantity (`1Gi`). */
  readonly size: string;
  /** @default the cluster's default StorageClass */
  readonly storageClassName?: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Where each container (by index in the pod template) mounts the volume. */
  readonly mounts: readonly { readonly container: number; readonly path: string }[];
}

/**
 * Adds a volumeClaimTemplate to a StatefulSet, which cdk8s-plus-27 cannot express. The trap: the
 * generated `KubeStatefulSet` runs its `toJson_…` converter again on the patched object, and that
 * converter reads a quantity as `quantity.value`, so a plain '1Gi' string would be silently dropped
 * (`requests: {}`). The patch therefore carries the typed props with a `k8s.Quantity`, which the
 * converter turns into '1Gi'. (tests/unit/k8s checks the synthesized storage request.)
 */
export function addVolumeClaimTemplate(statefulSet: kplus.StatefulSet, props: VolumeClaimTemplateProps): void {
  const claim: k8s.KubePersistentVolumeClaimProps = {
    metadata: { name: props.name, labels: { ...props.labels } },
    spec: {
      accessModes: ['ReadWriteOnce'],
      ...(props.storageClassName === undefined ? {} : { storageClassName: props.storageClassName }),
      resources: { requests: { storage: k8s.Quantity.fromString(props.size) } },
    },
  };
  const object = ApiObject.of(statefulSet);
  object.addJsonPatch(JsonPatch.add('/spec/volumeClaimTemplates', [claim]));
  for (const mount of props.mounts) {
    object.addJsonPatch(
      JsonPatch.add(`/spec/template/spec/containers/${mount.container}/volumeMounts/-`, {
        name: props.name,
        mountPath: mount.path,
      }),
    );
  }
}

/** A PodDisruptionBudget (policy/v1; cdk8s-plus-27 has no construct for it). */
export function podDisruptionBudget(
  scope: Construct,
  id: string,
  props: {
    readonly name: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly selector: Readonly<Record<string, string>>;
    readonly minAvailable?: number;
    readonly maxUnavailable?: number;
  },
): k8s.KubePodDisruptionBudget {
  return new k8s.KubePodDisruptionBudget(scope, id, {
    metadata: { name: props.name, labels: { ...props.labels } },
    spec: {
      ...(props.minAvailable === undefined ? {} : { minAvailable: k8s.IntOrString.fromNumber(props.minAvailable) }),
      ...(props.maxUnavailable === undefined ? {} : { maxUnavailable: k8s.IntOrString.fromNumber(props.maxUnavailable) }),
      selector: { matchLabels: { ...props.selector } },
    },
  });
}

/** Points a Service at the pods with these labels (not at cdk8s-plus' generated `cdk8s.io/metadata.addr`). */
export function selectPods(service: kplus.Service, labels: Readonly<Record<string, string>>): void {
  for (const [key, value] of Object.entries(labels)) service.selectLabel(key, value);
}

/**
 * Makes a headless Service's DNS name every selected pod, ready or not (cdk8s-plus has no prop for it): for pods that
 * must find each other before they are ready (Redis, Sentinel) or stay visible while unready (Prometheus' targets).
 */
export function publishNotReadyAddresses(service: kplus.Service): void {
  ApiObject.of(service).addJsonPatch(JsonPatch.add('/spec/publishNotReadyAddresses', true));
}

/** Pod template annotation holding a hash of the pod's configs, so that `kubectl apply` of a changed config rolls the pods. */
export const CONFIG_HASH_ANNOTATION = 'evergreen.dev/config-hash';

export function configHash(...contents: readonly string[]): Record<string, string> {
  const hash = createHash('sha256');
  for (const content of contents) hash.update(content).update('\0');
  return { [CONFIG_HASH_ANNOTATION]: hash.digest('hex').slice(0, 16) };
}
