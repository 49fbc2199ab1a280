/**
 * The shape of a benchmark run: what each step measured, the limits it is compared with, and the
 * machine it ran on. `results/bench-<time>.json` holds one `BenchReport`.
 */
import type { LatencySummary } from './stats';

/** The HTTP scenarios, all driven through nginx. */
export const SCENARIOS = ['purchase', 'product-read', 'product-list', 'user-create'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/**
 * What a step measured:
 * - `http`: a scenario through nginx → API → Redis;
 * - `proxy-limit`: nginx answering a static response itself (same server block, same access log);
 * - `api-floor`: `GET /healthz` through nginx to the API instances — no Redis, no request log line: what
 *   nginx + Node's HTTP server + Express cost per request, the ceiling of any API request on this machine;
 * - `data-script`: redis-benchmark running the purchase Lua script (EVALSHA) against the master;
 * - `data-purchase`: a client loop running what one purchase sends to the master (EVALSHA + WAIT).
 */
export type StepKind = 'http' | 'proxy-limit' | 'api-floor' | 'data-script' | 'data-purchase';

/** The processes whose CPU use each step reports. */
export const CPU_ROLES = ['nginx', 'api-0', 'api-1', 'redis-master', 'replicas', 'loadgen'] as const;
export type CpuRole = (typeof CPU_ROLES)[number] | (string & {});

export interface StepResult {
  readonly kind: StepKind;
  /** Scenario name, or the limit's name. */
  readonly name: string;
  readonly connections: number;
  /** Length of the measured window (after the warm-up). */
  readonly durationMs: number;
  /** Responses (or Redis replies) completed in the window, whatever their status. */
  readonly completed: number;
  /** Completed per second. */
  readonly throughput: number;
  /** Latency of every completed request, milliseconds (redis-benchmark: its own p50/p99, no p99.9). */
  readonly latencyMs: LatencySummary;
  /** Completed with an expected status (2xx of the scenario). */
  readonly ok: number;
  /** Statuses counted apart that are not errors (a purchase refused for lack of stock: 409). */
  readonly counted: Readonly<Record<string, number>>;
  /** Unexpected statuses, by status. */
  readonly errorsByStatus: Readonly<Record<string, number>>;
  readonly transportErrors: number;
  readonly timeouts: number;
  /** Unexpected statuses + transport errors + timeouts. */
  readonly errors: number;
  /** Percent of one core used during the window, per process role (null: not measured / not running). */
  readonly cpuPercent: Readonly<Record<string, number | null>>;
  /** Read/write system calls of the API instances during the window, per instance (HTTP steps). */
  readonly syscalls?: Readonly<Record<string, { readonly reads: number; readonly writes: number }>>;
  /**
   * Forks of the Redis nodes that ran during the step, warm-up included (all nodes; INFO `total_forks` and the
   * ones in progress at its start): RDB snapshots and AOF rewrites (and a master's snapshot for a replica's full
   * sync), each a child copying the data set on CPU the step shares. A step with forks is a step with less CPU
   * for the stack (docs/performance.md). null: not counted (a node did not answer).
   */
  readonly redisForks?: number | null;
  /** The measured window on CLOCK_MONOTONIC in µs (to cut the API instances' CPU profiles to it). */
  readonly windowUs?: readonly [number, number];
}

/** A step compared with the limits measured at the same concurrency. */
export interface RatedStep extends StepResult {
  readonly ratios: {
    /** throughput / (redis-benchmark purchase script at the same concurrency) */
    readonly dataScript: number | null;
    /** throughput / (EVALSHA + WAIT client loop at the same concurrency) */
    readonly dataPurchase: number | null;
    /** throughput / (nginx static response at the same concurrency) */
    readonly proxy: number | null;
    /** throughput / (GET /healthz through nginx at the same concurrency) */
    readonly apiFloor: number | null;
  };
}

export interface MachineInfo {
  readonly cpuModel: string;
  /** CPUs of the machine. */
  readonly cores: number;
  /**
   * CPUs the run was allowed to use (its CPU affinity, inherited by every process it started: the stack and the
   * load generators): `--cpus`, or whatever the run was started with. Fewer than `cores` under `--cpus`.
   */
  readonly coresUsed: number;
  /** Those CPUs, as the kernel lists them (`Cpus_allowed_list`, e.g. `0-1`). */
  readonly cpuList: string;
  readonly memoryBytes: number;
  readonly nodeVersion: string;
  readonly platform: string;
  readonly kernel: string;
  /** Versions of the servers under test (first line of `--version`). */
  readonly programs: Readonly<Record<string, string>>;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  readonly loadAverageAtStart: number;
}

export interface TargetCheck {
  readonly name: string;
  readonly value: number | null;
  /** e.g. '>= 0.1', '< 15', '== 0' */
  readonly requirement: string;
  readonly pass: boolean;
}

export interface BenchReport {
  readonly version: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly mode: 'quick' | 'full';
  /** Durations, concurrencies, stack overrides: everything needed to rerun it. */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly machine: MachineInfo;
  /** 1-minute load average when the run ended (compare with machine.loadAverageAtStart). */
  readonly loadAverageAtEnd: number;
  /** Wall time of the whole run, start-up and tear-down included. */
  readonly elapsedS: number;
  readonly limits: readonly StepResult[];
  readonly steps: readonly RatedStep[];
  readonly targets: readonly TargetCheck[];
}
