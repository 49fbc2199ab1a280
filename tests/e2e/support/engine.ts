/**
 * The Docker engine the end-to-end suite deploys to.
 *
 * `connectEngine()` answers with a dockerode client for the local engine. Where none answers and this
 * process is root on a machine with Debian's `docker.io` installed (CI, a fresh developer machine), it
 * starts `dockerd` itself, logs to a file under the cache dir and waits until the engine answers. That
 * dockerd is left running on purpose: images, build cache and the debootstrap base survive it, and the
 * next run (or the next test file) finds the engine warm instead of paying its start-up again.
 * (This is why it is spawned detached here and not through tests/support/processes.ts, whose job is to
 * kill what it starts when the tests end.)
 *
 * Where the engine can neither be reached nor started, the suite fails with one line saying so, unless
 * the user opts out with `EVERGREEN_E2E=skip` (docs/e2e.md). CI never sets it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { E2E_OPT_OUT_ENV } from '../../../scripts/ensure-test-deps';
import { waitFor } from '../../support/wait';


/** Where the suite keeps what is worth keeping between runs: the debootstrap tarball, dockerd's log. */
export const CACHE_DIR = process.env.EVERGREEN_E2E_CACHE ?? '/var/cache/evergreen-e2e';

/** The engine's socket: `DOCKER_HOST=unix:///path` if set, else Docker's default. */
export const SOCKET_PATH = (process.env.DOCKER_HOST?.startsWith('unix://')
  ? process.env.DOCKER_HOST.slice('unix://'.length)
  : undefined) ?? '/var/run/docker.sock';

/** How long a freshly started dockerd may take to answer (it sets up iptables, containerd, overlay2). */
const DOCKERD_START_TIMEOUT_MS = 60_000;


async function answers(docker: Docker): Promise<boolean> {
  try {
    await docker.ping();
    return true;
  } catch {
    return false;
  }
}

function dockerdPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v dockerd'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  return ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find((candidate) => existsSync(candidate));
}

function startDockerd(binary: string): string {
  mkdirSync(CACHE_DIR, { recursive: true });
  const logFile = join(CACHE_DIR, 'dockerd.log');
  const log = openSync(logFile, 'a');
  const child = spawn(binary, [], { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  return logFile;
}

let connected: Promise<Docker> | undefined;

/**
 * The dockerode client for the local engine, starting dockerd when none answers and we may.
 * Rejects with one line naming what is missing and the opt-out variable.
 */
export function connectEngine(): Promise<Docker> {
  connected ??= connect();
  return connected;
}

async function connect(): Promise<Docker> {
  const docker = new Docker({ socketPath: SOCKET_PATH });
  if (await answers(docker)) return docker;

  const hint = `(set ${E2E_OPT_OUT_ENV}=skip to skip the end-to-end suite)`;
  const binary = dockerdPath();
  if (process.getuid?.() !== 0 || !binary) {
    throw new Error(
      `no Docker engine answers at ${SOCKET_PATH} and none can be started here ` +
        `(${binary ? 'not root' : 'dockerd not installed: apt-get install docker.io'}) ${hint}`,
    );
  }
  const logFile = startDockerd(binary);
  try {
    await waitFor(() => answers(docker), {
      timeoutMs: DOCKERD_START_TIMEOUT_MS,
      intervalMs: 500,
      what: `dockerd to answer at ${SOCKET_PATH}`,
    });
  } catch {
    throw new Error(`started ${binary} but no engine answered at ${SOCKET_PATH} within 60 s; see ${logFile} ${hint}`);
  }
  return docker;
}
