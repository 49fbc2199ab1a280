/**
 * `npm run bench`: the purchase path measured against the limits of this machine (docs/performance.md).
 *
 * 1. Starts the loopback topology (tests/support/loopback.ts, the same code as `npm run dev`): Redis
 *    master + 2 replicas + 3 Sentinels, 2 API instances from build/, nginx from the rendered config.
 * 2. Seeds users and products (stock that never runs out) through nginx.
 * 3. Limits, at each concurrency: nginx answering a static response itself (the rendered config's
 *    `/metrics` location: a fixed 404 problem, same server block and access log as the API traffic);
 *    `GET /healthz` through nginx (the API's HTTP stack without Redis: the floor of any request);
 *    redis-benchmark running the API's PURCHASE script on the master; a loop running EVALSHA + WAIT.
 * 4. The scenarios through nginx at each concurrency: purchase, product read, product list, user create.
 * 5. Prints the tables (every result also as a ratio to the limits) and the targets; writes
 *    <out>/bench-<time>.json, .svg and .txt.
 *
 * Every step is bounded in time (and the data-tier ones in count); every process started is stopped.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { benchChart } from './bench/chart';
import { CpuMeter, descendantsOf } from './bench/cpu';
import {
  loadPurchaseScript,
  runPurchaseLoopStep,
  runRedisBenchmarkStep,
  type DataTierTarget,
} from './bench/data-tier';
import { runHttpStep } from './bench/http-load';
import { describeMachine, machineInfo, useOnlyCpus } from './bench/machine';
import type { BenchReport, StepResult } from './bench/model';
import { parseBenchOptions, type BenchOptions } from './bench/options';
import { readProfiles, renderProfileSummary, summarizeProfile } from './bench/profile';
import { evaluateTargets, rateSteps, renderLimitsTable, renderStepsTable, renderTargets } from './bench/report';
import { scenarioPlan, SEED_STOCK, type Seeded } from './bench/scenarios';
import { DEPLOYED_SENTINEL_TIMING, startLoopbackTopology, type LoopbackTopology } from '../tests/support/loopback';
import { installExitHooks } from '../tests/support/processes';
import { redisInfo } from '../tests/support/redis-probe';
import { ensurePackages } from './ensure-test-deps';

/** Debian packages the benchmark runs (redis-tools holds redis-cli and redis-benchmark; wrk drives the HTTP load). */
export const BENCH_PACKAGES = ['redis-server', 'redis-sentinel', 'redis-tools', 'nginx', 'wrk'] as const;

/**
 * Stack settings changed for the benchmark, and why:
 * - the per-client rate limit (200 r/s from one address) would turn the load of one load generator into
 *   429s: the benchmark measures the stack, not the limiter;
 * - maxmemory 2gb: a full run creates ~1 M purchases (HTTP + data-tier limit); with the deployed 256mb
 *   and noeviction the master would refuse writes (OOM) part-way through.
 */
export const BENCH_STACK = {
  gateway: { rateLimit: { rate: '1000000r/s', burst: 1_000_000, zoneSize: '10m' } },
  redis: { maxmemory: '2gb' },
} as const;

const SEED_USERS = 16;
const SEED_PRODUCTS = 16;

const processStart = Date.now();

/** A progress line, with the seconds since start. */
function log(line: string): void {
  process.stdout.write(`[${((Date.now() - processStart) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
}

function httpJson(url: string, method: string, token: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolveRequest, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      url,
      {
        method,
        timeout: 5000,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = text;
          }
          resolveRequest({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function createOne(url: string, token: string, body: unknown): Promise<string> {
  const r = await httpJson(url, 'POST', token, body);
  const id = (r.json as { id?: unknown }).id;
  if (r.status !== 201 || typeof id !== 'string') throw new Error(`seeding POST ${url} → ${r.status}: ${JSON.stringify(r.json)}`);
  return id;
}

/** Users and products through nginx, as a client would create them. */
async function seed(base: string, token: string, runId: string): Promise<Seeded> {
  const userIds = await Promise.all(
    Array.from({ length: SEED_USERS }, (_, i) =>
      createOne(`${base}/v1/users`, token, { name: `Seed user ${i}`, email: `seed-${runId}-${i}@example.com` }),
    ),
  );
  const productIds = await Promise.all(
    Array.from({ length: SEED_PRODUCTS }, (_, i) =>
      createOne(`${base}/v1/products`, token, { name: `Seed product ${i}`, priceCents: 1299 + i, stock: SEED_STOCK }),
    ),
  );
  return { userIds, productIds };
}

/**
 * Forks of every Redis node of the topology so far (INFO stats total_forks: RDB snapshots, AOF rewrites, and a
 * master's snapshot for a replica's full sync), and how many are running now (INFO persistence).
 */
async function redisForks(topology: LoopbackTopology): Promise<{ started: number; running: number }> {
  const admin = { username: 'admin', password: topology.secrets.redisPasswords.admin };
  const infos = await Promise.all(topology.redisNodes.map((n) => redisInfo(n, admin, 'all')));
  const count = (info: Record<string, string>, field: string) => Number(info[field] ?? 0);
  return {
    started: infos.reduce((sum, i) => sum + count(i, 'total_forks'), 0),
    running: infos.reduce((sum, i) => sum + count(i, 'rdb_bgsave_in_progress') + count(i, 'aof_rewrite_in_progress'), 0),
  };
}

/**
 * `step()`'s result with the Redis forks that ran during it (StepResult.redisForks): those started during it, and
 * those still running from before. null when a node could not be asked (the step's figures stand without it).
 */
async function countingForks(topology: LoopbackTopology, step: () => Promise<StepResult>): Promise<StepResult> {
  const before = await redisForks(topology).catch(() => undefined);
  const result = await step();
  const after = before && (await redisForks(topology).catch(() => undefined));
  return { ...result, redisForks: before && after ? after.started - before.started + before.running : null };
}

/** The pids of each role, looked up when a step starts (nginx: master + workers). */
function roles(topology: LoopbackTopology, masterPort: number, loadgenPid: number): () => Record<string, number[]> {
  return () => {
    const processes = topology.processes();
    const pidOf = (name: string) => {
      const p = processes.get(name);
      return p?.running ? [p.pid] : [];
    };
    const master = topology.redisNodes.find((n) => n.port === masterPort);
    const out: Record<string, number[]> = {};
    const gateway = processes.get('gateway');
    out.nginx = gateway?.running ? descendantsOf(gateway.pid) : [];
    topology.apiUrls.forEach((_, i) => (out[`api-${i}`] = pidOf(`api-${i}`)));
    out['redis-master'] = master ? pidOf(master.name) : [];
    out.replicas = topology.redisNodes.filter((n) => n.port !== masterPort).flatMap((n) => pidOf(n.name));
    out.loadgen = [loadgenPid];
    return out;
  };
}

function summaryLine(s: StepResult): string {
  const p = (v: number | null) => (v === null ? '-' : v.toFixed(2));
  return `  ${s.name} @${s.connections}: ${s.throughput.toFixed(0)}/s p50 ${p(s.latencyMs.p50)} p99 ${p(s.latencyMs.p99)} ms, errors ${s.errors}`;
}

async function measureLimits(
  options: BenchOptions,
  topology: LoopbackTopology,
  target: DataTierTarget,
  cpu: CpuMeter,
  logDir: string,
): Promise<StepResult[]> {
  const t = options.timing;
  const limits: StepResult[] = [];
  const gateway = topology.gatewayUrl as string;
  const httpLimit = async (kind: 'proxy-limit' | 'api-floor', name: string, path: string, expected: number): Promise<void> => {
    for (const connections of options.connections) {
      const step = await countingForks(topology, () =>
        runHttpStep(
          {
            kind, name, url: gateway, connections, warmupMs: t.warmupMs, durationMs: t.durationMs, headers: {},
            requests: [{ method: 'GET', path }], expected: [expected],
          },
          cpu,
        ),
      );
      log(summaryLine(step));
      limits.push(step);
    }
  };
  log('proxy limit: nginx answering GET /metrics itself (a static 404 problem from the rendered config)');
  await httpLimit('proxy-limit', 'nginx static', '/metrics', 404);
  log('API floor: GET /healthz through nginx (Node HTTP + Express, no Redis, no log line)');
  await httpLimit('api-floor', 'GET /healthz (API floor)', '/healthz', 200);

  log(`data-tier limit: redis-benchmark EVALSHA of the API's purchase script on the master ${target.host}:${target.port}`);
  const sha = await loadPurchaseScript(target);
  // redis-benchmark runs a count, not a time: size each step from the previous rate (first: a calibration).
  let rate = (await runRedisBenchmarkStep({
    target, sha, connections: 1, requests: 2000, timeoutMs: 30_000, logFile: join(logDir, 'redis-benchmark-calibration.log'), cpu: cpu,
  })).throughput;
  for (const connections of options.connections) {
    const requests = Math.max(2000, Math.min(t.maxDataTierRequests, Math.round((rate * t.durationMs) / 1000)));
    const step = await countingForks(topology, () =>
      runRedisBenchmarkStep({
        target, sha, connections, requests, timeoutMs: Math.max(30_000, t.durationMs * 6),
        logFile: join(logDir, `redis-benchmark-c${connections}.log`), cpu: cpu,
      }),
    );
    rate = step.throughput;
    log(summaryLine(step));
    limits.push(step);
  }

  log('data-tier limit: a client loop sending what a purchase sends (EVALSHA purchase + WAIT), one connection per client');
  for (const connections of options.connections) {
    const step = await countingForks(topology, () =>
      runPurchaseLoopStep({ target, connections, durationMs: t.durationMs, maxRequests: t.maxDataTierRequests, cpu: cpu }),
    );
    log(summaryLine(step));
    limits.push(step);
  }
  return limits;
}

async function run(options: BenchOptions): Promise<void> {
  // before anything starts: every process of the run inherits the affinity
  if (options.cpus !== undefined) useOnlyCpus(options.cpus);
  // A fresh machine after `npm ci`: as root on Debian the programs are installed here, else named.
  ensurePackages(BENCH_PACKAGES);
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const outDir = resolve(options.outDir);
  mkdirSync(outDir, { recursive: true });
  const machine = machineInfo();
  log(`evergreen bench (${options.mode}) on ${describeMachine(machine)}`);
  const runId = randomBytes(4).toString('hex');
  const profileDir = options.profile ? join(outDir, `profile-${stamp}`) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const logDir = mkdtempSync(join(tmpdir(), 'evergreen-bench-'));

  installExitHooks();
  const t0 = Date.now();
  const topology = await startLoopbackTopology({
    stack: BENCH_STACK,
    ...DEPLOYED_SENTINEL_TIMING,
    // LOG_LEVEL stays the deployed default (info): the benchmark measures what is deployed.
    apiEnv: { ...options.apiEnv, ...(profileDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` } : {}) },
  });
  let stopped = false;
  try {
    log(`topology up in ${((Date.now() - t0) / 1000).toFixed(1)} s: gateway ${topology.gatewayUrl}, API ${topology.apiUrls.join(' ')}`);
    const gateway = topology.gatewayUrl;
    if (!gateway) throw new Error('the topology has no gateway');
    const seeded = await seed(gateway, topology.apiToken, runId);
    const master = await topology.currentMaster();
    const cpu = new CpuMeter(roles(topology, master.port, process.pid), (role) => role.startsWith('api-'));
    const target: DataTierTarget = {
      host: master.host,
      port: master.port,
      username: 'api',
      password: topology.secrets.redisPasswords.api,
      userId: seeded.userIds[0] as string,
      productId: seeded.productIds[0] as string,
    };

    const limits = options.limits ? await measureLimits(options, topology, target, cpu, logDir) : [];

    const steps: StepResult[] = [];
    const headers = { authorization: `Bearer ${topology.apiToken}`, 'content-type': 'application/json' };
    for (const scenario of options.scenarios) {
      const plan = scenarioPlan(scenario, seeded, runId);
      log(`scenario ${scenario} through nginx`);
      for (const connections of options.connections) {
        const step = await countingForks(topology, () =>
          runHttpStep(
            {
              kind: 'http', name: scenario, url: gateway, connections, warmupMs: options.timing.warmupMs,
              durationMs: options.timing.durationMs, headers, requests: plan.requests, expected: plan.expected,
              counted: plan.counted,
            },
            cpu,
          ),
        );
        log(summaryLine(step));
        steps.push(step);
      }
    }

    // Stop before writing: with --profile the API instances write their profiles as they exit.
    await topology.stop();
    stopped = true;

    const rated = rateSteps(steps, limits);
    const targets = evaluateTargets(rated);
    const report: BenchReport = {
      version: 1,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      mode: options.mode,
      settings: {
        timing: options.timing,
        connections: options.connections,
        scenarios: options.scenarios,
        stack: BENCH_STACK,
        sentinel: DEPLOYED_SENTINEL_TIMING,
        seeded: { users: SEED_USERS, products: SEED_PRODUCTS, stock: SEED_STOCK },
        profile: options.profile,
        apiEnv: options.apiEnv,
        cpus: options.cpus ?? null,
      },
      machine,
      loadAverageAtEnd: loadavg()[0] ?? 0,
      elapsedS: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
      limits,
      steps: rated,
      targets,
    };
    const title = `Evergreen bench ${report.mode} ${report.startedAt} — ${machine.cpuModel}, ${machine.coresUsed} of ${machine.cores} cores, Node ${machine.nodeVersion}`;
    const table = [
      `Evergreen Stores benchmark (${report.mode}), ${report.startedAt}`,
      `machine: ${describeMachine(machine)}; load avg ${report.loadAverageAtEnd.toFixed(2)} at end; ${report.elapsedS} s in all`,
      '',
      'Limits (same machine, same concurrency):',
      renderLimitsTable(limits),
      '',
      'Scenarios through nginx (÷script, ÷purchase, ÷proxy, ÷floor = throughput as a ratio to each limit at the same concurrency):',
      renderStepsTable(rated),
      '',
      'Targets:',
      renderTargets(targets),
    ].join('\n');
    const base = join(outDir, `bench-${stamp}`);
    writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(`${base}.svg`, benchChart(title, rated, limits));
    writeFileSync(`${base}.txt`, `${table}\n`);
    process.stdout.write(`\n${table}\n\n`);
    log(`written: ${base}.json, ${base}.svg, ${base}.txt`);

    if (profileDir) {
      const profiles = readProfiles(profileDir);
      if (profiles.size === 0) log(`no CPU profile was written to ${profileDir}`);
      // One summary per API instance and scenario, over that scenario's measured windows only.
      const summaries: string[] = [];
      for (const [name, profile] of profiles) {
        for (const scenario of options.scenarios) {
          const windows = steps.filter((s) => s.name === scenario && s.windowUs).map((s) => s.windowUs as readonly [number, number]);
          summaries.push(renderProfileSummary(`${name} during ${scenario}`, summarizeProfile(profile, 25, windows), 20));
        }
      }
      writeFileSync(join(profileDir, 'summary.txt'), `${summaries.join('\n\n')}\n`);
      process.stdout.write(`\n${summaries.join('\n\n')}\n\n`);
      log(`profiles and summary.txt: ${profileDir} (open a .cpuprofile in Chrome DevTools → Performance)`);
    }
  } finally {
    if (!stopped) await topology.stop();
  }
}

if (require.main === module) {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  run(options).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`npm run bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exit(1);
    },
  );
}
