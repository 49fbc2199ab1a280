import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Purchase outcomes counted by evergreen_purchases_total (names fixed in the contract with monitoring). */
export type PurchaseOutcome = 'created' | 'replayed' | 'insufficient_stock' | 'not_found' | 'rejected' | 'error';

/**
 * Every metric the API exports, on its own registry (so tests can build several apps in one process).
 * Names and labels are a contract with the monitoring rules and dashboards: change them only together.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, Express route template (or "unmatched") and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request arrival to the end of the response, by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly httpInFlight = new Gauge({
    name: 'http_requests_in_flight',
    help: 'Requests being handled now (arrived, response not yet ended), probes and scrapes left out: a saturation signal.',
    registers: [this.registry],
  });
  readonly purchases = new Counter({
    name: 'evergreen_purchases_total',
    help: 'POST /v1/purchases outcomes: created | replayed | insufficient_stock | not_found | rejected (400/422) | error (503/500).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly redisErrors = new Counter({
    name: 'evergreen_redis_errors_total',
    help: 'Redis failures met by requests, by kind: timeout | connection | readonly | noreplicas | not_durable | loading | other (one WAIT shared by several writes counts once per write).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly redisFailovers = new Counter({
    name: 'evergreen_redis_failovers_total',
    help: 'Times this instance found the Redis master at a different address than before (master changes seen).',
    registers: [this.registry],
  });
  readonly masterWritable = new Gauge({
    name: 'evergreen_redis_master_writable',
    help: '1 when the last probe found the Redis master connected and in the master role (what /readyz reports), else 0.',
    registers: [this.registry],
  });
  readonly redisReads = new Counter({
    name: 'evergreen_redis_reads_total',
    help: 'Reads by where they were served: replica (passed the read-your-writes fence) or master (fallback).',
    labelNames: ['target'] as const,
    registers: [this.registry],
  });

  constructor(withDefaults = true) {
    if (withDefaults) collectDefaultMetrics({ register: this.registry });
    for (const outcome of ['created', 'replayed', 'insufficient_stock', 'not_found', 'rejected', 'error']) {
      this.purchases.labels(outcome).inc(0);
    }
    this.masterWritable.set(0);
  }
}
