/**
 * CPU use of processes, from /proc/<pid>/stat (Linux). The parsing and arithmetic are pure; reading
 * /proc happens only in `readCpuTicks` and `descendantsOf`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** The fields of /proc/<pid>/stat the benchmark uses (see proc(5)). */
export interface ProcStat {
  readonly pid: number;
  /** Executable name (field 2, without the parentheses; may itself hold spaces or parentheses). */
  readonly comm: string;
  readonly state: string;
  readonly ppid: number;
  /** User-mode CPU time, in clock ticks (field 14). */
  readonly utime: number;
  /** Kernel-mode CPU time, in clock ticks (field 15). */
  readonly stime: number;
  /** User + kernel time of its children that exited and were waited for, in clock ticks (fields 16, 17). */
  readonly childrenTime: number;
}

/** Parses one /proc/<pid>/stat line. Throws on anything else. */
export function parseProcStat(text: string): ProcStat {
  // comm is in parentheses and may contain ") ", so the fields after it start at the LAST ')'.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 1 || close < open) throw new Error(`not a /proc/<pid>/stat line: ${JSON.stringify(text.slice(0, 80))}`);
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 1).trim().split(/\s+/);
  // rest[0] is field 3 (state): field n is rest[n - 3].
  const field = (n: number): number => {
    const v = Number(rest[n - 3]);
    if (!Number.isFinite(v)) throw new Error(`/proc/<pid>/stat field ${n} is not a number in ${JSON.stringify(text.slice(0, 80))}`);
    return v;
  };
  if (!Number.isSafeInteger(pid) || rest.length < 13) throw new Error(`not a /proc/<pid>/stat line: ${JSON.stringify(text.slice(0, 80))}`);
  return { pid, comm: text.slice(open + 1, close), state: rest[0] ?? '?', ppid: field(4), utime: field(14), stime: field(15), childrenTime: field(16) + field(17) };
}

/**
 * Share of one core a process (or group) used between two samples, in percent: 100 = one core busy for
 * the whole interval (a multi-threaded or multi-process group can exceed 100).
 */
export function cpuPercent(ticksBefore: number, ticksAfter: number, elapsedMs: number, ticksPerSecond: number): number | null {
  if (!(elapsedMs > 0) || !(ticksPerSecond > 0) || ticksAfter < ticksBefore) return null;
  return ((ticksAfter - ticksBefore) / ticksPerSecond / (elapsedMs / 1000)) * 100;
}

/** Every pid whose ancestry leads to one of `roots` (the roots included), from a list of stats. */
export function descendantsIn(stats: readonly ProcStat[], roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s.pid]);
  const out = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    if (out.has(pid)) continue;
    out.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return [...out];
}

/** Read and write system calls of a process so far (/proc/<pid>/io `syscr`, `syscw`). */
export interface SyscallCounts {
  readonly reads: number;
  readonly writes: number;
}

/**
 * Parses /proc/<pid>/io. Every socket read or write (HTTP, Redis) is one such call, so their count per
 * request is a cost that does not depend on how busy the machine is.
 */
export function parseProcIo(text: string): SyscallCounts {
  const value = (key: string): number => {
    const m = new RegExp(`^${key}:\\s*(\\d+)$`, 'm').exec(text);
    if (!m) throw new Error(`/proc/<pid>/io has no ${key}`);
    return Number(m[1]);
  };
  return { reads: value('syscr'), writes: value('syscw') };
}

// ------------------------------------------------------------------------------------------------
// I/O edge

/** Clock ticks per second of this kernel (`getconf CLK_TCK`; 100 on every common Linux). */
export function clockTicksPerSecond(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

function readStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // gone meanwhile
  }
}

/** The stats of every process on the machine (those that vanish while we read are skipped). */
export function allProcessStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) out.push(s);
  }
  return out;
}

/** `root` and all its descendants now (e.g. nginx master + workers). */
export function descendantsOf(root: number): number[] {
  return descendantsIn(allProcessStats(), [root]);
}

/** CPU ticks a process has used, its exited (waited-for) children included. */
export function totalTicks(s: ProcStat): number {
  return s.utime + s.stime + s.childrenTime;
}

/**
 * Total ticks of these pids now (pids that are gone count 0). Children that exit during a window (a
 * redis-benchmark started by the bench, a Redis BGSAVE child) count through their parent's children time.
 */
export function readCpuTicks(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    const s = readStat(pid);
    if (s) total += totalTicks(s);
  }
  return total;
}

/** Total syscalls of these pids now (pids that are gone or unreadable count 0). */
export function readSyscalls(pids: readonly number[]): SyscallCounts {
  let reads = 0;
  let writes = 0;
  for (const pid of pids) {
    try {
      const c = parseProcIo(readFileSync(`/proc/${pid}/io`, 'utf8'));
      reads += c.reads;
      writes += c.writes;
    } catch {
      // gone, or not ours to read
    }
  }
  return { reads, writes };
}

/** What a `CpuMeter` window measured. */
export interface WindowUsage {
  /** Percent of one core, per role. */
  readonly cpuPercent: Record<string, number | null>;
  /** Read/write system calls per role in the window (roles listed in `syscallRoles` only). */
  readonly syscalls: Record<string, SyscallCounts>;
}

/**
 * Measures the CPU use of named groups of processes over a window: `start()` samples, the function it
 * returns samples again and gives the percent of one core each group used in between.
 */
export class CpuMeter {
  private readonly hz = clockTicksPerSecond();

  /**
   * `groups()` names the pids of each role at sampling time (e.g. nginx master + its workers);
   * `syscallRoles` picks the roles whose system calls are counted too.
   */
  constructor(
    private readonly groups: () => Readonly<Record<string, readonly number[]>>,
    private readonly syscallRoles: (role: string) => boolean = () => false,
  ) {}

  start(): () => WindowUsage {
    const pids = this.groups();
    const before = Object.fromEntries(Object.entries(pids).map(([role, list]) => [role, readCpuTicks(list)]));
    const ioRoles = Object.entries(pids).filter(([role]) => this.syscallRoles(role));
    const ioBefore = Object.fromEntries(ioRoles.map(([role, list]) => [role, readSyscalls(list)]));
    const t0 = performance.now();
    return () => {
      const elapsed = performance.now() - t0;
      const cpu: Record<string, number | null> = {};
      for (const [role, list] of Object.entries(pids)) {
        cpu[role] = list.length === 0 ? null : cpuPercent(before[role] ?? 0, readCpuTicks(list), elapsed, this.hz);
      }
      const syscalls: Record<string, SyscallCounts> = {};
      for (const [role, list] of ioRoles) {
        const now = readSyscalls(list);
        const then = ioBefore[role] ?? { reads: 0, writes: 0 };
        syscalls[role] = { reads: now.reads - then.reads, writes: now.writes - then.writes };
      }
      return { cpuPercent: cpu, syscalls };
    };
  }
}
