/** The machine a run measured (I/O: os, program versions). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import type { MachineInfo } from './model';

function firstLine(command: string, args: readonly string[]): string {
  try {
    // nginx -v prints to stderr
    const out = execFileSync(command, [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.split('\n')[0]?.trim() ?? '';
  } catch (error) {
    // some print their version and exit non-zero (wrk --version exits 1)
    const e = error as { stdout?: string; stderr?: string; message: string };
    return `${e.stdout ?? ''}\n${e.stderr ?? ''}`.trim().split('\n')[0]?.trim() || `unavailable (${e.message.split('\n')[0] ?? ''})`;
  }
}

function nginxVersion(): string {
  try {
    // `nginx -v` writes its version to stderr and exits 0
    const r = execFileSync('sh', ['-c', 'PATH=$PATH:/usr/sbin:/sbin nginx -v 2>&1'], { encoding: 'utf8' });
    return r.split('\n')[0]?.trim() ?? '';
  } catch {
    return 'unavailable';
  }
}

/**
 * Confines this process — every thread — and every process it starts from now on to the CPUs of `cpuList` (taskset's
 * list syntax: `0`, `0-1`, `0,2`): `--cpus`, to measure the same stack on fewer cores. taskset is util-linux's,
 * present on every Debian.
 */
export function useOnlyCpus(cpuList: string): void {
  try {
    execFileSync('taskset', ['--all-tasks', '--cpu-list', '--pid', cpuList, String(process.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const e = error as { stderr?: Buffer; message: string };
    throw new Error(`--cpus ${cpuList}: taskset refused: ${(e.stderr?.toString() || e.message).trim()}`, { cause: error });
  }
}

/** The CPUs this process may run on (`Cpus_allowed_list` of /proc/self/status), e.g. `0-1`. */
export function allowedCpuList(): string {
  return /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 'unknown';
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model ?? 'unknown',
    cores: list.length,
    // libuv asks the kernel for this process's affinity (sched_getaffinity)
    coresUsed: availableParallelism(),
    cpuList: allowedCpuList(),
    memoryBytes: totalmem(),
    nodeVersion: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel: release(),
    programs: {
      'redis-server': firstLine('redis-server', ['--version']),
      'redis-benchmark': firstLine('redis-benchmark', ['--version']),
      nginx: nginxVersion(),
      wrk: firstLine('wrk', ['--version']),
    },
    loadAverageAtStart: loadavg()[0] ?? 0,
  };
}

/** One line for the report header. */
export function describeMachine(m: MachineInfo): string {
  const cores = m.coresUsed < m.cores ? `${m.cores} cores (${m.coresUsed} used: CPU ${m.cpuList})` : `${m.cores} cores`;
  return `${m.cpuModel}, ${cores}, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${m.nodeVersion}, ${m.platform} ${m.kernel}, load avg ${m.loadAverageAtStart.toFixed(2)} at start`;
}
