/**
 * Makes sure the programs the test suites run for real are on this machine.
 *
 * On Debian as root, missing ones are installed with apt-get (the same packages CI and a fresh
 * developer machine need). Anywhere else it names the packages to install and exits non-zero, so a
 * test run never fails half-way with a confusing "spawn ENOENT".
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian package → a program it provides that the tests call. */
export const TEST_PROGRAMS: Readonly<Record<string, string>> = {
  'redis-server': 'redis-server',
  'redis-sentinel': 'redis-sentinel',
  'redis-tools': 'redis-cli',
  nginx: 'nginx',
  prometheus: 'promtool',
  'prometheus-alertmanager': 'amtool',
  'prometheus-redis-exporter': 'prometheus-redis-exporter',
  'prometheus-nginx-exporter': 'prometheus-nginx-exporter',
  'docker.io': 'dockerd',
  debootstrap: 'debootstrap',
  wrk: 'wrk',
};

/** Packages whose installation starts a daemon of the same name (where an init system runs). */
const DAEMON_PACKAGES: readonly string[] = ['redis-server', 'redis-sentinel', 'nginx', 'prometheus', 'prometheus-alertmanager'];

/** Packages only the e2e suite needs: a Docker engine, and debootstrap for its stand-in images. */
export const E2E_ONLY_PACKAGES: readonly string[] = ['docker.io', 'debootstrap'];

/** Set to `skip` to skip the end-to-end suite on a machine without a usable Docker engine (docs/e2e.md). */
export const E2E_OPT_OUT_ENV = 'EVERGREEN_E2E';

/** True when the user asked to skip the end-to-end suite (`EVERGREEN_E2E=skip`). CI never sets it. */
export function e2eOptedOut(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[E2E_OPT_OUT_ENV] === 'skip';
}

/** The packages a test run needs: all of TEST_PROGRAMS, but not the e2e suite's own when the user opted out of it. */
export function packagesForTestRun(env: NodeJS.ProcessEnv): string[] {
  const all = Object.keys(TEST_PROGRAMS);
  return e2eOptedOut(env) ? all.filter((pkg) => !E2E_ONLY_PACKAGES.includes(pkg)) : all;
}

function onPath(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0
    || existsSync(`/usr/sbin/${program}`) || existsSync(`/usr/bin/${program}`);
}

/** The packages of `wanted` (default: every test program's) whose program is not on this machine. */
export function missingPackages(wanted: readonly string[] = Object.keys(TEST_PROGRAMS)): string[] {
  return wanted.filter((pkg) => {
    const program = TEST_PROGRAMS[pkg];
    if (program === undefined) throw new Error(`no test program is known for the Debian package ${pkg}`);
    return !onPath(program);
  });
}

/**
 * Installs the missing ones of `wanted` (Debian, as root, with apt-get); anywhere else throws an error naming
 * the packages to install.
 */
export function ensurePackages(wanted: readonly string[] = Object.keys(TEST_PROGRAMS)): void {
  const missing = missingPackages(wanted);
  if (missing.length === 0) return;
  const canInstall = process.getuid?.() === 0 && existsSync('/etc/debian_version') && onPath('apt-get');
  if (!canInstall) {
    throw new Error(`missing programs; install these Debian packages (or equivalents): ${missing.join(' ')}`);
  }
  console.log(`installing: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  // Debian's packages start their daemons on install where an init system runs; the tests start their own. Only
  // those just installed are stopped: a Redis or nginx the machine already ran is none of this script's business.
  for (const service of DAEMON_PACKAGES.filter((pkg) => missing.includes(pkg))) {
    spawnSync('service', [service, 'stop'], { stdio: 'ignore' });
  }
}

function main(): void {
  try {
    ensurePackages(packagesForTestRun(process.env));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}

if (require.main === module) main();
