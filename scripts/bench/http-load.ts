/**
 * One load step over HTTP with autocannon: a warm-up (discarded), then the measured window, with every
 * response's latency, status counts and the CPU use of the processes under test.
 */
import autocannon from 'autocannon';
import type { CpuMeter } from './cpu';
import type { StepKind, StepResult } from './model';
import { classifyOutcomes, LatencyRecorder, summarizeLatencies } from './stats';

export interface HttpRequestSpec {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: string;
}

export interface HttpStepProps {
  readonly kind: StepKind;
  readonly name: string;
  /** Base URL, e.g. the gateway's `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly connections: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Headers of every request (authorization, content type). */
  readonly headers: Readonly<Record<string, string>>;
  /** The next request to send; called once per request (unique emails, rotating ids). */
  readonly next: () => HttpRequestSpec;
  /** Statuses that count as success. */
  readonly expected: readonly number[];
  /** Statuses reported apart, not as errors (e.g. 409 insufficient stock). @default [] */
  readonly counted?: readonly number[];
  /** Latency samples kept at most (memory bound). */
  readonly maxSamples: number;
  /** Seconds before a request counts as a timeout. @default 10 */
  readonly timeoutS?: number;
}

function runOnce(props: HttpStepProps, durationMs: number, onResponse?: (status: number, ms: number) => void, onError?: (err: Error) => void) {
  const instance = autocannon({
    url: props.url,
    connections: props.connections,
    duration: durationMs / 1000,
    timeout: props.timeoutS ?? 10,
    headers: { ...props.headers },
    requests: [
      {
        setupRequest: (req) => {
          const r = props.next();
          return { ...req, method: r.method, path: r.path, ...(r.body !== undefined ? { body: r.body } : {}) };
        },
      },
    ],
  });
  if (onResponse) {
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => onResponse(statusCode, responseTime));
  }
  if (onError) instance.on('reqError', onError);
  // Bounded in time even if autocannon's own timer misbehaves: stop it a while after its duration.
  const guard = setTimeout(() => instance.stop(), durationMs + 15_000);
  return Promise.resolve(instance).finally(() => clearTimeout(guard));
}

/** CLOCK_MONOTONIC in µs: the clock V8 stamps CPU-profile samples with. */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export async function runHttpStep(props: HttpStepProps, cpu: CpuMeter): Promise<StepResult> {
  if (props.warmupMs > 0) await runOnce(props, props.warmupMs);
  const recorder = new LatencyRecorder(props.maxSamples);
  const byStatus: Record<string, number> = {};
  let transportErrors = 0;
  let timeouts = 0;
  const stopCpu = cpu.start();
  const t0 = performance.now();
  const w0 = monotonicUs();
  await runOnce(
    props,
    props.durationMs,
    (status, ms) => {
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      recorder.add(ms);
    },
    (err) => {
      if (/timed out/.test(err.message)) timeouts += 1;
      else transportErrors += 1;
    },
  );
  const elapsed = performance.now() - t0;
  const w1 = monotonicUs();
  const usage = stopCpu();
  const completed = Object.values(byStatus).reduce((a, b) => a + b, 0);
  const outcome = classifyOutcomes({ byStatus, transportErrors, timeouts }, props.expected, props.counted ?? []);
  return {
    kind: props.kind,
    name: props.name,
    connections: props.connections,
    durationMs: Math.round(elapsed),
    completed,
    throughput: completed / (elapsed / 1000),
    latencyMs: summarizeLatencies(recorder.values()),
    ok: outcome.ok,
    counted: outcome.counted,
    errorsByStatus: outcome.errorsByStatus,
    transportErrors,
    timeouts,
    errors: outcome.errors,
    cpuPercent: usage.cpuPercent,
    syscalls: usage.syscalls,
    ...(recorder.dropped > 0 ? { droppedSamples: recorder.dropped } : {}),
    windowUs: [w0, w1],
  };
}
