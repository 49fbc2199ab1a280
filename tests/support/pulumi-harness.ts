/**
 * The Pulumi recording harness: runs the program of infra/ under Pulumi's own mocks
 * (`pulumi.runtime.setMocks`, the way Pulumi documents unit tests) and records every resource it
 * registers, with its inputs exactly as the engine would receive them.
 *
 * Used by the unit tests of infra/ (which check the whole graph) and by the end-to-end suite (which
 * applies the recorded Docker resources, input for input, to a real Docker engine), so the recording
 * must be faithful:
 *
 * - Inputs are recorded after Pulumi's own serialisation, so what is recorded is what a provider would
 *   get. Secret values are unwrapped in `inputs`, and their paths listed in `secretPaths` (Pulumi pushes
 *   the secretness of an array element up to the array: a secret upload makes `uploads` secret).
 * - Resource options the engine acts on (deleteBeforeReplace, replaceOnChanges, dependencies…) come
 *   from the registration request itself.
 * - The mocks return what the real providers would add: `imageId`/`repoDigest` for images (a digest of
 *   the image's inputs, so that it changes exactly when the image would), `name` for containers,
 *   networks and volumes, `result` for RandomPassword. Outputs a resource declares as
 *   `additionalSecretOutputs` come back secret, as the engine does it (RandomPassword.result).
 * - Generated passwords are deterministic per resource name and `seed`, so that two recordings of the
 *   same program differ only where the settings differ.
 *
 * The program is infra/program.ts's `evergreenProgram`, the function infra/index.ts hands to Pulumi.
 * Each call re-runs it from the start inside a new root stack with a new mock monitor and config; as
 * the program keeps no module-level state, there is no need to re-import anything, and there is only
 * ever one copy of @pulumi/pulumi (two copies break mocks).
 */
import { createHash } from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';

import { PROJECT_NAME, evergreenProgram } from '../../infra/program';

/** Options of a resource as the engine received them. */
export interface RecordedOptions {
  /** URNs this resource depends on: explicit `dependsOn` and the resources its inputs came from. */
  readonly dependsOn: readonly string[];
  readonly deleteBeforeReplace: boolean;
  readonly replaceOnChanges: readonly string[];
  readonly ignoreChanges: readonly string[];
  readonly additionalSecretOutputs: readonly string[];
  readonly protect: boolean;
  readonly retainOnDelete: boolean;
}

export interface RecordedResource {
  /** Pulumi type token, e.g. `docker:index/container:Container` or `evergreen:redis:RedisTier`. */
  readonly type: string;
  /** The logical (Pulumi) name. */
  readonly name: string;
  readonly urn: string;
  readonly parentUrn?: string;
  /** True for provider resources (containers, images…), false for components and the stack. */
  readonly custom: boolean;
  /** Inputs as plain values, secrets unwrapped. */
  readonly inputs: Readonly<Record<string, unknown>>;
  /** Paths of the inputs that were secret, e.g. `envs`, `uploads`, `build.args.TOKEN`. */
  readonly secretPaths: readonly string[];
  /** The outputs the mocks gave back (inputs plus what the provider would add), secrets unwrapped. */
  readonly state: Readonly<Record<string, unknown>>;
  readonly options: RecordedOptions;
}

export interface RecordedProgram {
  /** Every registered resource in registration order, the root stack excluded. */
  readonly resources: readonly RecordedResource[];
  /** The stack outputs, secrets unwrapped. */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** Paths of the stack outputs that were secret. */
  readonly secretOutputPaths: readonly string[];
}

export interface RecordOptions {
  /** Config keys (bare or `project:key`) set as secrets, as `pulumi config set --secret` does. */
  readonly secretKeys?: readonly string[];
  /** @default 'dev' */
  readonly stack?: string;
  /** Run as `pulumi preview` would. @default false */
  readonly preview?: boolean;
  /** Seed of the deterministic generated passwords. @default 'evergreen-test' */
  readonly seed?: string;
}

/** The program stopped: `cause` is what it threw; `resources` what it had registered until then. */
export class ProgramFailedError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly resources: readonly RecordedResource[],
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'ProgramFailedError';
  }
}

const STACK_TYPE = 'pulumi:pulumi:Stack';

function qualify(key: string): string {
  return key.includes(':') ? key : `${PROJECT_NAME}:${key}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A password of `length` alphanumerics derived from `seed` and `name`. */
export function deterministicPassword(seed: string, name: string, length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let round = 0; out.length < length; round += 1) {
    for (const byte of createHash('sha256').update(`${seed}:${name}:${round}`).digest()) {
      if (out.length < length) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}

function isSecretWrapper(value: unknown): value is { value: unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig
  );
}

/** Removes Pulumi's secret wrappers, collecting the paths where they were. */
export function unwrapSecrets(value: unknown, path = '', found: string[] = []): [unknown, string[]] {
  if (isSecretWrapper(value)) {
    found.push(path);
    return [unwrapSecrets(value.value, path, [])[0], found];
  }
  if (Array.isArray(value)) {
    return [value.map((item, i) => unwrapSecrets(item, `${path}[${i}]`, found)[0]), found];
  }
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = unwrapSecrets(item, path === '' ? key : `${path}.${key}`, found)[0];
    }
    return [out, found];
  }
  return [value, found];
}

/** What a provider adds to a resource's state, keyed by type. */
function providerOutputs(args: pulumi.runtime.MockResourceArgs, seed: string): { id: string; state: Record<string, unknown> } {
  const inputs = unwrapSecrets(args.inputs)[0] as Record<string, unknown>;
  const name = typeof inputs.name === 'string' ? inputs.name : args.name;
  switch (args.type) {
    case 'docker:index/remoteImage:RemoteImage': {
      const digest = sha256(JSON.stringify({ name, build: inputs.build ?? null, triggers: inputs.triggers ?? null }));
      const repository = name.replace(/:[^:/]+$/, '');
      return {
        id: `sha256:${digest}${name}`,
        state: { ...args.inputs, imageId: `sha256:${digest}`, repoDigest: `${repository}@sha256:${digest}` },
      };
    }
    case 'docker:index/container:Container':
    case 'docker:index/network:Network':
    case 'docker:index/volume:Volume':
      return { id: `${args.type.split(':').pop()?.toLowerCase()}-${name}`, state: { ...args.inputs, name } };
    case 'random:index/randomPassword:RandomPassword': {
      const length = typeof inputs.length === 'number' ? inputs.length : 16;
      const result = deterministicPassword(seed, args.name, length);
      return { id: `password-${args.name}`, state: { ...args.inputs, result, bcryptHash: `bcrypt(${sha256(result)})` } };
    }
    default:
      return { id: args.custom ? `${args.name}-id` : '', state: { ...args.inputs } };
  }
}

interface CapturedRequest {
  readonly urn: string;
  readonly parent: string;
  readonly options: RecordedOptions;
}

/** The parts of the mock monitor's registration request this harness reads. */
interface RegisterResourceRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getDeletebeforereplace(): boolean;
  getReplaceonchangesList(): string[];
  getIgnorechangesList(): string[];
  getAdditionalsecretoutputsList(): string[];
  getProtect(): boolean | undefined;
  getRetainondelete(): boolean | undefined;
}
interface PatchableMonitor {
  newUrn(parent: string, type: string, name: string): string;
  registerResource(req: RegisterResourceRequest, callback: (...args: unknown[]) => void): unknown;
}

/**
 * Runs infra/'s program under mocks with this stack config (keys bare or `project:key`, values as
 * `pulumi config set` stores them: strings, JSON for objects) and records what it registers.
 * Rejects with ProgramFailedError when the program throws (e.g. invalid settings).
 */
export async function recordProgram(
  config: Readonly<Record<string, string>>,
  options: RecordOptions = {},
): Promise<RecordedProgram> {
  const seed = options.seed ?? 'evergreen-test';
  const stack = options.stack ?? 'dev';
  const captured = new Map<string, CapturedRequest>();
  const resources: RecordedResource[] = [];
  let stackOutputs: Record<string, unknown> = {};

  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      const request = captured.get(`${args.type}::${args.name}`);
      const { id, state } = providerOutputs(args, seed);
      // As the engine does: outputs named in additionalSecretOutputs come back secret.
      for (const key of request?.options.additionalSecretOutputs ?? []) {
        if (key in state && !isSecretWrapper(state[key])) {
          state[key] = { [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value: state[key] };
        }
      }
      const [inputs, secretPaths] = unwrapSecrets(args.inputs);
      const parentUrn = request?.parent || undefined;
      const urn = request?.urn ?? `urn:pulumi:${stack}::${PROJECT_NAME}::${args.type}::${args.name}`;
      if (args.type === STACK_TYPE) return { id, state };
      resources.push({
        type: args.type,
        name: args.name,
        urn,
        ...(parentUrn === undefined ? {} : { parentUrn }),
        custom: args.custom ?? false,
        inputs: inputs as Record<string, unknown>,
        secretPaths,
        state: unwrapSecrets(state)[0] as Record<string, unknown>,
        options: request?.options ?? emptyOptions(),
      });
      return { id, state };
    },
    call(args) {
      return args.inputs;
    },
  };

  await pulumi.runtime.setMocks(mocks, PROJECT_NAME, stack, options.preview ?? false);
  const qualified: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) qualified[qualify(key)] = value;
  pulumi.runtime.setAllConfig(qualified, (options.secretKeys ?? []).map(qualify));

  const monitor = pulumi.runtime.getMonitor() as unknown as PatchableMonitor;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    captured.set(`${req.getType()}::${req.getName()}`, {
      urn: monitor.newUrn(req.getParent(), req.getType(), req.getName()),
      parent: req.getParent(),
      options: {
        dependsOn: req.getDependenciesList(),
        deleteBeforeReplace: req.getDeletebeforereplace(),
        replaceOnChanges: req.getReplaceonchangesList(),
        ignoreChanges: req.getIgnorechangesList(),
        additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        protect: req.getProtect() ?? false,
        retainOnDelete: req.getRetainondelete() ?? false,
      },
    });
    return register(req, callback);
  };

  try {
    // The program's error is caught inside the stack's init: were it to escape, the root Stack
    // resource would reject promises nobody awaits, which ends the process instead of failing a test.
    let programError: { error: unknown } | undefined;
    await pulumi.runtime.runInPulumiStack(async () => {
      try {
        stackOutputs = await evergreenProgram();
      } catch (error) {
        programError = { error };
      }
      return stackOutputs;
    });
    if (programError) throw programError.error;
    // The stack's outputs as the engine records them: keep the Outputs (and so their secretness).
    const resolved = await resolveOutputs(stackOutputs);
    await pulumi.runtime.disconnect();
    const [outputs, secretOutputPaths] = unwrapSecrets(resolved);
    return { resources, outputs: outputs as Record<string, unknown>, secretOutputPaths };
  } catch (error) {
    await pulumi.runtime.disconnect().catch(() => undefined);
    throw new ProgramFailedError(error, resources);
  }
}

function emptyOptions(): RecordedOptions {
  return {
    dependsOn: [],
    deleteBeforeReplace: false,
    replaceOnChanges: [],
    ignoreChanges: [],
    additionalSecretOutputs: [],
    protect: false,
    retainOnDelete: false,
  };
}

/** Resolves every Output in the stack outputs, wrapping the secret ones the way Pulumi serialises them. */
async function resolveOutputs(outputs: Record<string, unknown>): Promise<Record<string, unknown>> {
  const serialized = await pulumi.runtime.serializeProperties('stack outputs', outputs);
  return pulumi.runtime.deserializeProperties(
    // serializeProperties gives a plain object; deserializeProperties wants a protobuf Struct.
    { toJavaScript: () => serialized } as never,
  );
}

/** The recorded resources of one Pulumi type, e.g. `docker:index/container:Container`. */
export function resourcesOfType(program: RecordedProgram, type: string): RecordedResource[] {
  return program.resources.filter((r) => r.type === type);
}

export const CONTAINER_TYPE = 'docker:index/container:Container';
export const NETWORK_TYPE = 'docker:index/network:Network';
export const VOLUME_TYPE = 'docker:index/volume:Volume';
export const REMOTE_IMAGE_TYPE = 'docker:index/remoteImage:RemoteImage';
export const RANDOM_PASSWORD_TYPE = 'random:index/randomPassword:RandomPassword';

/** True when the input at `path` (e.g. `uploads[2].content`) was secret, itself or through a parent. */
export function isSecretInput(resource: RecordedResource, path: string): boolean {
  return resource.secretPaths.some(
    (p) => p === '' || p === path || path.startsWith(`${p}.`) || path.startsWith(`${p}[`),
  );
}
