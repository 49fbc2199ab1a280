/**
 * `npm run bench` (build/scripts/bench.js) end to end, shortened: the real loopback topology, every limit
 * and two scenarios at two concurrencies (user-create: every e-mail unique, or a 409 would count as an error). It checks what the benchmark produces — every limit measured,
 * requests that succeeded, ratios computed from them, the files written — never how fast anything was.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchReport } from '../../../scripts/bench/model';
import { repositoryRoot } from '../../support/loopback';

jest.setTimeout(180_000);

const benchJs = join(repositoryRoot(), 'build/scripts/bench.js');
let outDir: string;

beforeAll(() => {
  outDir = mkdtempSync(join(tmpdir(), 'evergreen-bench-test-'));
});
afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

describe('npm run bench -- --quick', () => {
  it('measures every limit and scenario step, rates them, and writes JSON, SVG and the tables (on one CPU: --cpus)', async () => {
    // the first CPU this process may use: `--cpus 0` would fail where CPU 0 is not ours (a container's cpuset)
    const oneCpu = /^Cpus_allowed_list:\s*(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [benchJs, '--quick', '--scenarios', 'purchase,user-create', '--connections', '1,8', '--cpus', oneCpu, '--out', outDir],
      { cwd: repositoryRoot(), timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
    );
    const files = readdirSync(outDir);
    const base = files.find((f) => f.endsWith('.json'))?.replace(/\.json$/, '');
    expect(base).toMatch(/^bench-/);
    expect(files.sort()).toEqual([`${base}.json`, `${base}.svg`, `${base}.txt`]);

    const report = JSON.parse(readFileSync(join(outDir, `${base}.json`), 'utf8')) as BenchReport;
    expect(report.mode).toBe('quick');
    expect([report.machine.coresUsed, report.machine.cpuList, report.settings.cpus]).toEqual([1, oneCpu, oneCpu]);
    for (const kind of ['proxy-limit', 'api-floor', 'data-script', 'data-purchase']) {
      const measured = report.limits.filter((l) => l.kind === kind);
      expect({ kind, connections: measured.map((l) => l.connections) }).toEqual({ kind, connections: [1, 8] });
      for (const l of measured) {
        expect({ kind, errors: l.errors }).toEqual({ kind, errors: 0 });
        expect(l.throughput).toBeGreaterThan(0);
      }
    }
    // the Redis nodes' forks were counted for every step (how many depends on the write rate: 0 or more)
    for (const s of [...report.limits, ...report.steps]) expect({ step: `${s.name}@${s.connections}`, forks: Number.isInteger(s.redisForks) && s.redisForks! >= 0 }).toEqual({ step: `${s.name}@${s.connections}`, forks: true });
    expect(report.steps.map((s) => `${s.name}@${s.connections}`)).toEqual(['purchase@1', 'purchase@8', 'user-create@1', 'user-create@8']);
    for (const s of report.steps) {
      expect({ step: s.name, errors: s.errors, ok: s.ok }).toEqual({ step: s.name, errors: 0, ok: s.completed });
      expect(s.completed).toBeGreaterThan(0);
      expect(s.ratios.dataScript).toBeCloseTo(s.throughput / report.limits.find((l) => l.kind === 'data-script' && l.connections === s.connections)!.throughput, 6);
      expect(s.ratios.apiFloor).not.toBeNull();
      // CPU of the API instances and their system calls were measured during the window
      expect(s.cpuPercent['api-0']).toBeGreaterThan(0);
      expect(Object.keys(s.syscalls ?? {})).toEqual(['api-0', 'api-1']);
    }
    // purchases @32 were not run: the targets say so instead of passing
    expect(report.targets.map((t) => [t.value, t.pass])).toEqual([[null, false], [null, false], [null, false]]);

    expect(readFileSync(join(outDir, `${base}.svg`), 'utf8')).toMatch(/^<svg[\s\S]*purchase[\s\S]*<\/svg>\s*$/);
    const table = readFileSync(join(outDir, `${base}.txt`), 'utf8');
    expect(table).toContain('GET /healthz (API floor)');
    expect(stdout).toContain(table.trim().split('\n')[3]); // the tables were printed too
  });
});
