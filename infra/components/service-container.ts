/**
 * The one way this program makes a container: every service's container goes through
 * `serviceContainer`, so every one gets the same treatment (restart policy, fixed address, labels,
 * log rotation, memory limit, health check, configuration uploaded from the renderers).
 */
import { createHash } from 'node:crypto';

import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';

import type { ServiceInstance, StackSpec } from '../../config';
import { userSpec, type ImageFacts } from '../images';
import type { StackFile } from '../rendered';

/** Label keys every container (and volume, network) carries. */
export const LABELS = {
  stack: 'evergreen.stack',
  service: 'evergreen.service',
  instance: 'evergreen.instance',
  /** Hash of the configuration files the container reads (secrets left out): changes replace it. */
  configHash: 'evergreen.config-hash',
} as const;

export interface LogRotation {
  /** Size of one json-file log, e.g. '10m'. */
  readonly maxSize: string;
  /** Log files kept. */
  readonly maxFiles: number;
}

/** A file put into the container before it starts. */
export interface ContainerFile {
  /** Absolute path in the container. */
  readonly path: string;
  readonly file: StackFile;
}

export interface ServiceContainerArgs {
  readonly spec: StackSpec;
  readonly instance: ServiceInstance;
  readonly facts: ImageFacts;
  /** The image's id (RemoteImage.imageId), never a tag: a tag would replace the container on every up. */
  readonly image: pulumi.Input<string>;
  /** Name of the stack network (an Output of the Network, so the container depends on it). */
  readonly networkName: pulumi.Input<string>;
  /** What the container runs. @default facts.binary */
  readonly entrypoint?: string;
  /** Its arguments. */
  readonly args: readonly string[];
  readonly files?: readonly ContainerFile[];
  /** Plain environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Environment holding secrets: makes the container's whole `envs` input secret. */
  readonly secretEnv?: Readonly<Record<string, pulumi.Input<string>>>;
  /** The health check command (`CMD` form), or undefined where the image has no tool to run one. */
  readonly healthcheck?: readonly string[];
  readonly memoryMb: number;
  readonly log: LogRotation;
  /** Named volumes: Docker volume name → path in the container. */
  readonly volumes?: readonly { readonly volumeName: pulumi.Input<string>; readonly containerPath: string }[];
  /** tmpfs mounts: path → mount options. */
  readonly tmpfs?: Readonly<Record<string, string>>;
  /**
   * How long the service gets to stop on SIGTERM before it is killed: on `docker stop` and restarts (`stopTimeout`)
   * and when Pulumi replaces or destroys the container (`destroyGraceSeconds`; without it the provider removes the
   * container at once, cutting what it was doing). @default 10 (Docker's own stop timeout)
   */
  readonly stopGraceSeconds?: number;
  /** Published ports (only the gateway by default). */
  readonly ports?: readonly { readonly internal: number; readonly external: number; readonly ip: string }[];
}

/** Docker's own stop timeout, for the services that need no more. */
const DEFAULT_STOP_GRACE_SECONDS = 10;

/** Hash of what the container reads from its files, secrets replaced by placeholders. */
export function configHash(files: readonly ContainerFile[]): string {
  const hash = createHash('sha256');
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    hash.update(`${f.path}\0${f.file.shape}\0`);
  }
  return hash.digest('hex').slice(0, 16);
}

export function serviceContainer(
  name: string,
  args: ServiceContainerArgs,
  opts: pulumi.CustomResourceOptions,
): docker.Container {
  const { spec, instance, facts } = args;
  const files = args.files ?? [];
  const owner = String(facts.user.uid);
  const group = String(facts.user.gid);

  const uploads = files.map((f) => ({
    file: f.path,
    // A file holding a password is a secret Output: its content is encrypted in the state.
    content: f.file.content,
    // Secrets readable by the service's user only; the rest by anyone in the container.
    permissions: f.file.containsSecret ? '0600' : '0644',
    owner,
    group,
  }));

  const plainEnv = Object.entries(args.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const secretEntries = Object.entries(args.secretEnv ?? {});
  const hasSecretEnv = secretEntries.length > 0;
  const allEnv = pulumi
    .all(secretEntries.map(([k, v]) => pulumi.output(v).apply((value) => `${k}=${value}`)))
    .apply((secret) => [...plainEnv, ...secret].sort());
  // Any secret in the environment makes the whole `envs` input a secret (the state encrypts it).
  const envs: pulumi.Input<string[]> = hasSecretEnv ? pulumi.secret(allEnv) : allEnv;

  const labels = [
    { label: LABELS.stack, value: spec.name },
    { label: LABELS.service, value: instance.service },
    { label: LABELS.instance, value: instance.name },
    { label: LABELS.configHash, value: configHash(files) },
  ];

  if (instance.address === undefined) throw new Error(`${instance.name} has no fixed address (not a docker spec?)`);

  // A replacement must remove the old container first: its name and its address are fixed, so the
  // new one could not be created beside it.
  const options: pulumi.CustomResourceOptions = { ...opts, deleteBeforeReplace: true };
  return new docker.Container(
    name,
    {
      name: instance.containerName,
      hostname: instance.name,
      image: args.image,
      entrypoints: [args.entrypoint ?? facts.binary],
      command: [...args.args],
      user: userSpec(facts.user),
      envs,
      restart: 'unless-stopped',
      stopTimeout: args.stopGraceSeconds ?? DEFAULT_STOP_GRACE_SECONDS,
      destroyGraceSeconds: args.stopGraceSeconds ?? DEFAULT_STOP_GRACE_SECONDS,
      networksAdvanced: [{ name: args.networkName, ipv4Address: instance.address, aliases: [instance.name] }],
      labels,
      logDriver: 'json-file',
      logOpts: { 'max-size': args.log.maxSize, 'max-file': String(args.log.maxFiles) },
      // MiB; no swap beyond the limit (memorySwap = memory), so the limit is what the service gets.
      memory: args.memoryMb,
      memorySwap: args.memoryMb,
      uploads,
      volumes: (args.volumes ?? []).map((v) => ({ volumeName: v.volumeName, containerPath: v.containerPath })),
      ...(args.tmpfs ? { tmpfs: { ...args.tmpfs } } : {}),
      ports: (args.ports ?? []).map((p) => ({ internal: p.internal, external: p.external, ip: p.ip, protocol: 'tcp' })),
      ...(args.healthcheck
        ? {
            healthcheck: {
              tests: [...args.healthcheck],
              interval: '10s',
              timeout: '5s',
              retries: 3,
              startPeriod: '30s',
            },
            // `pulumi up` waits until the container is healthy (needs the health check).
            wait: true,
            waitTimeout: 120,
          }
        : { wait: false }),
    },
    options,
  );
}
