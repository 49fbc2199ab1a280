/**
 * Backups and restores of the stack's Redis data, on the Docker host, through the Docker API
 * (dockerode): `npm run backup` and `npm run restore` (scripts/backup.ts, scripts/restore.ts) are thin
 * command-line wrappers around `backupRedis` and `restoreRedis`, which the tests call directly.
 *
 * Redis and Sentinel are never published on the host, so everything goes through the containers:
 * `redis-cli` is run inside them (docker exec; the password travels in the exec's environment,
 * REDISCLI_AUTH, never in argv), files are read and written with the Docker archive API. What this
 * needs to know about the stack is read from the containers themselves: they are found by their
 * labels (`evergreen.stack`, `evergreen.service`), each one's rendered config file is named in its
 * environment, and the `admin` ACL user's password is read from that file (or taken from
 * REDIS_ADMIN_PASSWORD).
 */
import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';

import type Docker from 'dockerode';

import { IMAGE_FACTS } from '../images';
import { LABELS } from '../components/service-container';
import { waitFor } from '../../tests/support/wait';

const REDIS_CLI = IMAGE_FACTS.redis.healthTool as string;
/** redis-check-rdb beside redis-cli in the Redis image. */
const REDIS_CHECK_RDB = path.posix.join(path.posix.dirname(REDIS_CLI), 'redis-check-rdb');

/** A problem an operator can fix (no stack, no master…): the scripts print its message alone. */
export class RedisOpsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisOpsError';
  }
}

export interface StackContainer {
  readonly container: Docker.Container;
  readonly name: string;
  readonly instance: string;
  readonly service: string;
  readonly running: boolean;
  /** IPv4 addresses on the container's networks. */
  readonly addresses: readonly string[];
  /** The container's user (`uid:gid`). */
  readonly user: string;
  /**
   * The config file to read facts from: the rendered template redis-start.sh was given
   * (REDIS_CONFIG_TEMPLATE / SENTINEL_CONFIG_TEMPLATE: never rewritten, so its ACL passwords are
   * still in clear, where a live file rewritten by CONFIG REWRITE holds only their hashes), else the
   * first argument of its command.
   */
  readonly configFile: string | undefined;
}

/** The stack's containers of one service (all states), by instance name. */
export async function stackContainers(docker: Docker, stack: string, service: string): Promise<StackContainer[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.stack}=${stack}`, `${LABELS.service}=${service}`] },
  });
  const out: StackContainer[] = [];
  for (const info of list) {
    const container = docker.getContainer(info.Id);
    const inspect = await container.inspect();
    const env = new Map(
      (inspect.Config.Env ?? []).map((e) => [e.slice(0, Math.max(0, e.indexOf('='))), e.slice(e.indexOf('=') + 1)]),
    );
    out.push({
      container,
      name: inspect.Name.replace(/^\//, ''),
      instance: inspect.Config.Labels[LABELS.instance] ?? inspect.Name,
      service,
      running: inspect.State.Running,
      addresses: Object.values(inspect.NetworkSettings.Networks ?? {}).map((n) => n.IPAddress),
      user: inspect.Config.User,
      configFile: env.get('REDIS_CONFIG_TEMPLATE') ?? env.get('SENTINEL_CONFIG_TEMPLATE') ?? inspect.Config.Cmd?.[0],
    });
  }
  return out.sort((a, b) => a.instance.localeCompare(b.instance));
}

/** Bound of one command run in a container (a paused Redis would otherwise hold a backup or restore forever). */
export const EXEC_TIMEOUT_MS = 30_000;

/**
 * Runs a command in a container; resolves with its stdout, rejects with its stderr on a non-zero exit, or when it
 * has not finished within `timeoutMs`.
 */
export async function execIn(
  target: StackContainer,
  cmd: readonly string[],
  env: Readonly<Record<string, string>> = {},
  timeoutMs = EXEC_TIMEOUT_MS,
): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const attached: { stream?: NodeJS.ReadableStream & { destroy?: () => void } } = {};
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      attached.stream?.destroy?.(); // stop reading; the command itself may still run in the container
      reject(new RedisOpsError(`${target.name}: ${describeCommand(cmd)} did not finish in ${timeoutMs / 1000} s`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([runIn(target, cmd, env, attached), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A command for a message: redis-cli's Redis command (what follows `-e`), else the program and its argument. */
function describeCommand(cmd: readonly string[]): string {
  const e = cmd.indexOf('-e');
  return (e >= 0 ? cmd.slice(e + 1) : cmd).slice(0, 2).join(' ');
}

async function runIn(
  target: StackContainer,
  cmd: readonly string[],
  env: Readonly<Record<string, string>>,
  attached: { stream?: NodeJS.ReadableStream },
): Promise<string> {
  const exec = await target.container.exec({
    Cmd: [...cmd],
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  attached.stream = stream;
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks: Buffer[] = [];
  const errChunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  stderr.on('data', (c: Buffer) => errChunks.push(c));
  target.container.modem.demuxStream(stream, stdout, stderr);
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  const { ExitCode } = await exec.inspect();
  const out = Buffer.concat(chunks).toString('utf8');
  if (ExitCode !== 0) {
    const err = Buffer.concat(errChunks).toString('utf8').trim() || out.trim();
    throw new RedisOpsError(`${target.name}: ${describeCommand(cmd)} exited ${ExitCode}: ${err}`);
  }
  return out;
}

function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** Runs `tar` with the given arguments, feeding it `input`; resolves with its stdout. */
function tar(args: readonly string[], input?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`tar ${args.join(' ')}: ${Buffer.concat(err).toString()}`)),
    );
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

/** The archive (tar) of a path in a container, running or not. */
export async function readArchive(target: StackContainer, containerPath: string): Promise<Buffer> {
  return collect(await target.container.getArchive({ path: containerPath }));
}

/** One file of a container, as text. */
export async function readContainerFile(target: StackContainer, containerPath: string): Promise<string> {
  const archive = await readArchive(target, containerPath);
  return (await tar(['-xOf', '-'], archive)).toString('utf8');
}

/** What the scripts read from a Redis or Sentinel config file. */
export interface ConfigFacts {
  readonly port: number;
  readonly adminPassword: string | undefined;
  /** Sentinel only: the monitored master group. */
  readonly masterName: string | undefined;
}

export function configFacts(conf: string): ConfigFacts {
  const port = Number(/^port (\d+)$/m.exec(conf)?.[1] ?? NaN);
  const adminLine = /^user admin .*$/m.exec(conf)?.[0];
  const adminPassword = adminLine ? /(?:^|\s)>(\S+)/.exec(adminLine)?.[1] : undefined;
  const masterName = /^sentinel monitor (\S+) /m.exec(conf)?.[1];
  return { port, adminPassword, masterName };
}

/** `field:value` lines of INFO. */
export function parseInfo(info: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of info.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** A Redis or Sentinel container with what it takes to talk to it as `admin`. */
export interface RedisEndpoint {
  readonly target: StackContainer;
  readonly port: number;
  readonly adminPassword: string;
  readonly masterName: string | undefined;
}

export async function endpoint(target: StackContainer, adminPassword = process.env.REDIS_ADMIN_PASSWORD): Promise<RedisEndpoint> {
  if (!target.configFile) throw new RedisOpsError(`${target.name} was not started with a config file`);
  const facts = configFacts(await readContainerFile(target, target.configFile));
  const password = adminPassword ?? facts.adminPassword;
  if (!password) throw new RedisOpsError(`no admin password in ${target.name}:${target.configFile}; set REDIS_ADMIN_PASSWORD`);
  if (!Number.isInteger(facts.port)) throw new RedisOpsError(`no port in ${target.name}:${target.configFile}`);
  return { target, port: facts.port, adminPassword: password, masterName: facts.masterName };
}

/** redis-cli as `admin` in the container; `-e` makes an error reply a failure. */
export function cli(ep: RedisEndpoint, ...args: string[]): Promise<string> {
  return execIn(ep.target, [REDIS_CLI, '-h', '127.0.0.1', '-p', String(ep.port), '--user', 'admin', '-e', ...args], {
    REDISCLI_AUTH: ep.adminPassword,
  });
}

export interface MasterLocation {
  readonly masterName: string;
  readonly address: string;
  readonly port: number;
  readonly sentinel: RedisEndpoint;
  readonly master: RedisEndpoint;
  readonly nodes: readonly StackContainer[];
  readonly sentinels: readonly StackContainer[];
}

/** Asks a running Sentinel of the stack which node is the master, and finds that node's container. */
export async function findMaster(docker: Docker, stack: string): Promise<MasterLocation> {
  const sentinels = await stackContainers(docker, stack, 'sentinel');
  const nodes = await stackContainers(docker, stack, 'redis');
  const running = sentinels.filter((s) => s.running);
  if (nodes.length === 0 || running.length === 0) {
    throw new RedisOpsError(
      `no running Sentinel of stack '${stack}' on this Docker host (deploy it with npm run up, or pass --stack)`,
    );
  }
  let lastError: unknown;
  for (const s of running) {
    try {
      const sentinel = await endpoint(s);
      const masterName = sentinel.masterName ?? 'evergreen';
      const reply = (await cli(sentinel, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)).trim().split(/\s+/);
      const [address, port] = [reply[0] ?? '', Number(reply[1])];
      const node = nodes.find((n) => n.addresses.includes(address));
      if (!node) throw new RedisOpsError(`Sentinel names master ${address}:${port}, which is no Redis container of stack '${stack}'`);
      return { masterName, address, port, sentinel, master: await endpoint(node), nodes, sentinels };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError instanceof Error ? lastError : new RedisOpsError(String(lastError));
}

async function info(ep: RedisEndpoint, section: string): Promise<Record<string, string>> {
  return parseInfo(await cli(ep, 'INFO', section));
}

async function configGet(ep: RedisEndpoint, key: string): Promise<string> {
  const lines = (await cli(ep, 'CONFIG', 'GET', key)).trim().split(/\r?\n/);
  return lines[1] ?? '';
}

/** `20261125T191300Z`: sortable, no characters a file system minds. */
export function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export interface BackupOptions {
  readonly stack: string;
  readonly outDir: string;
  /** When the backup is taken (names the files). @default now */
  readonly now?: Date;
  /** Bound of each wait (snapshot, AOF rewrite). @default 120000 */
  readonly timeoutMs?: number;
}

export interface BackupResult {
  readonly master: string;
  /** The RDB snapshot: what `npm run restore` loads. */
  readonly rdbFile: string;
  /** The AOF directory (base + increments + manifest) as a tar archive. */
  readonly aofArchive: string;
  /** Keys in the master when the snapshot was taken. */
  readonly keys: number;
}

/**
 * Makes the current master (asked of the Sentinels) write a fresh RDB snapshot (BGSAVE) and rewrite
 * its AOF (BGREWRITEAOF), waits for both, and copies them out as `<stack>-<instance>-<time>.rdb` and
 * `….aof.tar`. The stack keeps serving throughout (both run in a forked child).
 */
export async function backupRedis(docker: Docker, options: BackupOptions): Promise<BackupResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const { master } = await findMaster(docker, options.stack);
  // A Sentinel that has not seen a failover yet, or one under way, can name a node that is no longer master: its
  // snapshot could lag behind what clients were told is stored.
  const role = (await info(master, 'replication')).role;
  if (role !== 'master') {
    throw new RedisOpsError(`the Sentinels name ${master.target.name} as master, but it reports role:${role ?? 'unknown'} (a failover under way?); try again`);
  }
  const dir = await configGet(master, 'dir');
  const dbfilename = await configGet(master, 'dbfilename');
  const appenddirname = await configGet(master, 'appenddirname');
  const appendonly = await configGet(master, 'appendonly');

  const persistence = () => info(master, 'persistence');
  // Redis refuses a BGSAVE while another one runs (a save point, a replica's full sync): that one ends first.
  await waitFor(async () => (await persistence()).rdb_bgsave_in_progress === '0', {
    what: `the snapshot ${master.target.name} was already taking to end`, timeoutMs, intervalMs: 200,
  });
  const before = await persistence();
  const saves = Number(before.rdb_saves ?? 0);
  await cli(master, 'BGSAVE', 'SCHEDULE');
  const saved = await waitFor(
    async () => {
      const p = await persistence();
      // not done yet, or not started yet (BGSAVE SCHEDULE waits for an AOF rewrite under way)
      if (p.rdb_bgsave_in_progress !== '0' || Number(p.rdb_saves ?? 0) <= saves) return undefined;
      return p.rdb_last_bgsave_status === 'err' ? 'failed' : 'ok';
    },
    { what: `the RDB snapshot of ${master.target.name}`, timeoutMs, intervalMs: 200 },
  );
  if (saved === 'failed') throw new RedisOpsError(`${master.target.name}: BGSAVE failed (see its log)`);
  const keys = Number((await cli(master, 'DBSIZE')).trim());
  if (appendonly === 'yes') {
    const idle = (p: Record<string, string>) => p.aof_rewrite_in_progress === '0' && p.aof_rewrite_scheduled === '0';
    // one rewrite at a time, too: Redis refuses a second
    await waitFor(async () => idle(await persistence()), { what: `the AOF rewrite ${master.target.name} was already doing to end`, timeoutMs, intervalMs: 200 });
    const rewrites = Number((await persistence()).aof_rewrites ?? 0);
    await cli(master, 'BGREWRITEAOF');
    const rewritten = await waitFor(
      async () => {
        const p = await persistence();
        if (!idle(p)) return undefined;
        if (p.aof_last_bgrewrite_status === 'err') return 'failed';
        return Number(p.aof_rewrites ?? 0) > rewrites ? 'ok' : undefined;
      },
      { what: `the AOF rewrite of ${master.target.name}`, timeoutMs, intervalMs: 200 },
    );
    if (rewritten === 'failed') throw new RedisOpsError(`${master.target.name}: BGREWRITEAOF failed (see its log)`);
  }

  // The files hold the whole dataset (names, e-mails): readable by their owner only; each written under a
  // temporary name and renamed when complete, so an interrupted backup leaves no truncated .rdb to restore.
  await mkdir(options.outDir, { recursive: true, mode: 0o700 });
  const base = path.join(options.outDir, `${options.stack}-${master.target.instance}-${timestamp(options.now ?? new Date())}`);
  const work = await mkdtemp(path.join(tmpdir(), 'evergreen-backup-'));
  const partial = (file: string) => `${file}.partial`;
  try {
    await tar(['-xf', '-', '--no-same-owner', '-C', work], await readArchive(master.target, path.posix.join(dir, dbfilename)));
    await copyFile(path.join(work, dbfilename), partial(`${base}.rdb`));
    await chmod(partial(`${base}.rdb`), 0o600);
    await writeFile(partial(`${base}.aof.tar`), await readArchive(master.target, path.posix.join(dir, appenddirname)), { mode: 0o600 });
    await rename(partial(`${base}.aof.tar`), `${base}.aof.tar`);
    await rename(partial(`${base}.rdb`), `${base}.rdb`);
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(partial(`${base}.rdb`), { force: true });
    await rm(partial(`${base}.aof.tar`), { force: true });
  }
  return { master: master.target.instance, rdbFile: `${base}.rdb`, aofArchive: `${base}.aof.tar`, keys };
}

/** The AOF manifest that makes `baseFile` (an RDB) the whole AOF, with a fresh empty increment. */
export function aofManifest(appendfilename: string, seq: number): { manifest: string; base: string; incr: string } {
  const base = `${appendfilename}.${seq}.base.rdb`;
  const incr = `${appendfilename}.${seq}.incr.aof`;
  return { base, incr, manifest: `file ${base} seq ${seq} type b\nfile ${incr} seq ${seq} type i\n` };
}

/** The highest AOF sequence number among file names like `appendonly.aof.7.incr.aof`. */
export function highestAofSeq(names: readonly string[], appendfilename: string): number {
  const escaped = appendfilename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^${escaped}\\.(\\d+)\\.(base\\.rdb|base\\.aof|incr\\.aof)$`);
  return names.reduce((max, n) => Math.max(max, Number(pattern.exec(path.posix.basename(n))?.[1] ?? 0)), 0);
}

export interface RestoreOptions {
  readonly stack: string;
  /** The RDB file to load (a `.rdb` of `npm run backup`). */
  readonly rdbFile: string;
  /** Bound of each wait. @default 120000 */
  readonly timeoutMs?: number;
  /** Progress lines. @default silent */
  readonly log?: (line: string) => void;
  /**
   * Aborting it (Ctrl-C in scripts/restore.ts) ends the current wait at once: the restore then fails like on any
   * error, starting again every container it stopped. @default never aborted
   */
  readonly signal?: AbortSignal;
}

export interface RestoreResult {
  readonly master: string;
  /** Keys in the master after the restore. */
  readonly keys: number;
  /** How long the store refused requests (API containers stopped). */
  readonly downtimeMs: number;
}

/**
 * Copies `names` (files or directories of the local `workDir`) into `containerDir` of `target`, owned by the
 * container's user and readable by it alone (the Docker archive API extracts as root otherwise).
 */
async function putAsContainerUser(target: StackContainer, workDir: string, names: readonly string[], containerDir: string): Promise<void> {
  const [uid = '0', gid = uid] = target.user.split(':');
  const archive = await tar(['-cf', '-', '--numeric-owner', `--owner=${uid}`, `--group=${gid}`, '--mode=go-rwx', '-C', workDir, ...names]);
  await target.container.putArchive(archive, { path: containerDir });
}

/** What every RDB file starts with: `REDIS` and a four-digit format version. */
const RDB_MAGIC = /^REDIS\d{4}$/;

/**
 * Checks that `file` is an RDB snapshot Redis will load, before anything of the stack is touched: the magic
 * bytes here, then the Redis image's own `redis-check-rdb` on a copy in `target` (a truncated or corrupted file).
 * An empty or foreign file would otherwise be loaded as an empty dataset (and copied to every replica), or leave
 * the master unable to start.
 */
export async function checkSnapshot(target: StackContainer, file: string): Promise<void> {
  const handle = await open(file, 'r');
  const head = Buffer.alloc(9);
  try {
    await handle.read(head, 0, 9, 0);
  } finally {
    await handle.close();
  }
  if (!RDB_MAGIC.test(head.toString('latin1'))) {
    throw new RedisOpsError(`${file} is not an RDB snapshot (it does not start with REDIS and a version); nothing was changed`);
  }
  const work = await mkdtemp(path.join(tmpdir(), 'evergreen-check-'));
  const copy = 'evergreen-restore-check.rdb';
  try {
    await copyFile(file, path.join(work, copy));
    // it holds the whole dataset; and the container's user, its owner, removes it below
    await putAsContainerUser(target, work, [copy], '/tmp');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  try {
    await execIn(target, [REDIS_CHECK_RDB, `/tmp/${copy}`], {}, 120_000);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // redis-check-rdb exits 1 on a file it cannot load; anything else (a timeout, no checker) is not a verdict
    if (!/ exited 1:/.test(message)) throw new RedisOpsError(`could not check ${file} (${message}); nothing was changed`);
    const why = message.split('\n').find((l) => /error|fail|invalid|unexpected/i.test(l)) ?? message;
    throw new RedisOpsError(`${file} is not a snapshot Redis can load (redis-check-rdb: ${why.trim()}); nothing was changed`);
  } finally {
    await execIn(target, ['rm', '-f', `/tmp/${copy}`]).catch(() => undefined);
  }
}

/** Stops `c` (10 s grace); one already stopped is fine (Docker answers 304), any other refusal is an error. */
async function stopContainer(c: StackContainer): Promise<void> {
  try {
    await c.container.stop({ t: 10 });
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 304) {
      throw new RedisOpsError(`${c.name} could not be stopped: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** Starts every one of `list` that is not running; returns the names of those it could not start. */
async function startStopped(list: readonly StackContainer[]): Promise<string[]> {
  const failed: string[] = [];
  for (const c of list) {
    try {
      if (!(await c.container.inspect()).State.Running) await c.container.start();
    } catch {
      failed.push(c.name);
    }
  }
  return failed;
}

/**
 * Loads an RDB snapshot into the stack's current master; the replicas then resynchronise from it.
 *
 * The snapshot is checked first (checkSnapshot): a file Redis would not load stops the restore before anything
 * is stopped. Downtime: the API containers are stopped for the whole restore (nginx answers 503). The replicas
 * are stopped before the master, so that while the master is down the Sentinels (which keep running and keep
 * naming it as the master) have no replica to promote. The master, stopped, gets the snapshot as its dump.rdb
 * and as the base of a new AOF (a manifest naming only it, with a sequence number above every existing AOF file,
 * so no old increment is ever replayed), and starts: its start-up script asks the Sentinels for its role and
 * starts it as the master. The replicas start, are told by the Sentinels to follow it, and fully resynchronise;
 * then the API comes back. Everything the stack held before is replaced — but not deleted: the previous AOF files
 * stay in the AOF directory, and the previous manifest beside them as `<appendfilename>.manifest.before-restore`
 * (putting it back as the manifest, with the node stopped, returns to the data as it was).
 *
 * A failure once containers were stopped starts again every container the restore stopped before it reports
 * the error, so that a failed restore does not leave the store down.
 */
export async function restoreRedis(docker: Docker, options: RestoreOptions): Promise<RestoreResult> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 120_000;
  const aborted = () => {
    if (options.signal?.aborted) throw new RedisOpsError('interrupted');
  };
  // interrupted while it looked and checked: nothing was stopped, nothing needs starting again
  const abortedBeforeStopping = () => {
    if (options.signal?.aborted) throw new RedisOpsError('interrupted before anything was stopped: nothing was changed');
  };
  const location = await findMaster(docker, options.stack);
  const { master } = location;
  await checkSnapshot(master.target, options.rdbFile);
  abortedBeforeStopping();
  const dir = await configGet(master, 'dir');
  const dbfilename = await configGet(master, 'dbfilename');
  const appenddirname = await configGet(master, 'appenddirname');
  const appendfilename = await configGet(master, 'appendfilename');
  // Only what was running is stopped and started again: the restore leaves the stack as it found it.
  const replicas = location.nodes.filter((n) => n.instance !== master.target.instance && n.running);
  const apis = (await stackContainers(docker, options.stack, 'api')).filter((a) => a.running);
  log(`master is ${master.target.name} (${location.address}:${location.port}); restoring ${options.rdbFile}`);

  abortedBeforeStopping();
  const started = Date.now();
  const waits = { timeoutMs, intervalMs: 250, signal: options.signal };
  // How far it got: what a failure leaves in the master's data directory depends on it.
  let stage: 'stopping' | 'written' = 'stopping';
  log(`stopping ${apis.length} API container(s): the store answers 503 until the restore ends`);
  try {
    for (const c of apis) await stopContainer(c);
    aborted();
    // Replicas first: the Sentinels, still running, then have nobody to promote while the master is down.
    for (const c of replicas) await stopContainer(c);
    aborted();
    await stopContainer(master.target);
    aborted();
    await writeSnapshot(master.target, options.rdbFile, { dir, dbfilename, appenddirname, appendfilename }, log);
    stage = 'written';

    await master.target.container.start();
    await waitFor(async () => (await info(master, 'persistence')).loading === '0', { ...waits, what: `${master.target.name} to load the snapshot` });
    aborted();
    const role = (await info(master, 'replication')).role;
    if (role !== 'master') {
      throw new RedisOpsError(`${master.target.name} restarted as ${role ?? 'unknown'}, not as the master the Sentinels named`);
    }
    const keys = Number((await cli(master, 'DBSIZE')).trim());
    log(`${master.target.name} is up with ${keys} keys; restarting the replicas`);
    await Promise.all(replicas.map((r) => r.container.start()));
    await waitFor(
      async () => {
        const r = await info(master, 'replication');
        const online = Object.entries(r).filter(([k, v]) => /^slave\d+$/.test(k) && v.includes('state=online')).length;
        return online >= replicas.length;
      },
      { ...waits, what: `${replicas.length} replica(s) to resynchronise from ${master.target.name}` },
    );
    aborted();
    const named = (await cli(location.sentinel, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', location.masterName)).trim().split(/\s+/);
    if (named[0] !== location.address) throw new RedisOpsError(`the Sentinels now name another master: ${named.join(':')}`);
    // together, as before the restore: one instance serving long before the other would split the answers
    await Promise.all(apis.map((a) => a.container.start()));
    const downtimeMs = Date.now() - started;
    log(`${apis.length} API container(s) started again after ${(downtimeMs / 1000).toFixed(1)} s`);
    return { master: master.target.instance, keys, downtimeMs };
  } catch (error) {
    // the master first, then its replicas, then the API: the order a start of the stack takes
    const failed = await startStopped([master.target, ...replicas, ...apis]);
    const after = failed.length === 0 ? 'every container it had stopped was started again' : `could not start again: ${failed.join(', ')}`;
    const data =
      stage === 'stopping'
        ? `the data of ${master.target.name} is unchanged`
        : `${master.target.name} holds the snapshot now (written before the failure) and its replicas copy it; the ` +
          `previous data is kept in ${dir}/${appenddirname} (put ${appendfilename}.manifest.before-restore back as ` +
          `${appendfilename}.manifest, with the node stopped, to return to it)`;
    const why = error instanceof Error ? error.message : String(error);
    throw new RedisOpsError(`${why}; ${after}; ${data}`);
  }
}

/**
 * Writes `rdbFile` into the stopped master `target` as its dump.rdb and as the base of a new AOF whose sequence is
 * above every existing one; the previous manifest is kept as `<appendfilename>.manifest.before-restore`.
 */
async function writeSnapshot(
  target: StackContainer,
  rdbFile: string,
  names: { readonly dir: string; readonly dbfilename: string; readonly appenddirname: string; readonly appendfilename: string },
  log: (line: string) => void,
): Promise<void> {
  const { dir, dbfilename, appenddirname, appendfilename } = names;
  const work = await mkdtemp(path.join(tmpdir(), 'evergreen-restore-'));
  try {
    const existingArchive = await readArchive(target, path.posix.join(dir, appenddirname));
    const existing = (await tar(['-tf', '-'], existingArchive)).toString('utf8').split('\n');
    const seq = highestAofSeq(existing, appendfilename) + 1;
    const aof = aofManifest(appendfilename, seq);
    await mkdir(path.join(work, appenddirname), { recursive: true });
    const manifestPath = path.posix.join(appenddirname, `${appendfilename}.manifest`);
    if (existing.includes(manifestPath)) {
      const previous = await tar(['-xOf', '-', manifestPath], existingArchive);
      await writeFile(path.join(work, appenddirname, `${appendfilename}.manifest.before-restore`), previous);
    }
    await copyFile(rdbFile, path.join(work, dbfilename));
    await copyFile(rdbFile, path.join(work, appenddirname, aof.base));
    await writeFile(path.join(work, appenddirname, aof.incr), '');
    await writeFile(path.join(work, appenddirname, `${appendfilename}.manifest`), aof.manifest);
    await putAsContainerUser(target, work, [dbfilename, appenddirname], dir);
    log(`wrote the snapshot into ${target.name}:${dir} (AOF sequence ${seq}; the previous manifest kept beside it)`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
