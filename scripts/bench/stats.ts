/**
 * Latency statistics and ratios of the benchmark (pure). Latencies are milliseconds as floats (HTTP steps:
 * from wrk's microsecond histogram; the data-tier loop: every reply's own time).
 */

/** Percentiles reported for every step. */
export interface LatencySummary {
  /** Number of samples. */
  readonly count: number;
  readonly mean: number | null;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly p999: number | null;
  readonly max: number | null;
}

/**
 * The `p`-th percentile (0 < p ≤ 100) of ascending `sorted` values by the nearest-rank method: the smallest
 * value such that at least p % of the samples are ≤ it. Null when there is no sample.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const n = sorted.length;
  if (n === 0) return null;
  // Round first: 99.9 / 100 * 1000 is 999.0000000000001 in floating point, which must rank 999, not 1000.
  const rank = Math.ceil(Math.round((p / 100) * n * 1e6) / 1e6);
  return sorted[Math.min(n, Math.max(1, rank)) - 1] ?? null;
}

/** p50 / p99 / p99.9 / mean / max of unsorted samples (the input is not modified). */
export function summarizeLatencies(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: n,
    mean: n === 0 ? null : sum / n,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: n === 0 ? null : (sorted[n - 1] ?? null),
  };
}

/** `value / limit`, or null when either is unknown or the limit is not positive. */
export function ratio(value: number | null | undefined, limit: number | null | undefined): number | null {
  if (value === null || value === undefined || limit === null || limit === undefined) return null;
  if (!Number.isFinite(value) || !Number.isFinite(limit) || limit <= 0) return null;
  return value / limit;
}

/**
 * A fixed-capacity store of latency samples: a load step records every response's latency here without
 * growing memory past `capacity` (later samples are counted in `dropped`, and the step reports them).
 */
export class LatencyRecorder {
  private readonly buffer: Float64Array;
  private length = 0;
  /** Samples that did not fit. */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.buffer = new Float64Array(capacity);
  }

  add(ms: number): void {
    if (this.length < this.capacity) this.buffer[this.length++] = ms;
    else this.dropped += 1;
  }

  get count(): number {
    return this.length;
  }

  /** The recorded samples (a view, not a copy). */
  values(): Float64Array {
    return this.buffer.subarray(0, this.length);
  }
}

/** Counts of responses by HTTP status, plus transport errors, for one step. */
export interface OutcomeCounts {
  /** Responses by status code, e.g. { "201": 5120, "503": 2 }. */
  readonly byStatus: Readonly<Record<string, number>>;
  /** Requests that got no response (connection reset, refused...). */
  readonly transportErrors: number;
  /** Requests that got no response within the client timeout. */
  readonly timeouts: number;
}

/**
 * Error counts of a step: every response whose status is not in `expected` (by status), plus transport
 * errors and timeouts. `counted` statuses (e.g. 409 for a purchase that found no stock) are reported apart
 * and are not errors.
 */
export function classifyOutcomes(
  outcomes: OutcomeCounts,
  expected: readonly number[],
  counted: readonly number[] = [],
): { ok: number; counted: Record<string, number>; errorsByStatus: Record<string, number>; errors: number } {
  let ok = 0;
  let errors = outcomes.transportErrors + outcomes.timeouts;
  const countedOut: Record<string, number> = {};
  const errorsByStatus: Record<string, number> = {};
  for (const [status, n] of Object.entries(outcomes.byStatus)) {
    const code = Number(status);
    if (expected.includes(code)) ok += n;
    else if (counted.includes(code)) countedOut[status] = n;
    else {
      errorsByStatus[status] = n;
      errors += n;
    }
  }
  return { ok, counted: countedOut, errorsByStatus, errors };
}
