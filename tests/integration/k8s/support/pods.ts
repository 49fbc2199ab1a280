/**
 * Running what the Redis and Sentinel pods run, on loopback: the ConfigMap files, the templates and the
 * container env come from the synthesized manifests; callers replace only what differs between a pod and
 * a loopback process (addresses, ports, paths, binaries).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStack, type RedisUser, type StackOverrides, type StackSecrets } from '../../../../config';
import { synthesizeManifests, type ManifestObject } from '../../../../infra/k8s/app';
import { parseManifestProps } from '../../../../infra/k8s/props';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}

export interface SynthesizedPods {
  readonly objects: readonly ManifestObject[];
  /** The data of ConfigMap `name`. */
  configMap(name: string): Record<string, string>;
  /**
   * Writes ConfigMap `redis-config`'s `key` to `dir`, with its data directory (`dir "/data"`, a volume in
   * the pod) pointed at `dir`: the one path of a template that differs between loopback processes.
   */
  templateIn(key: 'redis.conf.template' | 'sentinel.conf.template', dir: string): string;
  /** Writes ConfigMap `redis-config`'s script `key` to `dir` and returns its path. */
  scriptIn(key: 'redis-start.sh' | 'redis-restore.sh', dir: string): string;
  /**
   * The env of a workload's (StatefulSet or Deployment) container as its pod `podName` would see it,
   * the values of the Secrets taken from `secrets`.
   */
  podEnv(workload: string, podName: string, secrets: StackSecrets, container?: number): Record<string, string>;
}

export function synthesizePods(stack: StackOverrides): SynthesizedPods {
  const spec = defineStack(stack, 'kubernetes');
  const manifest = parseManifestProps({});
  const objects = synthesizeManifests(spec, manifest).flatMap((f) => f.objects);
  /** What each Secret the docs tell to create holds, for a given set of secrets. */
  const secretValue = (secrets: StackSecrets, name: string, key: string): string => {
    if (name === manifest.secrets.redisPasswords) return secrets.redisPasswords[key as RedisUser];
    if (name === manifest.secrets.apiTokens && key === 'tokens') return secrets.apiTokens.join(',');
    if (name === manifest.secrets.grafanaAdmin && key === 'password') return secrets.grafanaAdminPassword;
    throw new Error(`no value for key ${key} of Secret ${name}`);
  };
  const configMap = (name: string): Record<string, string> => {
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name) as (ManifestObject & { data: Record<string, string> }) | undefined;
    if (!cm) throw new Error(`no ConfigMap ${name}`);
    return cm.data;
  };
  return {
    objects,
    configMap,
    templateIn(key, dir) {
      const template = configMap('redis-config')[key] as string;
      if (!/^dir "[^"]+"$/m.test(template)) throw new Error(`${key} has no dir line`);
      const path = join(dir, key);
      writeFileSync(path, template.replace(/^dir "[^"]+"$/m, `dir "${dir}"`));
      return path;
    },
    scriptIn(key, dir) {
      const path = join(dir, key);
      writeFileSync(path, configMap('redis-config')[key] as string);
      return path;
    },
    podEnv(workload, podName, secrets, container = 0) {
      const object = objects.find((o) => (o.kind === 'StatefulSet' || o.kind === 'Deployment') && o.metadata.name === workload) as ManifestObject & {
        spec: { template: { spec: { containers: { env: EnvVar[] }[] } } };
      };
      const env: Record<string, string> = {};
      for (const e of object.spec.template.spec.containers[container]?.env ?? []) {
        if (e.value !== undefined) env[e.name] = e.value.replace(/\$\((\w+)\)/g, (_, name: string) => env[name] ?? '');
        else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = podName;
        else if (e.valueFrom?.secretKeyRef) env[e.name] = secretValue(secrets, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
        else throw new Error(`${workload}: cannot resolve env ${e.name}`);
      }
      return env;
    },
  };
}
