import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';

import { apiInstanceEnvironment, type StackSecrets, type StackSpec } from '../../config';
import { IMAGE_FACTS } from '../images';
import { pulledImage } from './shared';
import { secretValueFile } from '../rendered';
import { serviceContainer, type ContainerFile, type LogRotation } from './service-container';

/**
 * Stop grace of an API container: the API's own drain on SIGTERM (API_SHUTDOWN_TIMEOUT_MS, 10 s by default: in-flight
 * requests finish, keep-alive connections close) and a margin for its Redis clients to quit.
 */
const API_STOP_GRACE_SECONDS = 15;

/** The repository root: the API image's build context. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * What decides the API image besides api/ itself: the dependency pins, the compiler settings that turn
 * api/src into build/api (which the Dockerfile copies; `npm run up` builds it first), and the context filter.
 */
export const API_BUILD_ROOT_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', '.dockerignore'];

/** Where the compiled API is in the image (api/Dockerfile). */
export const API_MAIN = '/app/build/api/src/main.js';

function listFiles(dir: string): string[] {
  let out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'build' || entry.name === 'dist') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out = out.concat(listFiles(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

/**
 * sha256 over the content of api/ (and the root files the build uses), paths included: the API image
 * tag, so the image (and the API containers) change exactly when what goes into the image changes.
 */
export function apiContentHash(root = REPO_ROOT): string {
  const files = [
    ...listFiles(path.join(root, 'api')),
    ...API_BUILD_ROOT_FILES.map((f) => path.join(root, f)).filter((f) => {
      try {
        return statSync(f).isFile();
      } catch {
        return false;
      }
    }),
  ].sort();
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(path.relative(root, file).split(path.sep).join('/'));
    hash.update('\0');
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** GET /healthz with node's built-in fetch: exits 0 on a 2xx only. */
export function apiHealthCheck(port: number): string[] {
  const script = `fetch('http://127.0.0.1:${port}/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;
  return ['CMD', IMAGE_FACTS.api.healthTool as string, '-e', script];
}

export interface ApiTierArgs {
  readonly spec: StackSpec;
  /** The stack's secrets: the `api` user's Redis password and the API tokens go into files of the containers. */
  readonly secrets: pulumi.Output<StackSecrets>;
  readonly networkName: pulumi.Input<string>;
  /** Build the image from api/Dockerfile (true) or use `spec.images.api` as it is (false). */
  readonly build: boolean;
  /** The build's base image (api/Dockerfile's NODE_IMAGE build argument). */
  readonly baseImage: string;
  readonly memoryMb: number;
  readonly log: LogRotation;
}

/** Where the API containers find their secrets (REDIS_PASSWORD_FILE, API_TOKENS_FILE), readable by the API's user only. */
export const API_SECRETS_DIR = '/run/secrets/evergreen';

/**
 * The API: its image, built from api/Dockerfile and tagged with the hash of api/'s content, and one
 * container per instance. Each instance's environment is the model's (apiInstanceEnvironment) with its two
 * secrets in files, not in the environment, which `docker inspect` shows to anyone who may use the Docker API:
 * REDIS_PASSWORD_FILE and API_TOKENS_FILE name files uploaded 0600 (their content a secret Output, encrypted in the
 * state).
 */
export class ApiTier extends pulumi.ComponentResource {
  public readonly image: docker.RemoteImage;
  public readonly containers: docker.Container[];

  constructor(name: string, args: ApiTierArgs, opts?: pulumi.ComponentResourceOptions) {
    super('evergreen:api:ApiTier', name, {}, opts);
    const { spec } = args;
    if (args.build) {
      const contentHash = apiContentHash();
      this.image = new docker.RemoteImage(
        `${name}-image`,
        {
          name: `${spec.images.api}:${contentHash.slice(0, 12)}`,
          build: {
            context: REPO_ROOT,
            dockerfile: 'api/Dockerfile',
            buildArgs: { NODE_IMAGE: args.baseImage },
            label: { 'evergreen.stack': spec.name, 'evergreen.api-content': contentHash },
          },
          // A change under api/ rebuilds the image (and so replaces the containers, whose image id changes).
          triggers: { apiContent: contentHash },
          keepLocally: true,
        },
        { parent: this },
      );
    } else {
      this.image = pulledImage(`${name}-image`, spec.images.api, this);
    }

    const secretFile = (name: string, value: (s: StackSecrets) => string): ContainerFile => ({
      path: `${API_SECRETS_DIR}/${name}`,
      file: secretValueFile(`api/secrets/${name}`, 'api', args.secrets.apply(value), `<${name}>`),
    });
    const secretFiles = [
      secretFile('redis-password', (s) => s.redisPasswords[spec.api.redisUser]),
      secretFile('api-tokens', (s) => s.apiTokens.join(',')),
    ];
    this.containers = spec.api.instanceList.map((instance) => {
      return serviceContainer(
        `${name}-${instance.name}`,
        {
          spec,
          instance,
          facts: IMAGE_FACTS.api,
          image: this.image.imageId,
          networkName: args.networkName,
          args: [API_MAIN],
          env: {
            ...apiInstanceEnvironment(spec, instance.index),
            REDIS_PASSWORD_FILE: `${API_SECRETS_DIR}/redis-password`,
            API_TOKENS_FILE: `${API_SECRETS_DIR}/api-tokens`,
          },
          files: secretFiles,
          healthcheck: apiHealthCheck(instance.port),
          stopGraceSeconds: API_STOP_GRACE_SECONDS,
          memoryMb: args.memoryMb,
          log: args.log,
        },
        { parent: this },
      );
    });

    this.registerOutputs({ image: this.image.name, containers: this.containers.map((c) => c.name) });
  }
}
