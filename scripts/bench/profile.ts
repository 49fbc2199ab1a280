/**
 * Where an API instance spends its time: a summary of the V8 CPU profile that `node --cpu-prof` writes
 * (`*.cpuprofile`) when the process exits. Summarizing is pure; only `readProfiles` touches the disk.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The parts of a .cpuprofile (Chrome DevTools Profiler.Profile) used here. */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
    readonly hitCount?: number;
    readonly children?: readonly number[];
  }[];
  /** Microseconds. */
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  /** Microseconds between consecutive samples (the first: since startTime). */
  readonly timeDeltas?: readonly number[];
}

/** A span of CLOCK_MONOTONIC time in microseconds — V8 stamps profile samples on this clock, as does process.hrtime. */
export type WindowUs = readonly [number, number];

export interface ProfileEntry {
  readonly name: string;
  /** Self time, milliseconds. */
  readonly selfMs: number;
  /** Self time, share of all samples (idle included). */
  readonly share: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Share of samples the process was idle (waiting for I/O). */
  readonly idleShare: number;
  /** Samples counted. */
  readonly samples: number;
  /** Self time by area: a package, Node's internals, the API's own files, GC. */
  readonly byArea: readonly ProfileEntry[];
  /** Self time by function (`name url:line`). */
  readonly byFunction: readonly ProfileEntry[];
}

/**
 * Which area a frame belongs to: `(garbage collector)`, `(program)`, `(idle)` as V8 names them;
 * `node_modules/<package>`; `node:<module>` for Node's own JavaScript; `api/<path>` for the service; else the url.
 */
export function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : `native ${functionName}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1] ?? url;
  if (url.startsWith('node:')) return `node:${url.slice(5).replace(/^internal\//, '').split('/')[0] ?? ''}`;
  const api = /\/api\/src\/(.+)$/.exec(url);
  if (api) return `api/${api[1]?.replace(/\.js$/, '') ?? ''}`;
  return url;
}

function top(map: Map<string, number>, total: number, totalMs: number, n: number): ProfileEntry[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, hits]) => ({ name, selfMs: (hits / total) * totalMs, share: hits / total }));
}

/**
 * Self time by area and by function, from the sample counts of one profile; with `windows`, only the
 * samples taken inside them (e.g. the measured windows of one scenario, without start-up and warm-up).
 */
export function summarizeProfile(profile: CpuProfile, topN = 20, windows?: readonly WindowUs[]): ProfileSummary {
  const hits = new Map<number, number>();
  let totalMs = (profile.endTime - profile.startTime) / 1000;
  if (windows !== undefined) {
    if (!profile.samples || !profile.timeDeltas || profile.timeDeltas.length !== profile.samples.length) {
      throw new Error('summarizeProfile: a window needs samples with timeDeltas');
    }
    let t = profile.startTime;
    profile.samples.forEach((id, i) => {
      t += profile.timeDeltas?.[i] ?? 0;
      if (windows.some(([from, to]) => t >= from && t < to)) hits.set(id, (hits.get(id) ?? 0) + 1);
    });
    totalMs = windows.reduce((sum, [from, to]) => sum + Math.max(0, Math.min(to, profile.endTime) - Math.max(from, profile.startTime)), 0) / 1000;
  } else if (profile.samples && profile.samples.length > 0) {
    for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  } else {
    for (const n of profile.nodes) hits.set(n.id, n.hitCount ?? 0);
  }
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const h = hits.get(node.id) ?? 0;
    if (h === 0) continue;
    total += h;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') idle += h;
    const area = areaOf(url, functionName);
    byArea.set(area, (byArea.get(area) ?? 0) + h);
    const file = url.replace(/^.*\/(node_modules\/)/, '$1').replace(/^.*\/build\//, '');
    const fn = url === '' ? functionName : `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + h);
  }
  if (total === 0) return { totalMs, idleShare: 0, samples: 0, byArea: [], byFunction: [] };
  return { totalMs, idleShare: idle / total, samples: total, byArea: top(byArea, total, totalMs, topN), byFunction: top(byFunction, total, totalMs, topN) };
}

/** Text report of a summary: the areas, then the functions, by self time (share of all samples, and of busy ones). */
export function renderProfileSummary(title: string, s: ProfileSummary, rows = 15): string {
  const busy = 1 - s.idleShare;
  const line = (e: ProfileEntry) =>
    `  ${(e.share * 100).toFixed(1).padStart(5)} %  ${e.name === '(idle)' || busy <= 0 ? '      ' : `${((e.share / busy) * 100).toFixed(1).padStart(5)}%`}  ${e.selfMs.toFixed(0).padStart(7)} ms  ${e.name}`;
  return [
    `${title}: ${s.totalMs.toFixed(0)} ms profiled, ${s.samples} samples, ${(s.idleShare * 100).toFixed(1)} % idle (columns: share of all samples, share of busy samples, self time)`,
    ' self time by area:',
    ...s.byArea.slice(0, rows).map(line),
    ' self time by function:',
    ...s.byFunction.slice(0, rows).map(line),
  ].join('\n');
}

/** Every `*.cpuprofile` in `dir` (file name → parsed profile). */
export function readProfiles(dir: string): Map<string, CpuProfile> {
  const out = new Map<string, CpuProfile>();
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
    out.set(name, JSON.parse(readFileSync(join(dir, name), 'utf8')) as CpuProfile);
  }
  return out;
}
