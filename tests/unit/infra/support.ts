/**
 * Helpers of the infra unit tests: read a recorded program the way the checks need it.
 */
import { REDIS_USERS, type RedisUser, type StackSecrets } from '../../../config';
import {
  CONTAINER_TYPE,
  RANDOM_PASSWORD_TYPE,
  resourcesOfType,
  type RecordedProgram,
  type RecordedResource,
} from '../../support/pulumi-harness';

export interface ContainerInputs {
  readonly name: string;
  readonly image: string;
  readonly entrypoints: string[];
  readonly command: string[];
  readonly user: string;
  readonly envs: string[];
  readonly restart: string;
  readonly hostname: string;
  readonly labels: { label: string; value: string }[];
  readonly logDriver: string;
  readonly logOpts: Record<string, string>;
  readonly memory: number;
  readonly stopTimeout: number;
  readonly destroyGraceSeconds: number;
  readonly memorySwap: number;
  readonly networksAdvanced: { name: string; ipv4Address: string; aliases: string[] }[];
  readonly uploads: { file: string; content: string; permissions: string; owner: string; group: string }[];
  readonly volumes: { volumeName: string; containerPath: string }[];
  readonly ports: { internal: number; external: number; ip: string; protocol: string }[];
  readonly healthcheck?: { tests: string[]; interval: string; timeout: string; retries: number; startPeriod: string };
  readonly wait: boolean;
  readonly tmpfs?: Record<string, string>;
}

export function containers(program: RecordedProgram): RecordedResource[] {
  return resourcesOfType(program, CONTAINER_TYPE);
}

export function inputsOf(resource: RecordedResource): ContainerInputs {
  return resource.inputs as unknown as ContainerInputs;
}

export function label(resource: RecordedResource, key: string): string | undefined {
  return inputsOf(resource).labels.find((l) => l.label === key)?.value;
}

/** The container of an instance (`api-0`, `redis-1`, `gateway`…), by its instance label. */
export function containerOf(program: RecordedProgram, instance: string): RecordedResource {
  const found = containers(program).find((c) => label(c, 'evergreen.instance') === instance);
  if (!found) throw new Error(`no container for instance ${instance}`);
  return found;
}

/** The generated secrets of a recording (the mocks' RandomPassword results), as the renderers take them. */
export function recordedSecrets(program: RecordedProgram): StackSecrets {
  const result = (key: string): string => {
    const password = resourcesOfType(program, RANDOM_PASSWORD_TYPE).find((r) => r.name === `secrets-${key}`);
    if (!password) throw new Error(`no generated secret ${key}`);
    return password.state.result as string;
  };
  const redisKey: Record<RedisUser, string> = {
    api: 'redisApiPassword',
    replication: 'redisReplicationPassword',
    sentinel: 'redisSentinelPassword',
    exporter: 'redisExporterPassword',
    admin: 'redisAdminPassword',
  };
  return {
    redisPasswords: Object.fromEntries(REDIS_USERS.map((u) => [u, result(redisKey[u])])) as Record<RedisUser, string>,
    apiTokens: [result('apiTokens')],
    grafanaAdminPassword: result('grafanaAdminPassword'),
  };
}

/** Every secret value of a StackSecrets, flat. */
export function secretValues(secrets: StackSecrets): string[] {
  return [...Object.values(secrets.redisPasswords), ...secrets.apiTokens, secrets.grafanaAdminPassword];
}

/** Every string leaf of a value with its path (`uploads[0].content`, `envs[2]`). */
export function stringLeaves(value: unknown, path = ''): { path: string; value: string }[] {
  if (typeof value === 'string') return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringLeaves(v, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => stringLeaves(v, path === '' ? k : `${path}.${k}`));
  }
  return [];
}

/** Containers by instance label, for comparing two recordings. */
export function containersByInstance(program: RecordedProgram): Map<string, RecordedResource> {
  return new Map(containers(program).map((c) => [label(c, 'evergreen.instance') as string, c]));
}

/** Instances whose container inputs differ between two recordings (added and removed ones included). */
export function changedInstances(before: RecordedProgram, after: RecordedProgram): string[] {
  const a = containersByInstance(before);
  const b = containersByInstance(after);
  const names = new Set([...a.keys(), ...b.keys()]);
  return [...names]
    .filter((n) => JSON.stringify(a.get(n)?.inputs) !== JSON.stringify(b.get(n)?.inputs))
    .sort();
}
