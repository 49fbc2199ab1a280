/**
 * THE process launcher of the project: starts real programs (redis-server, redis-sentinel, nginx, the
 * built API, ...) for the integration tests, `npm run dev` and the benchmark, and makes sure none of
 * them outlives whoever started it.
 *
 * - Output (stdout + stderr) goes to a log file; when a process dies before it is ready, or never gets
 *   ready, the error carries the last lines of that log.
 * - Each process is started in its own process group, so that stopping it also stops what it forked
 *   (nginx workers, Redis BGSAVE children).
 * - `stop()` sends SIGTERM (or the given signal), then SIGKILL after a bound.
 * - A registry knows every running process and stops them all on `stopAll()`, at jest teardown (an
 *   `afterAll` is registered when this module is loaded by a test file), on process exit and on
 *   SIGINT/SIGTERM. Because jest's sandbox never fires `process.on('exit')` and a SIGKILLed parent runs
 *   no handler at all, a tiny watchdog process ("reaper") also holds the list of process groups and
 *   temporary directories: when its stdin pipe from us closes, however we died, it kills and removes
 *   whatever is still registered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { waitFor } from './wait';

export interface StartProcessProps {
  /** Short name used in log file names and error messages, e.g. `redis-master`. */
  readonly name: string;
  /** Program to run (looked up on PATH) or an absolute path. */
  readonly command: string;
  /** @default [] */
  readonly args?: readonly string[];
  /** Variables set for the process, on top of this process's environment (see `inheritEnv`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Whether the process also gets this process's environment (`env` wins on conflicts).
   * @default true
   */
  readonly inheritEnv?: boolean;
  /** @default this process's working directory */
  readonly cwd?: string;
  /**
   * File that receives the process's stdout and stderr (appended; parent directories are created).
   * @default `<name>-<n>.log` in a temporary directory of this process, removed when this process exits
   */
  readonly logFile?: string;
  /**
   * Readiness check, polled until it resolves true. `startProcess` resolves only once it has; if the
   * process exits first, or the check never passes within `readyTimeoutMs`, the process is killed and
   * `startProcess` rejects with the last lines of the log.
   * @default none: ready as soon as the program has been spawned
   */
  readonly ready?: () => Promise<boolean>;
  /** @default 20000 */
  readonly readyTimeoutMs?: number;
  /** @default 100 */
  readonly readyIntervalMs?: number;
  /**
   * How long `stop()` waits after its signal before it sends SIGKILL, unless `stop` is given another bound.
   * @default 10000
   */
  readonly stopTimeoutMs?: number;
  /**
   * Called as soon as the program has been spawned, before it is ready: lets an owner (the loopback
   * topology) stop a process that is still starting.
   * @default none
   */
  readonly onSpawn?: (process: ManagedProcess) => void;
}

export interface ManagedProcess {
  readonly pid: number;
  readonly name: string;
  readonly logFile: string;
  /** Resolves with the exit code, or null when the process was ended by a signal. Never rejects. */
  readonly exited: Promise<number | null>;
  /** True until the process has exited. */
  readonly running: boolean;
  /**
   * Sends `signal` (default SIGTERM) to the process group, then SIGKILL if it has not exited after
   * `timeoutMs`; resolves with the exit code once it has. Safe to call more than once. A stopped
   * (SIGSTOP) process is continued so that it can act on the signal.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** SIGKILL to the whole process group; resolves once the process has exited. */
  kill(): Promise<number | null>;
  /** Sends any signal to the process group without waiting, e.g. SIGSTOP / SIGCONT to pause a Redis master. */
  signal(signal: NodeJS.Signals): void;
  /** The last `lines` lines of the log file. */
  logTail(lines?: number): string;
}

/** Raised when a process cannot be spawned, exits before it is ready, or never gets ready. */
export class ProcessStartError extends Error {
  constructor(
    readonly processName: string,
    reason: string,
    readonly logFile: string,
    readonly logTail: string,
    /** The pid it had, if it was spawned at all (it has been killed by then). */
    readonly pid?: number,
  ) {
    super(
      `${processName}: ${reason}` +
        (logTail.trim() === '' ? ` (log ${logFile} is empty)` : `\n--- last lines of ${logFile} ---\n${logTail}`),
    );
    this.name = 'ProcessStartError';
  }
}

// ---------------------------------------------------------------------------------------------------
// Reaper: a watchdog that outlives us only long enough to clean up after us.
// Protocol on its stdin, one command a line: `+pg <pgid>`, `-pg <pgid>`, `+dir <path>`, `-dir <path>`.
// On end of input it SIGKILLs the registered process groups, removes the registered directories and exits.

const REAPER_SOURCE = `
const { rmSync } = require('node:fs');
const groups = new Set(); const dirs = new Set(); let buffer = '';
process.on('SIGINT', () => {}); process.on('SIGTERM', () => {}); process.on('SIGHUP', () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  for (let i = buffer.indexOf('\\n'); i >= 0; i = buffer.indexOf('\\n')) {
    const line = buffer.slice(0, i); buffer = buffer.slice(i + 1);
    const [op, ...rest] = line.split(' '); const arg = rest.join(' ');
    if (op === '+pg') groups.add(Number(arg)); else if (op === '-pg') groups.delete(Number(arg));
    else if (op === '+dir') dirs.add(arg); else if (op === '-dir') dirs.delete(arg);
  }
});
const parent = process.ppid; let done = false;
const cleanUp = () => {
  if (done) return; done = true;
  for (const g of groups) { try { process.kill(-g, 'SIGCONT'); process.kill(-g, 'SIGKILL'); } catch {} }
  setTimeout(() => { for (const d of dirs) { try { rmSync(d, { recursive: true, force: true }); } catch {} } process.exit(0); }, 200);
};
process.stdin.on('end', cleanUp);
process.stdin.on('error', cleanUp);
// Belt and braces: a parent that died is noticed by being re-parented, even if no EOF arrives.
setInterval(() => { if (process.ppid !== parent) cleanUp(); }, 1000);
`;

let reaper: ChildProcess | undefined;

function tellReaper(line: string): void {
  if (!reaper || reaper.exitCode !== null || !reaper.stdin || reaper.stdin.destroyed) {
    reaper = spawn(process.execPath, ['-e', REAPER_SOURCE], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    reaper.on('error', () => undefined);
    reaper.stdin?.on('error', () => undefined);
    // Neither the watchdog nor the pipe to it may keep this process alive.
    reaper.unref();
    (reaper.stdin as unknown as Socket | null)?.unref();
  }
  reaper.stdin?.write(`${line}\n`);
}

function closeReaper(): void {
  if (reaper?.stdin && !reaper.stdin.destroyed) reaper.stdin.end();
  reaper = undefined;
}

/** Removes `dir` if this process dies before it removes it itself (see `forgetTemporaryDir`). */
export function registerTemporaryDir(dir: string): void {
  tellReaper(`+dir ${dir}`);
}

export function forgetTemporaryDir(dir: string): void {
  if (reaper) tellReaper(`-dir ${dir}`);
}

// ---------------------------------------------------------------------------------------------------
// Registry

const running = new Set<ManagedProcess>();
const cleanups = new Set<() => Promise<void>>();
let logCounter = 0;
let defaultLogDir: string | undefined;
let exitHooksInstalled = false;

function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone already
  }
}

/**
 * Whether group `pgid` still has a member that is not a zombie. A killed straggler (say a Redis fork)
 * is re-parented to init and stays a zombie until init reaps it, which takes a while on some machines;
 * it writes nothing any more, so it does not count.
 */
function groupHasLiveMembers(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true; // no /proc: trust kill(0)
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
    } catch {
      // exited while we looked
    }
  }
  return false;
}

/** Resolves once no live process of group `pgid` is left (checked every 20 ms, for at most `timeoutMs`). */
async function groupGone(pgid: number, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && groupHasLiveMembers(pgid)) {
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether a process with this pid exists (a zombie counts as existing). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Every process started here that has not exited yet, oldest first. */
export function runningProcesses(): readonly ManagedProcess[] {
  return [...running];
}

/**
 * Runs `cleanup` from `stopAll()` (before the remaining processes are stopped) and on SIGINT/SIGTERM;
 * used by higher-level launchers (the loopback topology) to stop in order and remove their work dirs.
 * Returns a function that unregisters it.
 */
export function registerCleanup(cleanup: () => Promise<void>): () => void {
  installExitHooks();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Runs the registered cleanups, then stops every process still running (SIGTERM, SIGKILL after the bound). */
export async function stopAll(timeoutMs = 5_000): Promise<void> {
  const pending = [...cleanups];
  cleanups.clear();
  const results = await Promise.allSettled(pending.map((cleanup) => cleanup()));
  await Promise.all([...running].map((p) => p.stop('SIGTERM', timeoutMs)));
  if (defaultLogDir) {
    rmSync(defaultLogDir, { recursive: true, force: true });
    forgetTemporaryDir(defaultLogDir);
    defaultLogDir = undefined;
  }
  if (running.size === 0 && cleanups.size === 0) closeReaper();
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
}

function killAllNow(): void {
  for (const p of running) {
    signalGroup(p.pid, 'SIGCONT');
    signalGroup(p.pid, 'SIGKILL');
  }
  if (defaultLogDir) rmSync(defaultLogDir, { recursive: true, force: true });
}

/**
 * jest's `afterAll` when running inside a jest test file. (Not JEST_WORKER_ID: child processes started
 * from a test inherit that variable but are plain Node processes that need real signal handlers.)
 */
function jestGlobalAfterAll(): ((fn: () => Promise<void>, timeout?: number) => void) | undefined {
  const candidate = (globalThis as { afterAll?: unknown }).afterAll;
  return typeof candidate === 'function' ? (candidate as (fn: () => Promise<void>, timeout?: number) => void) : undefined;
}

/**
 * Stops every process (and runs the registered cleanups) when this process gets SIGINT, SIGTERM or
 * SIGHUP, then exits with 128 + the signal number; kills what is left on exit. Called by
 * `startProcess` and `registerCleanup`; a program may call it first so that an early Ctrl-C is covered.
 * Under jest, registers an `afterAll(stopAll)` instead (jest owns the signals).
 */
export function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const jestAfterAll = jestGlobalAfterAll();
  if (jestAfterAll) {
    // Loaded at the top of a test file: stop everything that file started once it is done.
    try {
      jestAfterAll(() => stopAll(), 60_000);
    } catch {
      // loaded from inside a test or hook: the reaper still cleans up when jest exits
    }
    return;
  }
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      const code = 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1);
      // A second signal while we clean up ends us at once (the exit hook and the reaper still kill).
      process.once(signal, () => process.exit(code));
      stopAll().then(
        () => process.exit(code),
        (error: unknown) => {
          console.error(`cleanup after ${signal} failed:`, error);
          process.exit(code);
        },
      );
    });
  }
}

function logDir(): string {
  if (!defaultLogDir) {
    defaultLogDir = mkdtempSync(join(tmpdir(), 'evergreen-logs-'));
    registerTemporaryDir(defaultLogDir);
  }
  return defaultLogDir;
}

/** The last `lines` lines of a (possibly large or missing) text file. */
export function tailFile(file: string, lines = 30): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const text = buffer.toString('utf8').replace(/\n$/, '');
    return text.split('\n').slice(-lines).join('\n');
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------------
// startProcess

function spawnOrFail(child: ChildProcess): Promise<Error | undefined> {
  return new Promise((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (error) => resolve(error));
  });
}

/** Starts a program and resolves once it is ready (see `StartProcessProps.ready`). */
export async function startProcess(props: StartProcessProps): Promise<ManagedProcess> {
  const { name, command, args = [], inheritEnv = true, cwd, ready } = props;
  const readyTimeoutMs = props.readyTimeoutMs ?? 20_000;
  const defaultStopTimeoutMs = props.stopTimeoutMs ?? 10_000;
  installExitHooks();

  logCounter += 1;
  const logFile = props.logFile ?? join(logDir(), `${name}-${logCounter}.log`);
  mkdirSync(dirname(logFile), { recursive: true });
  const logFd = openSync(logFile, 'a');
  const env: Record<string, string | undefined> = { ...(inheritEnv ? process.env : {}), ...props.env };
  let child: ChildProcess;
  try {
    // detached: the child leads a new process group, so signals reach everything it forks.
    child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  const spawnError = await spawnOrFail(child);
  if (spawnError || child.pid === undefined) {
    throw new ProcessStartError(name, `could not start ${command}: ${spawnError?.message ?? 'no pid'}`, logFile, '');
  }
  const pid = child.pid;
  child.on('error', () => undefined); // signals are sent with process.kill; nothing else can fail later
  tellReaper(`+pg ${pid}`);

  let isRunning = true;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      isRunning = false;
      // Whatever the leader left behind in its group goes too (a Redis BGSAVE child, nginx workers), and
      // `exited` resolves only once the group is empty: then nothing writes into its directories any more.
      signalGroup(pid, 'SIGKILL');
      void groupGone(pid).then(() => {
        running.delete(managed);
        if (reaper) tellReaper(`-pg ${pid}`); // nothing to forget if the watchdog was closed
        resolve(code);
      });
    });
  });

  let stopping: Promise<number | null> | undefined;
  const managed: ManagedProcess = {
    pid,
    name,
    logFile,
    exited,
    get running() {
      return isRunning;
    },
    stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = defaultStopTimeoutMs) {
      if (!isRunning) return exited;
      stopping ??= (async () => {
        signalGroup(pid, signal);
        signalGroup(pid, 'SIGCONT');
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
        });
        const outcome = await Promise.race([exited, timedOut]);
        clearTimeout(timer);
        if (outcome === 'timeout') signalGroup(pid, 'SIGKILL');
        return exited;
      })();
      return stopping;
    },
    kill() {
      signalGroup(pid, 'SIGCONT');
      signalGroup(pid, 'SIGKILL');
      return exited;
    },
    signal(signal: NodeJS.Signals) {
      signalGroup(pid, signal);
    },
    logTail(lines = 30) {
      return tailFile(logFile, lines);
    },
  };
  running.add(managed);
  props.onSpawn?.(managed);

  if (!ready) return managed;
  const abort = new AbortController();
  void exited.then((code) => abort.abort(new Error(`exited with code ${String(code)} before it was ready`)));
  try {
    await waitFor(ready, {
      what: `${name} to be ready`,
      timeoutMs: readyTimeoutMs,
      intervalMs: props.readyIntervalMs ?? 100,
      signal: abort.signal,
    });
  } catch (error) {
    await managed.kill();
    throw new ProcessStartError(name, (error as Error).message, logFile, tailFile(logFile), pid);
  } finally {
    abort.abort(new Error('done'));
  }
  return managed;
}

// A test file imports this module at its top, which is the only moment jest accepts a new afterAll.
if (jestGlobalAfterAll()) installExitHooks();

// ---------------------------------------------------------------------------------------------------
// freePort

const handedOut = new Set<number>();

function bindEphemeral(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a program that ends by itself (a load generator, a benchmark) and waits for it to exit; past
 * `deadlineMs` its process group is SIGKILLed, so the wait is bounded whatever the program does.
 */
export async function runToExit(props: StartProcessProps, deadlineMs: number): Promise<{ code: number | null; process: ManagedProcess }> {
  const started = await startProcess(props);
  const guard = setTimeout(() => void started.stop('SIGKILL', 1000), deadlineMs);
  const code = await started.exited.finally(() => clearTimeout(guard));
  return { code, process: started };
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close). Never returns the
 * same port twice within this process, so several servers can be allocated before any of them binds.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = await bindEphemeral();
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: no free loopback port found in 50 attempts');
}
