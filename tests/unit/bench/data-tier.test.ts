import { IDEMPOTENCY_TTL_SECONDS, purchaseFingerprint, purchaseScriptArgs } from '../../../api/src/purchases/store';
import { PURCHASE } from '../../../api/src/redis/scripts';
import { apiWaitDefaults, parseRedisBenchmarkCsv, PURCHASE_NUMBER_OF_KEYS } from '../../../scripts/bench/data-tier';

describe('parseRedisBenchmarkCsv', () => {
  const output = [
    'Warning: Using a password with \'-a\' or \'-u\' option on the command line interface may not be safe.',
    '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"',
    '"EVALSHA d8f2 5 purchase:pur_bench__rand_int__ ""quoted""","6715.92","0.799","0.056","0.183","4.119","8.207","63.839"',
  ].join('\n');

  it('reads the row after the header, skipping warnings, with quoted cells', () => {
    expect(parseRedisBenchmarkCsv(output)).toEqual([
      { test: 'EVALSHA d8f2 5 purchase:pur_bench__rand_int__ "quoted"', rps: 6715.92, avgMs: 0.799, minMs: 0.056, p50Ms: 0.183, p95Ms: 4.119, p99Ms: 8.207, maxMs: 63.839 },
    ]);
  });

  it('fails clearly without a header or with a non-number', () => {
    expect(() => parseRedisBenchmarkCsv('ERR wrong password')).toThrow(/no CSV header/);
    expect(() => parseRedisBenchmarkCsv(output.replace('"6715.92"', '"n/a"'))).toThrow(/column rps/);
  });
});

describe('purchaseScriptArgs (what the API and the data-tier limit send)', () => {
  const body = { userId: 'usr_U', productId: 'prd_P', quantity: 1 };
  const now = new Date('2026-01-01T00:00:00.000Z');

  it("matches the script's documented KEYS/ARGV: 5 keys, then 9 arguments; no fingerprint without an Idempotency-Key", () => {
    const args = purchaseScriptArgs('pur_X', body, undefined, now);
    expect(args.slice(0, PURCHASE_NUMBER_OF_KEYS)).toEqual(['purchase:pur_X', 'product:prd_P', 'user:usr_U', 'user:usr_U:purchases', 'purchase:pur_X']);
    expect(args.slice(PURCHASE_NUMBER_OF_KEYS)).toEqual([
      'pur_X', 'usr_U', 'prd_P', '1', '2026-01-01T00:00:00.000Z', '0', '', String(IDEMPOTENCY_TTL_SECONDS), '',
    ]);
    // the script reads KEYS[1..5] and ARGV[1..9], nothing beyond
    expect(Math.max(...[...PURCHASE.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1])))).toBe(PURCHASE_NUMBER_OF_KEYS);
    expect(Math.max(...[...PURCHASE.matchAll(/ARGV\[(\d+)\]/g)].map((m) => Number(m[1])))).toBe(args.length - PURCHASE_NUMBER_OF_KEYS);
  });

  it('with an Idempotency-Key: its record key, the flag and the body fingerprint', () => {
    const args = purchaseScriptArgs('pur_X', body, 'k-1', now);
    expect(args[4]).toBe('idempotency:purchase:k-1');
    expect(args.slice(PURCHASE_NUMBER_OF_KEYS + 5, PURCHASE_NUMBER_OF_KEYS + 7)).toEqual(['1', purchaseFingerprint(body)]);
  });

  it('with an outcome decided before Redis (an id not of its kind): the outcome, and no key built from the ids', () => {
    const malformed = { userId: 'usr_U:purchases', productId: 'prd_P', quantity: 1 };
    const args = purchaseScriptArgs('pur_X', malformed, 'k-1', now, 'user_not_found');
    expect(args.slice(0, PURCHASE_NUMBER_OF_KEYS)).toEqual(['purchase:pur_X', 'purchase:pur_X', 'purchase:pur_X', 'purchase:pur_X', 'idempotency:purchase:k-1']);
    expect(args.at(-1)).toBe('user_not_found');
  });

  it("takes the WAIT the API sends from the API's own configuration defaults", () => {
    expect(apiWaitDefaults()).toEqual({ waitReplicas: 1, waitTimeoutMs: 1000 });
  });
});
