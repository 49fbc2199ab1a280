/**
 * The data tier's own limit for a purchase, measured against the same Redis master the API uses:
 * - `data-script`: redis-benchmark (C, one connection per client) sending EVALSHA of the API's PURCHASE
 *   script, with the argument shape the API sends (api/src/purchases/store.ts), a fresh purchase id per call;
 * - `data-purchase`: a client loop sending what one purchase sends, through the API's own write path
 *   (WriteSession.script: EVALSHA and the WAIT for the replicas the API waits for, in one pipeline) — one
 *   connection per client.
 * The script text comes from the API's module; nothing here copies it.
 */
import Redis from 'ioredis';
import pino from 'pino';
import { parseConfig } from '../../api/src/config';
import { ProblemError } from '../../api/src/errors';
import { purchaseScriptArgs } from '../../api/src/purchases/store';
import { ApiMetrics } from '../../api/src/ops/metrics';
import { RedisGateway, WRITE_SCRIPTS } from '../../api/src/redis/gateway';
import { PURCHASE } from '../../api/src/redis/scripts';
import { runToExit } from '../../tests/support/processes';
import type { CpuMeter } from './cpu';
import type { StepResult } from './model';
import { LatencyRecorder, summarizeLatencies } from './stats';

/** Number of KEYS the PURCHASE script takes: the API's own figure (see the script's doc comment in api/src/redis/scripts.ts). */
export const PURCHASE_NUMBER_OF_KEYS = WRITE_SCRIPTS.purchase.numberOfKeys;

/** The WAIT the API sends with every write: its defaults (REDIS_WAIT_REPLICAS, REDIS_WAIT_TIMEOUT_MS). */
export function apiWaitDefaults(): { waitReplicas: number; waitTimeoutMs: number } {
  const c = parseConfig({ REDIS_SENTINELS: '127.0.0.1:1', API_TOKENS: 'unused' });
  return { waitReplicas: c.waitReplicas, waitTimeoutMs: c.waitTimeoutMs };
}

/** The script's KEYS and ARGV for one purchase without an Idempotency-Key, built by the API's own PurchaseStore code. */
function benchPurchaseArgs(purchaseId: string, userId: string, productId: string, now: Date): string[] {
  return purchaseScriptArgs(purchaseId, { userId, productId, quantity: 1 }, undefined, now);
}

/** One row of `redis-benchmark --csv`. */
export interface RedisBenchmarkRow {
  readonly test: string;
  readonly rps: number;
  readonly avgMs: number;
  readonly minMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

function csvCells(line: string): string[] {
  const cells: string[] = [];
  const re = /"((?:[^"]|"")*)"|([^,]+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) cells.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : (m[2] ?? ''));
  return cells;
}

/** Parses `redis-benchmark --csv` output (header + one row per test); other lines (warnings) are skipped. */
export function parseRedisBenchmarkCsv(text: string): RedisBenchmarkRow[] {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('"'));
  const headerIndex = lines.findIndex((l) => l.startsWith('"test"'));
  if (headerIndex < 0) throw new Error(`redis-benchmark printed no CSV header:\n${text.slice(0, 500)}`);
  const header = csvCells(lines[headerIndex] ?? '');
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`redis-benchmark CSV has no column ${name} (header: ${header.join(',')})`);
    return i;
  };
  const idx = {
    rps: col('rps'), avg: col('avg_latency_ms'), min: col('min_latency_ms'), p50: col('p50_latency_ms'),
    p95: col('p95_latency_ms'), p99: col('p99_latency_ms'), max: col('max_latency_ms'),
  };
  return lines.slice(headerIndex + 1).map((line) => {
    const c = csvCells(line);
    const num = (i: number) => {
      const v = Number(c[i]);
      if (!Number.isFinite(v)) throw new Error(`redis-benchmark CSV: not a number in column ${header[i]}: ${line}`);
      return v;
    };
    return {
      test: c[0] ?? '', rps: num(idx.rps), avgMs: num(idx.avg), minMs: num(idx.min), p50Ms: num(idx.p50),
      p95Ms: num(idx.p95), p99Ms: num(idx.p99), maxMs: num(idx.max),
    };
  });
}

export interface DataTierTarget {
  readonly host: string;
  readonly port: number;
  /** The API's ACL user: the limit is measured with the API's own permissions. */
  readonly username: string;
  readonly password: string;
  /** A user and a product that exist (seeded), with stock that never runs out. */
  readonly userId: string;
  readonly productId: string;
}

/** Loads the PURCHASE script into the master's cache (what ioredis' EVALSHA fallback does once) → its SHA-1. */
export async function loadPurchaseScript(target: DataTierTarget): Promise<string> {
  const client = new Redis({ host: target.host, port: target.port, username: target.username, password: target.password, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    return String(await client.script('LOAD', PURCHASE));
  } finally {
    client.disconnect();
  }
}

export interface RedisBenchmarkStepProps {
  readonly target: DataTierTarget;
  readonly sha: string;
  readonly connections: number;
  /** Calls to send (redis-benchmark has no duration option; the caller sizes it from an earlier rate). */
  readonly requests: number;
  /** Hard bound: redis-benchmark is stopped after this long (the step then fails). */
  readonly timeoutMs: number;
  readonly logFile: string;
  /** The CPU meter; its `loadgen` (this process) counts redis-benchmark as an exited child. */
  readonly cpu: CpuMeter;
}

/** `data-script` at one concurrency: redis-benchmark -c N -n M EVALSHA <sha> 5 … with a random purchase id per call. */
export async function runRedisBenchmarkStep(props: RedisBenchmarkStepProps): Promise<StepResult> {
  const { target } = props;
  // __rand_int__ → 12 random digits per call: every call creates a new purchase, as in production.
  const args = benchPurchaseArgs('pur_bench__rand_int__', target.userId, target.productId, new Date());
  const stopCpu = props.cpu.start();
  const t0 = performance.now();
  const { code, process: proc } = await runToExit({
    name: `redis-benchmark-c${props.connections}`,
    command: 'redis-benchmark',
    args: [
      '-h', target.host, '-p', String(target.port), '--user', target.username, '-a', target.password,
      '-c', String(props.connections), '-n', String(props.requests), '-r', '1000000000000',
      '--csv', '--precision', '3',
      'EVALSHA', props.sha, String(PURCHASE_NUMBER_OF_KEYS), ...args,
    ],
    logFile: props.logFile,
  }, props.timeoutMs);
  const elapsed = performance.now() - t0;
  const { cpuPercent } = stopCpu();
  if (code !== 0) throw new Error(`redis-benchmark exited with ${String(code)} after ${Math.round(elapsed)} ms:\n${proc.logTail(20)}`);
  const row = parseRedisBenchmarkCsv(proc.logTail(50))[0];
  if (!row) throw new Error(`redis-benchmark printed no result:\n${proc.logTail(20)}`);
  return {
    kind: 'data-script',
    name: 'redis-benchmark EVALSHA purchase',
    connections: props.connections,
    durationMs: Math.round(elapsed),
    completed: props.requests,
    throughput: row.rps,
    latencyMs: { count: props.requests, mean: row.avgMs, p50: row.p50Ms, p99: row.p99Ms, p999: null, max: row.maxMs },
    ok: props.requests,
    counted: {},
    errorsByStatus: {},
    transportErrors: 0,
    timeouts: 0,
    errors: 0,
    cpuPercent,
  };
}

export interface PurchaseLoopStepProps {
  readonly target: DataTierTarget;
  readonly connections: number;
  readonly durationMs: number;
  /** Upper bound of purchases over all connections. */
  readonly maxRequests: number;
  readonly cpu: CpuMeter;
}

/** `data-purchase` at one concurrency: N connections, each looping EVALSHA purchase + WAIT, bounded in time and count. */
export async function runPurchaseLoopStep(props: PurchaseLoopStepProps): Promise<StepResult> {
  const { target } = props;
  const wait = apiWaitDefaults();
  const metrics = new ApiMetrics(false);
  const logger = pino({ level: 'silent' });
  const clients = Array.from({ length: props.connections }, () =>
    new Redis({
      host: target.host, port: target.port, username: target.username, password: target.password,
      lazyConnect: true, maxRetriesPerRequest: 1, enableAutoPipelining: false,
    }),
  );
  // one gateway per connection: each loop's writes and WAITs stay on its own connection
  const gateways = clients.map((c) => new RedisGateway(c, undefined, metrics, logger, wait));
  const recorder = new LatencyRecorder(Math.max(1, props.maxRequests));
  const errorsByKind: Record<string, number> = {};
  let started = 0;
  let created = 0;
  try {
    await Promise.all(clients.map((c) => c.connect()));
    const stopCpu = props.cpu.start();
    const t0 = performance.now();
    const deadline = t0 + props.durationMs;
    let sequence = 0;
    await Promise.all(
      gateways.map(async (gateway) => {
        while (performance.now() < deadline && started < props.maxRequests) {
          started += 1;
          const id = `pur_benchloop${process.pid}x${(sequence += 1)}`;
          const s = performance.now();
          try {
            const session = gateway.writer();
            const reply = (await session.script('purchase', 'purchase', benchPurchaseArgs(id, target.userId, target.productId, new Date()))) as unknown[];
            if (reply[0] !== 'created') throw new Error(`purchase script answered ${String(reply[0])}`);
            await session.confirmDurable('purchase');
            created += 1;
          } catch (err) {
            // a 503 the API would answer (not durable, Redis unavailable) by its class; anything else by its first word
            const kind = err instanceof ProblemError ? err.constructor.name : err instanceof Error ? err.message.split(' ')[0] ?? 'error' : 'error';
            errorsByKind[kind] = (errorsByKind[kind] ?? 0) + 1;
          }
          recorder.add(performance.now() - s);
        }
      }),
    );
    const elapsed = performance.now() - t0;
    const { cpuPercent } = stopCpu();
    const errors = Object.values(errorsByKind).reduce((a, b) => a + b, 0);
    return {
      kind: 'data-purchase',
      name: 'EVALSHA purchase + WAIT loop',
      connections: props.connections,
      durationMs: Math.round(elapsed),
      completed: recorder.count,
      throughput: recorder.count / (elapsed / 1000),
      latencyMs: summarizeLatencies(recorder.values()),
      ok: created,
      counted: {},
      errorsByStatus: errorsByKind,
      transportErrors: 0,
      timeouts: 0,
      errors,
      cpuPercent,
    };
  } finally {
    for (const c of clients) c.disconnect();
  }
}
