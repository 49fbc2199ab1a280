/** Command line of `npm run bench` (pure). */
import { parseArgs } from 'node:util';
import { SCENARIOS, type ScenarioName } from './model';

export const USAGE = `usage: npm run bench -- [--quick] [--profile] [--scenarios a,b] [--connections 1,8] [--no-limits] [--out DIR]
  --quick           short steps: the whole run in under a minute (default: full run, under ten)
  --profile         run the API instances with node --cpu-prof and print where their time went
  --scenarios LIST  subset of ${SCENARIOS.join(',')} (default: all)
  --connections L   concurrency levels (default 1,8,32,128)
  --no-limits       skip the data-tier and proxy limit measurements
  --cpus LIST       run everything (stack and load generators) on these CPUs only, e.g. 0 or 0-1 (taskset's
                    syntax): the same benchmark on fewer cores, to see how it scales (default: all)
  --api-env K=V     extra environment of the API instances, repeatable (LOG_LEVEL, API_*, REDIS_*): experiments
  --out DIR         where the JSON, SVG and table go (default results/)`;

export interface StepTiming {
  /** Discarded warm-up before each HTTP step. */
  readonly warmupMs: number;
  /** Measured window of each HTTP step and of each limit step. */
  readonly durationMs: number;
  /** Most calls of one data-tier step (count bound; also bounds the keys it creates). */
  readonly maxDataTierRequests: number;
}

export interface BenchOptions {
  readonly mode: 'quick' | 'full';
  readonly profile: boolean;
  readonly scenarios: readonly ScenarioName[];
  readonly connections: readonly number[];
  readonly limits: boolean;
  /** Extra API environment (experiments such as LOG_LEVEL=warn); empty = as deployed. */
  readonly apiEnv: Readonly<Record<string, string>>;
  /** CPUs the whole run is confined to (taskset list syntax); undefined = all the run was started with. */
  readonly cpus: string | undefined;
  readonly outDir: string;
  readonly timing: StepTiming;
}

export const TIMING: Readonly<Record<'quick' | 'full', StepTiming>> = {
  // 24 HTTP steps (16 scenario, 8 proxy/floor) of 1 s — wrk's shortest — without a separate warm-up, 8 data-tier
  // steps of about 1 s, plus start-up and seeding: under a minute.
  quick: { warmupMs: 0, durationMs: 1000, maxDataTierRequests: 40_000 },
  // 24 HTTP steps of 1 + 8 s, 8 data-tier steps of ≤ 8 s: about five minutes.
  full: { warmupMs: 1000, durationMs: 8000, maxDataTierRequests: 300_000 },
};

function list(text: string, what: string): string[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new Error(`${what} must not be empty\n${USAGE}`);
  return items;
}

export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      connections: { type: 'string' },
      'no-limits': { type: 'boolean', default: false },
      'api-env': { type: 'string', multiple: true, default: [] },
      cpus: { type: 'string' },
      out: { type: 'string', default: 'results' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) throw new Error(USAGE);
  const problems: string[] = [];
  const scenarios = values.scenarios === undefined ? [...SCENARIOS] : list(values.scenarios, '--scenarios');
  for (const s of scenarios) if (!(SCENARIOS as readonly string[]).includes(s)) problems.push(`unknown scenario "${s}" (known: ${SCENARIOS.join(', ')})`);
  const connections = values.connections === undefined ? [1, 8, 32, 128] : list(values.connections, '--connections').map(Number);
  for (const c of connections) if (!Number.isInteger(c) || c < 1 || c > 1024) problems.push(`connections must be integers 1..1024, got ${String(c)}`);
  const apiEnv: Record<string, string> = {};
  for (const pair of values['api-env']) {
    const m = /^(LOG_LEVEL|API_[A-Z0-9_]+|REDIS_[A-Z0-9_]+)=(.*)$/.exec(pair);
    if (m?.[1] === undefined) problems.push(`--api-env takes LOG_LEVEL=, API_*= or REDIS_*= settings, got "${pair}"`);
    else apiEnv[m[1]] = m[2] ?? '';
  }
  if (values.cpus !== undefined && !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(values.cpus)) {
    problems.push(`--cpus takes a list of CPUs such as 0, 0-1 or 0,2, got "${values.cpus}"`);
  }
  if (problems.length > 0) throw new Error(`${problems.join('; ')}\n${USAGE}`);
  const mode = values.quick ? 'quick' : 'full';
  return {
    mode,
    profile: values.profile,
    scenarios: [...new Set(scenarios)] as ScenarioName[],
    connections: [...new Set(connections)].sort((a, b) => a - b),
    limits: !values['no-limits'],
    apiEnv,
    cpus: values.cpus,
    outDir: values.out,
    timing: TIMING[mode],
  };
}
