import { cpuPercent, descendantsIn, parseProcIo, parseProcStat, totalTicks, type ProcStat } from '../../../scripts/bench/cpu';

// A real line of /proc/<pid>/stat (nginx worker), fields 1..52.
const NGINX_WORKER =
  '4242 (nginx) S 4241 4241 4241 0 -1 4194624 1520 0 0 0 1234 567 8 9 20 0 1 0 89123 1152000 1800 18446744073709551615 1 1 0 0 0 0 0 16781312 402745863 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0';

describe('parseProcStat', () => {
  it('reads pid, comm, state, ppid, utime, stime and the children time', () => {
    expect(parseProcStat(NGINX_WORKER)).toEqual({ pid: 4242, comm: 'nginx', state: 'S', ppid: 4241, utime: 1234, stime: 567, childrenTime: 17 });
  });

  it('handles a comm with spaces and parentheses (fields start after the last ")")', () => {
    const line = NGINX_WORKER.replace('(nginx)', '(my (odd) name)');
    const s = parseProcStat(line);
    expect(s.comm).toBe('my (odd) name');
    expect([s.ppid, s.utime, s.stime]).toEqual([4241, 1234, 567]);
  });

  it('rejects text that is not a stat line', () => {
    expect(() => parseProcStat('')).toThrow(/not a \/proc/);
    expect(() => parseProcStat('12 (x) S 1 2')).toThrow(/not a \/proc/);
    expect(() => parseProcStat(NGINX_WORKER.replace(' 1234 ', ' abc '))).toThrow(/field 14/);
  });

  it('totals user, kernel and exited children time', () => {
    expect(totalTicks(parseProcStat(NGINX_WORKER))).toBe(1234 + 567 + 8 + 9);
  });
});

describe('cpuPercent', () => {
  it('is the share of one core over the window', () => {
    expect(cpuPercent(1000, 1050, 1000, 100)).toBe(50);
    expect(cpuPercent(0, 300, 2000, 100)).toBe(150); // two processes of a group, 1.5 cores
  });

  it('is null for an empty window or ticks going backwards (a process replaced by another)', () => {
    expect(cpuPercent(0, 10, 0, 100)).toBeNull();
    expect(cpuPercent(50, 10, 1000, 100)).toBeNull();
  });
});

describe('descendantsIn', () => {
  const stat = (pid: number, ppid: number): ProcStat => ({ pid, ppid, comm: 'x', state: 'S', utime: 0, stime: 0, childrenTime: 0 });

  it('finds the root and every process below it, and nothing else', () => {
    const stats = [stat(1, 0), stat(10, 1), stat(11, 10), stat(12, 10), stat(13, 12), stat(20, 1)];
    expect(descendantsIn(stats, [10]).sort((a, b) => a - b)).toEqual([10, 11, 12, 13]);
  });

  it('returns just the root when it has no children', () => {
    expect(descendantsIn([stat(5, 1)], [5])).toEqual([5]);
  });
});

describe('parseProcIo', () => {
  it('reads the read and write system call counts', () => {
    const io = 'rchar: 6976\nwchar: 120\nsyscr: 10\nsyscw: 3\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n';
    expect(parseProcIo(io)).toEqual({ reads: 10, writes: 3 });
  });

  it('fails on text without the counters', () => {
    expect(() => parseProcIo('rchar: 1\n')).toThrow(/no syscr/);
    expect(() => parseProcIo('syscr: 1\nxsyscw: 2\n')).toThrow(/no syscw/);
  });
});
