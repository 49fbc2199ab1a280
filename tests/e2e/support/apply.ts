/**
 * The applier: creates on a real Docker engine, through dockerode, exactly the Docker resources that
 * the Pulumi program registered (as recorded by tests/support/pulumi-harness.ts), with their inputs.
 * It stands in for `pulumi up` + the Docker provider, which cannot be installed here.
 *
 * Provider semantics it reproduces (@pulumi/docker 5, the Terraform docker provider underneath):
 * - Network: name, driver, IPAM subnet/gateway/ip range, internal, attachable, options, labels.
 * - Volume: name, driver, driver options, labels.
 * - RemoteImage: with `build`, an image built from its context and Dockerfile with its build args
 *   (the context filtered by its .dockerignore, as the provider does); without, the named image must
 *   already be on the engine (see "not reproduced").
 * - Container: image (the container's `image` input is the image resource's `imageId` output, mapped
 *   back to the real image), command, entrypoint, env, user, working dir, hostname, labels (list of
 *   {label, value}), networks with fixed IPv4 address and aliases, named-volume mounts, uploads (one
 *   tar extracted at `/` before start, mode 0644 / 0744 when executable / `permissions`, numeric owner),
 *   health check (`tests`, Go durations), restart policy and max retries, memory and swap (MB), log
 *   driver and options, published ports, capabilities, init, read-only root fs, tmpfs, ulimits,
 *   security options, shm size, stop signal and timeout; `start` (started unless `start: false`);
 *   `wait`/`waitTimeout` (healthy before the resources that depend on it are created).
 * - Creation order follows each resource's dependencies (`dependsOn` and input dependencies).
 *
 * Not reproduced (deliberately):
 * - No pulls: a RemoteImage without `build` must exist locally (the e2e stack's image settings name
 *   the locally built stand-ins, tests/e2e/support/images.ts); the base image of a build can be
 *   replaced through `buildArgOverrides` (the stand-in NODE_IMAGE for api/Dockerfile).
 * - No state, diff or update: it creates once and tears down; `recreateContainers` is "replace" for
 *   some containers (remove them, create them again from the same inputs, volumes kept).
 * - Published ports are bound to `publishOn` (127.0.0.1) whatever host IP the program asked for,
 *   so a test never opens a port beyond loopback.
 * - Every created network, volume and container also gets the label `RUN_LABEL=<runId>`, so that
 *   teardown finds exactly what this run created (the provider tracks that in its state instead).
 * - Resources matched by `omit` (Grafana: no stand-in image) are left out; what depends on them is
 *   created without them.
 * - Host-path volumes, devices, GPUs, `attach`/`logs`/`rm` and the `source` form of uploads are not
 *   supported (the program uses none of them: it must reproduce the stack without host paths); an
 *   unsupported input makes `apply` throw instead of silently dropping it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
// The .dockerignore matcher dockerode itself uses (its dependency), so both filter a context alike.
import dockerignore from '@balena/dockerignore';
import type Docker from 'dockerode';
import {
  CONTAINER_TYPE,
  NETWORK_TYPE,
  REMOTE_IMAGE_TYPE,
  VOLUME_TYPE,
  type RecordedProgram,
  type RecordedResource,
} from '../../support/pulumi-harness';
import { waitFor } from '../../support/wait';
import { buildFromContext, RECIPE_LABEL } from './images';

/** Label on everything one apply created; its value is the run id. */
export const RUN_LABEL = 'org.evergreen-stores.e2e.run';

const REPO_ROOT = resolve(__dirname, '../../..');

export interface ApplyOptions {
  /** Value of {@link RUN_LABEL} on everything created; teardown removes by it. */
  readonly runId: string;
  /** Build args that replace the recorded ones (e.g. `NODE_IMAGE` → the stand-in Node base). @default {} */
  readonly buildArgOverrides?: Readonly<Record<string, string>>;
  /** Host address every published port is bound to. @default '127.0.0.1' */
  readonly publishOn?: string;
  /** Directory relative build contexts resolve against (Pulumi's working directory). @default the repo root */
  readonly workDir?: string;
  /**
   * Resources left out (e.g. Grafana, which has no stand-in image); resources that depend on them are
   * still created, without waiting for them. @default none
   */
  readonly omit?: (resource: RecordedResource) => boolean;
  /** Progress lines. @default silent */
  readonly log?: (line: string) => void;
}

export interface AppliedContainer {
  /** The container's name (its `name` input). */
  readonly name: string;
  readonly id: string;
  readonly resource: RecordedResource;
  /** Its fixed IPv4 address on the first network, if the program gave one. */
  readonly address: string | undefined;
}

export interface AppliedStack {
  readonly runId: string;
  /** Every container created, by container name. */
  readonly containers: ReadonlyMap<string, AppliedContainer>;
  /** The dockerode handle of a container, by container name. */
  container(name: string): Docker.Container;
  /**
   * Replaces containers as `pulumi up` does when their inputs change: removes them all, then creates them again
   * from the same inputs; their named volumes are kept. The removal is forced (SIGKILL) — harsher than the provider,
   * which stops each container for its `destroyGraceSeconds` first: what must survive a replacement survives this.
   */
  recreateContainers(names: readonly string[]): Promise<void>;
  /** Removes every container, network and volume this run created. */
  destroy(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// Input shapes (the provider's input names; only what is read here)

interface LabelInput { readonly label: string; readonly value: string }
interface UploadInput {
  readonly file: string;
  readonly content?: string;
  readonly contentBase64?: string;
  readonly executable?: boolean;
  readonly permissions?: string;
  readonly owner?: string;
  readonly group?: string;
  readonly source?: string;
}
interface HealthcheckInput {
  readonly tests?: string[];
  readonly interval?: string;
  readonly timeout?: string;
  readonly startPeriod?: string;
  readonly startInterval?: string;
  readonly retries?: number;
}
interface PortInput { readonly internal: number; readonly external?: number; readonly ip?: string; readonly protocol?: string }
interface VolumeMountInput { readonly volumeName?: string; readonly hostPath?: string; readonly containerPath?: string; readonly readOnly?: boolean; readonly fromContainer?: string }
interface NetworkAttachInput { readonly name: string; readonly ipv4Address?: string; readonly ipv6Address?: string; readonly aliases?: string[] }
interface UlimitInput { readonly name: string; readonly soft: number; readonly hard: number }

type Inputs = Readonly<Record<string, unknown>>;

function str(inputs: Inputs, key: string): string | undefined {
  const value = inputs[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
function num(inputs: Inputs, key: string): number | undefined {
  const value = inputs[key];
  return typeof value === 'number' ? value : undefined;
}
function list<T>(inputs: Inputs, key: string): T[] {
  const value = inputs[key];
  return Array.isArray(value) ? (value as T[]) : [];
}

function labels(inputs: Inputs, runId: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { label, value } of list<LabelInput>(inputs, 'labels')) out[label] = value;
  out[RUN_LABEL] = runId;
  return out;
}

/** Go duration ("1m30s", "500ms", "10s") → nanoseconds, as the provider parses health check times. */
export function goDurationNs(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  let rest = text;
  while (rest.length > 0) {
    const match = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!match) throw new Error(`not a Go duration: ${JSON.stringify(text)}`);
    total += Number(match[1]) * units[match[2]!]!;
    rest = rest.slice(match[0].length);
  }
  return Math.round(total);
}

const UNSUPPORTED_CONTAINER_INPUTS = ['devices', 'deviceRequests', 'gpus', 'mounts', 'attach', 'logs', 'rm', 'networkMode', 'pidMode', 'ipcMode'];

// ---------------------------------------------------------------------------------------------------
// Uploads: a minimal ustar writer (one archive for all of a container's uploads, extracted at `/`)

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function tarHeader(path: string, size: number, mode: number, uid: number, gid: number): Buffer {
  const header = Buffer.alloc(512);
  let name = path;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = path.lastIndexOf('/', path.length - 1 - 0);
    prefix = path.slice(0, cut);
    name = path.slice(cut + 1);
    if (Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) throw new Error(`upload path too long: ${path}`);
  }
  header.write(name, 0, 100, 'utf8');
  header.write(octal(mode, 8), 100, 8, 'ascii');
  header.write(octal(uid, 8), 108, 8, 'ascii');
  header.write(octal(gid, 8), 116, 8, 'ascii');
  header.write(octal(size, 12), 124, 12, 'ascii');
  header.write(octal(Math.floor(Date.now() / 1000), 12), 136, 12, 'ascii');
  header.write('        ', 148, 8, 'ascii');
  header.write('0', 156, 1, 'ascii');
  header.write('ustar\0', 257, 6, 'ascii');
  header.write('00', 263, 2, 'ascii');
  header.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(octal(sum, 7) + ' ', 148, 8, 'ascii');
  return header;
}

function numericId(value: string | undefined, what: string, file: string): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d+$/.test(value)) throw new Error(`upload ${file}: ${what} ${value} is not numeric (the applier resolves no names)`);
  return Number(value);
}

/** The uploads of one container as a tar archive, as the provider writes them (root-relative paths). */
export function uploadsArchive(uploads: readonly UploadInput[]): Buffer {
  const parts: Buffer[] = [];
  for (const upload of uploads) {
    if (upload.source !== undefined) throw new Error(`upload ${upload.file}: 'source' uploads are not supported`);
    const content =
      upload.contentBase64 !== undefined ? Buffer.from(upload.contentBase64, 'base64') : Buffer.from(upload.content ?? '', 'utf8');
    const mode = upload.permissions !== undefined ? parseInt(upload.permissions, 8) : upload.executable ? 0o744 : 0o644;
    const uid = numericId(upload.owner, 'owner', upload.file);
    const gid = numericId(upload.group, 'group', upload.file);
    parts.push(tarHeader(upload.file.replace(/^\/+/, ''), content.length, mode, uid, gid), content);
    const padding = (512 - (content.length % 512)) % 512;
    if (padding > 0) parts.push(Buffer.alloc(padding));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------------
// Images

/** Files of a build context, relative, with its .dockerignore applied (the library dockerode uses). */
function contextFiles(context: string): string[] {
  const ignoreFile = join(context, '.dockerignore');
  const ignore = dockerignore({ ignorecase: false });
  if (existsSync(ignoreFile)) ignore.add(readFileSync(ignoreFile, 'utf8'));
  const keep = ignore.createFilter();
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir).sort()) {
      const absolute = join(dir, entry);
      const rel = relative(context, absolute);
      if (!keep(rel)) continue;
      if (statSync(absolute).isDirectory()) walk(absolute);
      else files.push(rel);
    }
  };
  walk(context);
  return files;
}

interface BuildInput {
  readonly context?: string;
  readonly dockerfile?: string;
  readonly buildArgs?: Record<string, string>;
  readonly buildArg?: Record<string, string>;
  readonly label?: Record<string, string>;
  readonly labels?: Record<string, string>;
  readonly target?: string;
}

async function ensureImage(docker: Docker, resource: RecordedResource, options: ApplyOptions): Promise<string> {
  const name = str(resource.inputs, 'name');
  if (!name) throw new Error(`image resource ${resource.name} has no name`);
  const build = resource.inputs.build as BuildInput | undefined;
  if (!build) {
    try {
      return (await docker.getImage(name).inspect()).Id;
    } catch {
      throw new Error(`image ${name} (${resource.name}) is not on the engine; the applier never pulls`);
    }
  }
  const context = resolve(options.workDir ?? REPO_ROOT, build.context ?? '.');
  const dockerfile = build.dockerfile ?? 'Dockerfile';
  const buildargs = { ...(build.buildArgs ?? build.buildArg ?? {}), ...options.buildArgOverrides };
  const files = contextFiles(context);
  const hash = createHash('sha256').update(JSON.stringify({ dockerfile, buildargs, target: build.target ?? null }));
  for (const file of files) hash.update(file).update('\0').update(readFileSync(join(context, file)));
  const digest = hash.digest('hex');
  try {
    const existing = await docker.getImage(name).inspect();
    if (existing.Config?.Labels?.[RECIPE_LABEL] === digest) return existing.Id;
  } catch {
    // not built yet
  }
  options.log?.(`building ${name} from ${relative(REPO_ROOT, context) || '.'}/${dockerfile} (${files.length} files)`);
  await buildFromContext(docker, context, files, {
    tag: name,
    dockerfile,
    buildargs,
    labels: { ...(build.labels ?? build.label ?? {}), [RECIPE_LABEL]: digest },
  });
  return (await docker.getImage(name).inspect()).Id;
}

// ---------------------------------------------------------------------------------------------------
// Containers

function containerSpec(
  resource: RecordedResource,
  image: string,
  options: ApplyOptions,
): { create: Docker.ContainerCreateOptions; extraNetworks: NetworkAttachInput[]; uploads: UploadInput[] } {
  const inputs = resource.inputs;
  for (const key of UNSUPPORTED_CONTAINER_INPUTS) {
    if (inputs[key] !== undefined && inputs[key] !== false) throw new Error(`${resource.name}: input '${key}' is not supported by the applier`);
  }
  const name = str(inputs, 'name') ?? resource.name;
  const networks = list<NetworkAttachInput>(inputs, 'networksAdvanced');
  const [first, ...extraNetworks] = networks;
  const ports = list<PortInput>(inputs, 'ports');
  const healthcheck = inputs.healthcheck as HealthcheckInput | undefined;
  const capabilities = inputs.capabilities as { adds?: string[]; drops?: string[] } | undefined;
  const mounts = list<VolumeMountInput>(inputs, 'volumes').map((volume) => {
    if (volume.hostPath || volume.fromContainer || !volume.volumeName) {
      throw new Error(`${resource.name}: only named volumes are supported (got ${JSON.stringify(volume)})`);
    }
    return { Type: 'volume' as const, Source: volume.volumeName, Target: volume.containerPath ?? '', ReadOnly: volume.readOnly ?? false };
  });
  const memoryMb = num(inputs, 'memory');
  const swapMb = num(inputs, 'memorySwap');
  const tmpfs = inputs.tmpfs as Record<string, string> | undefined;
  const sysctls = inputs.sysctls as Record<string, string> | undefined;
  const logOpts = inputs.logOpts as Record<string, string> | undefined;
  const publishOn = options.publishOn ?? '127.0.0.1';

  const create: Docker.ContainerCreateOptions = {
    name,
    Image: image,
    Cmd: inputs.command as string[] | undefined,
    Entrypoint: inputs.entrypoints as string[] | undefined,
    Env: list<string>(inputs, 'envs'),
    User: str(inputs, 'user'),
    WorkingDir: str(inputs, 'workingDir'),
    Hostname: str(inputs, 'hostname'),
    Domainname: str(inputs, 'domainname'),
    Labels: labels(inputs, options.runId),
    StopSignal: str(inputs, 'stopSignal'),
    StopTimeout: num(inputs, 'stopTimeout'),
    Tty: inputs.tty === true,
    OpenStdin: inputs.stdinOpen === true,
    ExposedPorts: Object.fromEntries(ports.map((p) => [`${p.internal}/${p.protocol ?? 'tcp'}`, {}])),
    Healthcheck: healthcheck?.tests
      ? {
          Test: healthcheck.tests,
          Interval: goDurationNs(healthcheck.interval),
          Timeout: goDurationNs(healthcheck.timeout),
          StartPeriod: goDurationNs(healthcheck.startPeriod),
          Retries: healthcheck.retries,
        }
      : undefined,
    HostConfig: {
      RestartPolicy: { Name: str(inputs, 'restart') ?? 'no', MaximumRetryCount: num(inputs, 'maxRetryCount') ?? 0 },
      Memory: memoryMb !== undefined ? memoryMb * 1024 * 1024 : undefined,
      MemorySwap: swapMb !== undefined ? (swapMb < 0 ? -1 : swapMb * 1024 * 1024) : undefined,
      MemoryReservation: num(inputs, 'memoryReservation') !== undefined ? num(inputs, 'memoryReservation')! * 1024 * 1024 : undefined,
      LogConfig: { Type: str(inputs, 'logDriver') ?? 'json-file', Config: { ...logOpts } },
      PortBindings: Object.fromEntries(
        ports.map((p) => [`${p.internal}/${p.protocol ?? 'tcp'}`, [{ HostIp: publishOn, HostPort: p.external ? String(p.external) : '' }]]),
      ),
      Mounts: mounts,
      CapAdd: capabilities?.adds,
      CapDrop: capabilities?.drops,
      Init: inputs.init === true ? true : undefined,
      ReadonlyRootfs: inputs.readOnly === true,
      Privileged: inputs.privileged === true,
      Tmpfs: tmpfs,
      Sysctls: sysctls,
      SecurityOpt: list<string>(inputs, 'securityOpts'),
      Ulimits: list<UlimitInput>(inputs, 'ulimits').map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
      ShmSize: num(inputs, 'shmSize') !== undefined ? num(inputs, 'shmSize')! * 1024 * 1024 : undefined,
      ExtraHosts: list<{ host: string; ip: string }>(inputs, 'hosts').map((h) => `${h.host}:${h.ip}`),
      Dns: list<string>(inputs, 'dns'),
      GroupAdd: list<string>(inputs, 'groupAdds'),
      NetworkMode: first?.name,
    },
    NetworkingConfig: first
      ? {
          EndpointsConfig: {
            [first.name]: {
              IPAMConfig: first.ipv4Address ? { IPv4Address: first.ipv4Address } : undefined,
              Aliases: first.aliases,
            },
          },
        }
      : undefined,
  };
  return { create, extraNetworks, uploads: list<UploadInput>(inputs, 'uploads') };
}

async function healthStatus(docker: Docker, name: string): Promise<string> {
  const info = await docker.getContainer(name).inspect();
  if (!info.State.Running) throw new Error(`${name} is not running (exit code ${info.State.ExitCode})`);
  return info.State.Health?.Status ?? 'none';
}

/** The payload of a non-TTY log buffer: frames of an 8-byte header (stream, 0, 0, 0, size) + data. */
export function demuxLogs(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

async function lastLogLines(docker: Docker, name: string): Promise<string> {
  try {
    const buffer = (await docker.getContainer(name).logs({ stdout: true, stderr: true, tail: 15 })) as unknown as Buffer;
    return demuxLogs(buffer).trim();
  } catch {
    return '(no logs)';
  }
}

// ---------------------------------------------------------------------------------------------------
// Apply

/**
 * The custom resources each resource waits for: its recorded dependencies, where a dependency on a
 * component stands for every custom resource under it (as the engine treats it).
 */
function dependencyMap(resources: readonly RecordedResource[]): Map<string, string[]> {
  const children = new Map<string, RecordedResource[]>();
  for (const r of resources) {
    if (r.parentUrn) children.set(r.parentUrn, [...(children.get(r.parentUrn) ?? []), r]);
  }
  const customsUnder = (urn: string): string[] =>
    (children.get(urn) ?? []).flatMap((child) => (child.custom ? [child.urn] : []).concat(customsUnder(child.urn)));
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const map = new Map<string, string[]>();
  for (const r of resources.filter((x) => x.custom)) {
    const deps = r.options.dependsOn.flatMap((urn) => {
      const dependency = byUrn.get(urn);
      if (!dependency) return [];
      return dependency.custom ? [urn] : customsUnder(urn);
    });
    map.set(r.urn, [...new Set(deps)].filter((urn) => urn !== r.urn));
  }
  return map;
}

/**
 * Creates every Docker resource of the recorded program, each as soon as the resources it depends on
 * exist (the engine's parallelism: health waits overlap). On failure removes what it created.
 */
export async function applyProgram(docker: Docker, program: RecordedProgram, options: ApplyOptions): Promise<AppliedStack> {
  const log = options.log ?? (() => undefined);
  const containers = new Map<string, AppliedContainer>();
  const specs = new Map<string, ReturnType<typeof containerSpec>>();
  const stack: AppliedStack = {
    runId: options.runId,
    containers,
    container: (name) => docker.getContainer(name),
    recreateContainers: async (names) => {
      const known = names.map((name) => {
        const applied = containers.get(name);
        const spec = specs.get(name);
        if (!applied || !spec) throw new Error(`no container ${name} in this stack`);
        return { name, applied, spec };
      });
      await Promise.all(known.map(({ name }) => docker.getContainer(name).remove({ force: true })));
      await Promise.all(
        known.map(async ({ name, applied, spec }) => {
          const id = await createContainer(docker, name, spec, applied.resource, log);
          containers.set(name, { ...applied, id });
        }),
      );
    },
    destroy: () => destroyRun(docker, options.runId),
  };

  const dependencies = dependencyMap(program.resources);
  const omitted = new Set(program.resources.filter((r) => r.custom && options.omit?.(r)).map((r) => r.urn));
  for (const [urn, deps] of dependencies) dependencies.set(urn, deps.filter((d) => !omitted.has(d)));
  const customs = program.resources.filter((r) => r.custom && !omitted.has(r.urn));
  if (omitted.size > 0) log(`left out: ${program.resources.filter((r) => omitted.has(r.urn)).map((r) => r.name).join(', ')}`);
  const imageIds = new Map<string, string>();

  const create = async (resource: RecordedResource): Promise<void> => {
    const inputs = resource.inputs;
    switch (resource.type) {
      case REMOTE_IMAGE_TYPE: {
        const id = await ensureImage(docker, resource, options);
        for (const key of ['imageId', 'repoDigest', 'name']) {
          const recorded = resource.state[key];
          if (typeof recorded === 'string') imageIds.set(recorded, id);
        }
        return;
      }
      case NETWORK_TYPE: {
        const name = str(inputs, 'name') ?? resource.name;
        const ipam = list<{ subnet?: string; gateway?: string; ipRange?: string; auxAddress?: Record<string, string> }>(inputs, 'ipamConfigs');
        log(`network ${name} ${ipam.map((c) => c.subnet).join(' ')}`);
        await docker.createNetwork({
          Name: name,
          Driver: str(inputs, 'driver') ?? 'bridge',
          Internal: inputs.internal === true,
          Attachable: inputs.attachable === true,
          CheckDuplicate: true,
          Options: inputs.options as Record<string, string> | undefined,
          IPAM: {
            Driver: str(inputs, 'ipamDriver') ?? 'default',
            Config: ipam.map((c) => ({ Subnet: c.subnet, Gateway: c.gateway, IPRange: c.ipRange, AuxiliaryAddresses: c.auxAddress })),
          },
          Labels: labels(inputs, options.runId),
        });
        return;
      }
      case VOLUME_TYPE:
        await docker.createVolume({
          Name: str(inputs, 'name') ?? resource.name,
          Driver: str(inputs, 'driver') ?? 'local',
          DriverOpts: (inputs.driverOpts as Record<string, string> | undefined) ?? {},
          Labels: labels(inputs, options.runId),
        });
        return;
      case CONTAINER_TYPE: {
        const recordedImage = str(inputs, 'image');
        if (!recordedImage) throw new Error(`container ${resource.name} has no image`);
        const spec = containerSpec(resource, imageIds.get(recordedImage) ?? recordedImage, options);
        const name = spec.create.name!;
        specs.set(name, spec);
        const id = await createContainer(docker, name, spec, resource, log);
        const address = list<NetworkAttachInput>(inputs, 'networksAdvanced')[0]?.ipv4Address;
        containers.set(name, { name, id, resource, address });
        return;
      }
      default:
        if (resource.type.startsWith('docker:')) throw new Error(`${resource.type} (${resource.name}) is not supported by the applier`);
    }
  };

  const created = new Map<string, Promise<void>>();
  const byUrn = new Map(customs.map((r) => [r.urn, r]));
  const schedule = (resource: RecordedResource, path: readonly string[] = []): Promise<void> => {
    if (path.includes(resource.urn)) throw new Error(`dependency cycle: ${[...path, resource.urn].join(' -> ')}`);
    let promise = created.get(resource.urn);
    if (!promise) {
      const deps = (dependencies.get(resource.urn) ?? []).map((urn) => schedule(byUrn.get(urn)!, [...path, resource.urn]));
      promise = Promise.all(deps).then(() => create(resource));
      created.set(resource.urn, promise);
    }
    return promise;
  };
  const results = await Promise.allSettled(customs.map((r) => schedule(r)));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    await destroyRun(docker, options.runId).catch(() => undefined);
    throw failure.reason;
  }
  return stack;
}

async function createContainer(
  docker: Docker,
  name: string,
  spec: ReturnType<typeof containerSpec>,
  resource: RecordedResource,
  log: (line: string) => void,
): Promise<string> {
  const container = await docker.createContainer(spec.create);
  for (const network of spec.extraNetworks) {
    await docker.getNetwork(network.name).connect({
      Container: container.id,
      EndpointConfig: { IPAMConfig: network.ipv4Address ? { IPv4Address: network.ipv4Address } : undefined, Aliases: network.aliases },
    });
  }
  if (spec.uploads.length > 0) await container.putArchive(uploadsArchive(spec.uploads), { path: '/' });
  const start = resource.inputs.start !== false;
  if (start) await container.start();
  log(`container ${name}${start ? ' started' : ' created'}`);
  if (start && resource.inputs.wait === true) {
    const timeoutMs = (num(resource.inputs, 'waitTimeout') ?? 60) * 1000;
    try {
      await waitFor(async () => (await healthStatus(docker, name)) === 'healthy', { timeoutMs, intervalMs: 250, what: `${name} to be healthy` });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- last log lines of ${name}:\n${await lastLogLines(docker, name)}`, {
        cause: error,
      });
    }
  }
  return container.id;
}

/** Removes every container, network and volume labelled with this run id. */
export async function destroyRun(docker: Docker, runId: string): Promise<void> {
  const filters = JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] });
  const containers = await docker.listContainers({ all: true, filters });
  // One at a time: Debian's Docker 20.10 was seen to leak a network endpoint when all the containers of a network
  // were force-removed at once; the network then refused removal ("has active endpoints") until dockerd restarted.
  for (const c of containers) await docker.getContainer(c.Id).remove({ force: true, v: true });
  for (const network of await docker.listNetworks({ filters })) {
    // an endpoint is released a moment after its container is gone
    await waitFor(
      async () => {
        await docker.getNetwork(network.Id).remove();
        return true;
      },
      { what: `network ${network.Name} to be removable (no endpoint left)`, timeoutMs: 15_000, intervalMs: 500 },
    );
  }
  const { Volumes } = await docker.listVolumes({ filters });
  for (const volume of Volumes ?? []) await docker.getVolume(volume.Name).remove();
}

/** What is left of a run on the engine (for the teardown assertion). */
export async function leftovers(docker: Docker, runId: string): Promise<{ containers: string[]; networks: string[]; volumes: string[] }> {
  const filters = JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] });
  const containers = (await docker.listContainers({ all: true, filters })).map((c) => c.Names.join(','));
  const networks = (await docker.listNetworks({ filters })).map((n) => n.Name);
  const volumes = ((await docker.listVolumes({ filters })).Volumes ?? []).map((v) => v.Name);
  return { containers, networks, volumes };
}
