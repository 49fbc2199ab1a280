import { classifyOutcomes, LatencyRecorder, percentile, ratio, summarizeLatencies } from '../../../scripts/bench/stats';

describe('percentile (nearest rank)', () => {
  const oneToHundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);

  it('picks the smallest value with at least p % of samples at or below it', () => {
    expect(percentile(oneToHundred, 50)).toBe(50);
    expect(percentile(oneToHundred, 99)).toBe(99);
    expect(percentile(oneToHundred, 100)).toBe(100);
    expect(percentile(oneToHundred, 0.5)).toBe(1);
  });

  it('does not round 99.9 % of 1000 samples up to the maximum (floating point)', () => {
    const thousand = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(percentile(thousand, 99.9)).toBe(999);
  });

  it('is null without samples and rejects percentiles outside (0, 100]', () => {
    expect(percentile([], 50)).toBeNull();
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });
});

describe('summarizeLatencies', () => {
  it('sorts a copy and reports p50, p99, p99.9, mean and max', () => {
    const samples = [5, 1, 4, 2, 3];
    const s = summarizeLatencies(samples);
    expect(s).toEqual({ count: 5, mean: 3, p50: 3, p99: 5, p999: 5, max: 5 });
    expect(samples).toEqual([5, 1, 4, 2, 3]);
  });

  it('shows one slow outlier in p99.9 but not in p50/p99 of 1000 samples', () => {
    const samples = Array.from({ length: 1000 }, () => 1);
    samples[500] = 250;
    const s = summarizeLatencies(samples);
    expect([s.p50, s.p99, s.p999, s.max]).toEqual([1, 1, 1, 250]);
    samples[501] = 250;
    expect(summarizeLatencies(samples).p999).toBe(250);
  });

  it('is all null for no samples', () => {
    expect(summarizeLatencies([])).toEqual({ count: 0, mean: null, p50: null, p99: null, p999: null, max: null });
  });
});

describe('ratio', () => {
  it('divides by a positive limit, else null', () => {
    expect(ratio(250, 1000)).toBe(0.25);
    expect(ratio(250, 0)).toBeNull();
    expect(ratio(250, null)).toBeNull();
    expect(ratio(null, 1000)).toBeNull();
    expect(ratio(Number.NaN, 1000)).toBeNull();
  });
});

describe('LatencyRecorder', () => {
  it('keeps at most capacity samples and counts the rest as dropped', () => {
    const r = new LatencyRecorder(3);
    for (const v of [1, 2, 3, 4, 5]) r.add(v);
    expect(Array.from(r.values())).toEqual([1, 2, 3]);
    expect(r.count).toBe(3);
    expect(r.dropped).toBe(2);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new LatencyRecorder(0)).toThrow(RangeError);
    expect(() => new LatencyRecorder(1.5)).toThrow(RangeError);
  });
});

describe('classifyOutcomes', () => {
  it('splits expected, counted-apart and error statuses, and adds transport errors and timeouts', () => {
    const c = classifyOutcomes({ byStatus: { '201': 90, '409': 5, '503': 3, '429': 1 }, transportErrors: 2, timeouts: 1 }, [201], [409]);
    expect(c).toEqual({ ok: 90, counted: { '409': 5 }, errorsByStatus: { '503': 3, '429': 1 }, errors: 7 });
  });

  it('counts a 409 as an error when it is not declared apart', () => {
    expect(classifyOutcomes({ byStatus: { '409': 2 }, transportErrors: 0, timeouts: 0 }, [201]).errors).toBe(2);
  });
});
