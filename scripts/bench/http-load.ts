/**
 * One load step over HTTP with wrk (scripts/bench/wrk.ts): a warm-up (discarded), then the measured window,
 * with every response's latency, status counts and the CPU use of the processes under test.
 */
import type { CpuMeter } from './cpu';
import type { StepKind, StepResult } from './model';
import { classifyOutcomes } from './stats';
import { runWrk, type HttpRequestSpec } from './wrk';

export interface HttpStepProps {
  readonly kind: StepKind;
  readonly name: string;
  /** Base URL, e.g. the gateway's `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly connections: number;
  readonly warmupMs: number;
  /** The measured window (wrk runs whole seconds: rounded up). */
  readonly durationMs: number;
  /** Headers of every request (authorization, content type). */
  readonly headers: Readonly<Record<string, string>>;
  /** The requests, sent in turn over and over (`{seq}` in a body: a number unique to this step). */
  readonly requests: readonly HttpRequestSpec[];
  /** Statuses that count as success. */
  readonly expected: readonly number[];
  /** Statuses reported apart, not as errors (e.g. 409 insufficient stock). @default [] */
  readonly counted?: readonly number[];
  /** Seconds before a request counts as a timeout. @default 10 */
  readonly timeoutS?: number;
}

/** CLOCK_MONOTONIC in µs: the clock V8 stamps CPU-profile samples with. */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

let stepCounter = 0;

export async function runHttpStep(props: HttpStepProps, cpu: CpuMeter): Promise<StepResult> {
  stepCounter += 1;
  const run = (durationMs: number, phase: string) =>
    runWrk({
      url: props.url, connections: props.connections, durationMs, timeoutS: props.timeoutS ?? 10,
      requests: props.requests, headers: props.headers, seqPrefix: `${process.pid}s${stepCounter}${phase}`,
    });
  if (props.warmupMs > 0) await run(props.warmupMs, 'w');
  const stopCpu = cpu.start();
  const w0 = monotonicUs();
  const report = await run(props.durationMs, 'm');
  const w1 = monotonicUs();
  const usage = stopCpu();
  const outcome = classifyOutcomes(
    { byStatus: report.byStatus, transportErrors: report.transportErrors, timeouts: report.timeouts },
    props.expected,
    props.counted ?? [],
  );
  const completed = report.requests;
  return {
    kind: props.kind,
    name: props.name,
    connections: props.connections,
    durationMs: Math.round(report.durationUs / 1000),
    completed,
    throughput: completed / (report.durationUs / 1e6),
    latencyMs: { count: completed, ...report.latencyMs },
    ok: outcome.ok,
    counted: outcome.counted,
    errorsByStatus: outcome.errorsByStatus,
    transportErrors: report.transportErrors,
    timeouts: report.timeouts,
    errors: outcome.errors,
    cpuPercent: usage.cpuPercent,
    syscalls: usage.syscalls,
    windowUs: [w0, w1],
  };
}
