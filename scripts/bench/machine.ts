/** The machine a run measured (I/O: os, program versions). */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
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

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model ?? 'unknown',
    cores: list.length,
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
  return `${m.cpuModel}, ${m.cores} cores, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${m.nodeVersion}, ${m.platform} ${m.kernel}, load avg ${m.loadAverageAtStart.toFixed(2)} at start`;
}
