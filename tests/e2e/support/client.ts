/**
 * What the scenarios do to the deployed stack: a store client (through nginx's published port on
 * 127.0.0.1, as a customer would), a purchase that the client retries with its Idempotency-Key, a
 * bounded request stream, and readers of each API instance's and Prometheus' HTTP endpoints (on the
 * containers' addresses on the stack's own network).
 */
import { randomUUID } from 'node:crypto';
import { DEFAULT_SETTINGS } from '../../../config';
import type { E2EStack, HttpResult } from './stack';

export interface Product {
  readonly id: string;
  readonly stock: number;
  readonly priceCents: number;
}

export interface Purchase {
  readonly id: string;
  readonly userId: string;
  readonly productId: string;
  readonly quantity: number;
  readonly totalCents: number;
}

function expectStatus(result: HttpResult, status: number, what: string): void {
  if (result.status !== status) {
    throw new Error(`${what}: expected ${status}, got ${result.status} ${JSON.stringify(result.body)}`);
  }
}

export async function createUser(stack: E2EStack, label: string): Promise<string> {
  const suffix = randomUUID().slice(0, 8);
  const result = await stack.api('POST', '/v1/users', { name: `${label} ${suffix}`, email: `${label}-${suffix}@e2e.example` });
  expectStatus(result, 201, `creating user ${label}`);
  return (result.body as { id: string }).id;
}

export async function createProduct(stack: E2EStack, name: string, stock: number, priceCents = 199): Promise<Product> {
  const result = await stack.api('POST', '/v1/products', { name, priceCents, stock });
  expectStatus(result, 201, `creating product ${name}`);
  return result.body as Product;
}

export async function getProduct(stack: E2EStack, id: string): Promise<Product> {
  const result = await stack.api('GET', `/v1/products/${id}`);
  expectStatus(result, 200, `reading product ${id}`);
  return result.body as Product;
}

/** Every item of a list endpoint, following `nextCursor` (bounded to 100 pages). */
export async function listAll<T>(stack: E2EStack, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page += 1) {
    const separator = path.includes('?') ? '&' : '?';
    const result = await stack.api('GET', `${path}${separator}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expectStatus(result, 200, `listing ${path}`);
    const body = result.body as { items: T[]; nextCursor: string | null };
    items.push(...body.items);
    cursor = body.nextCursor;
    if (!cursor) return items;
  }
  throw new Error(`listing ${path}: more than 100 pages`);
}

/** Statuses a client retries with the same Idempotency-Key: the request may not have been served. */
function retryable(status: number): boolean {
  return status === 500 || status === 502 || status === 503 || status === 504;
}

export interface PurchaseOutcome {
  readonly key: string;
  /** The final answer's status (201, 409…), or 0 when the deadline passed without an answer. */
  readonly status: number;
  readonly purchase?: Purchase;
  readonly problemType?: string;
  readonly attempts: number;
  /** When the final answer arrived (ms since the epoch). */
  readonly answeredAt: number;
}

/**
 * A purchase as a careful client makes it: one Idempotency-Key, retried on no answer or a 5xx until
 * a final answer (201, 409, 404…) or the deadline; every attempt carries the same key and body.
 */
export async function purchaseWithRetries(
  stack: E2EStack,
  body: { userId: string; productId: string; quantity: number },
  options: { readonly deadlineMs: number; readonly key?: string; readonly requestTimeoutMs?: number },
): Promise<PurchaseOutcome> {
  const key = options.key ?? randomUUID();
  const deadline = Date.now() + options.deadlineMs;
  let attempts = 0;
  while (Date.now() < deadline && attempts < 200) {
    attempts += 1;
    let result: HttpResult | undefined;
    try {
      const timeoutMs = Math.max(1, Math.min(options.requestTimeoutMs ?? 20_000, deadline - Date.now()));
      result = await stack.api('POST', '/v1/purchases', body, { 'idempotency-key': key }, timeoutMs);
    } catch {
      result = undefined; // no answer (connection reset, timeout): the purchase may or may not exist
    }
    if (result && !retryable(result.status)) {
      const problemType = result.status >= 400 ? String((result.body as { type?: string } | undefined)?.type ?? '') : undefined;
      return {
        key,
        status: result.status,
        purchase: result.status === 201 ? (result.body as Purchase) : undefined,
        problemType,
        attempts,
        answeredAt: Date.now(),
      };
    }
    await sleep(150);
  }
  return { key, status: 0, attempts, answeredAt: Date.now() };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `step` in `workers` loops until `stop()` says so, `maxSteps` steps were taken or `maxMs`
 * passed, pausing `pauseMs` between steps of one loop. Resolves with every step's result.
 */
export async function boundedStream<T>(options: {
  readonly workers: number;
  readonly maxSteps: number;
  readonly maxMs: number;
  readonly pauseMs: number;
  readonly stop: () => boolean;
  readonly step: (index: number) => Promise<T>;
}): Promise<T[]> {
  const results: T[] = [];
  const deadline = Date.now() + options.maxMs;
  let next = 0;
  const loop = async (): Promise<void> => {
    while (!options.stop() && Date.now() < deadline && next < options.maxSteps) {
      const index = next++;
      results.push(await options.step(index));
      await sleep(options.pauseMs);
    }
  };
  await Promise.all(Array.from({ length: options.workers }, loop));
  return results;
}

/** GET on a container of the stack network (its fixed address), e.g. an API instance's /metrics. */
export async function getFromContainer(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, text: await response.text() };
}

/** Sum of a counter's samples in Prometheus text, optionally only those whose labels match. */
export function counterTotal(metricsText: string, name: string, labelFilter?: RegExp): number {
  let total = 0;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels = line.slice(name.length, line.lastIndexOf(' '));
    if (labelFilter && !labelFilter.test(labels)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Requests an API instance has answered (its own http_requests_total), read on its address. */
export async function requestsServed(stack: E2EStack, instance: string, labelFilter?: RegExp): Promise<number> {
  const port = apiPort(stack, instance);
  const { status, text } = await getFromContainer(`http://${stack.address(instance)}:${port}/metrics`);
  if (status !== 200) throw new Error(`${instance} /metrics answered ${status}`);
  return counterTotal(text, 'http_requests_total', labelFilter);
}

/** The port an API instance listens on (PORT in its recorded environment). */
export function apiPort(stack: E2EStack, instance: string): number {
  const envs = (stack.resource(instance).inputs.envs as string[] | undefined) ?? [];
  const port = envs.find((e) => e.startsWith('PORT='))?.slice('PORT='.length);
  return port ? Number(port) : 8080;
}

export interface PrometheusSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** Prometheus' HTTP API on its container address. */
export async function prometheusApi<T>(stack: E2EStack, path: string): Promise<T> {
  const port = DEFAULT_SETTINGS.monitoring.prometheusPort; // the e2e config keeps the model's port
  const { status, text } = await getFromContainer(`http://${stack.address('prometheus')}:${port}${path}`);
  const body = JSON.parse(text) as { status: string; data: T; error?: string };
  if (status !== 200 || body.status !== 'success') throw new Error(`Prometheus ${path}: ${status} ${body.error ?? text.slice(0, 200)}`);
  return body.data;
}

export async function prometheusQuery(stack: E2EStack, expr: string): Promise<PrometheusSample[]> {
  const data = await prometheusApi<{ resultType: string; result: PrometheusSample[] | [number, string] }>(
    stack,
    `/api/v1/query?query=${encodeURIComponent(expr)}`,
  );
  if (data.resultType === 'scalar' || data.resultType === 'string') return [{ metric: {}, value: data.result as [number, string] }];
  return data.result as PrometheusSample[];
}

/** A range query: the series that have at least one sample between `start` and `end` (seconds). */
export async function prometheusQueryRange(
  stack: E2EStack,
  expr: string,
  start: number,
  end: number,
  stepSeconds: number,
): Promise<{ metric: Record<string, string>; values: [number, string][] }[]> {
  const query = `query=${encodeURIComponent(expr)}&start=${start.toFixed(3)}&end=${end.toFixed(3)}&step=${stepSeconds}`;
  const data = await prometheusApi<{ result: { metric: Record<string, string>; values: [number, string][] }[] }>(
    stack,
    `/api/v1/query_range?${query}`,
  );
  return data.result.filter((series) => series.values.length > 0);
}

export interface PrometheusAlert {
  readonly labels: Record<string, string>;
  readonly state: 'pending' | 'firing';
}

export async function prometheusAlerts(stack: E2EStack): Promise<PrometheusAlert[]> {
  return (await prometheusApi<{ alerts: PrometheusAlert[] }>(stack, '/api/v1/alerts')).alerts;
}
