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

function onPath(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0
    || existsSync(`/usr/sbin/${program}`) || existsSync(`/usr/bin/${program}`);
}

export function missingPackages(): string[] {
  return Object.entries(TEST_PROGRAMS).filter(([, program]) => !onPath(program)).map(([pkg]) => pkg);
}

function main(): void {
  const missing = missingPackages();
  if (missing.length === 0) return;
  const canInstall = process.getuid?.() === 0 && existsSync('/etc/debian_version') && onPath('apt-get');
  if (!canInstall) {
    console.error(`missing test programs; install these Debian packages (or equivalents): ${missing.join(' ')}`);
    process.exit(1);
  }
  console.log(`installing test programs: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  // Debian's packages start their daemons on install where an init system runs; the tests start their own.
  for (const service of ['redis-server', 'redis-sentinel', 'nginx', 'prometheus', 'prometheus-alertmanager']) {
    spawnSync('service', [service, 'stop'], { stdio: 'ignore' });
  }
}

if (require.main === module) main();
