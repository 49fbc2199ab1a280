import express from 'express';
import Redis from 'ioredis';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '../../../api/src/app';
import { observeRequests } from '../../../api/src/http/observability';
import { ApiMetrics } from '../../../api/src/ops/metrics';
import { RedisGateway } from '../../../api/src/redis/gateway';

// The real app over a Redis client that never connects: these rules are decided before any data access,
// so none of these requests may reach Redis (enableOfflineQueue: false would turn an attempt into a 503).
const master = new Redis({ lazyConnect: true, enableOfflineQueue: false });
const metrics = new ApiMetrics(false);
const logger = pino({ level: 'silent' });
const redis = new RedisGateway(master, undefined, metrics, logger, { waitReplicas: 1, waitTimeoutMs: 100 });
const app = createApp({ config: { apiTokens: ['t0ken', 'other-token'] }, redis, metrics, logger });
const auth = { Authorization: 'Bearer t0ken' };

afterAll(() => master.disconnect());

function expectProblem(res: request.Response, status: number, slug: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, type: expect.stringMatching(new RegExp(`/${slug}$`)), title: expect.any(String) });
  expect(res.headers['x-request-id']).toBeTruthy();
}

describe('HTTP rules decided before data access', () => {
  it('401 with WWW-Authenticate: Bearer without a valid token, on every /v1 route', async () => {
    for (const headers of [{}, { Authorization: 'Bearer wrong' }, { Authorization: 'Basic dDBrZW4=' }, { Authorization: 'Bearer' }]) {
      const res = await request(app).get('/v1/users').set(headers);
      expectProblem(res, 401, 'unauthorized');
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    expectProblem(await request(app).post('/v1/purchases').send({}), 401, 'unauthorized');
    expectProblem(await request(app).get('/v1/no-such-thing'), 401, 'unauthorized');
  });

  it('415 for a POST/PATCH body that is not JSON', async () => {
    expectProblem(await request(app).post('/v1/users').set(auth).set('Content-Type', 'text/plain').send('name=x'), 415, 'unsupported-media-type');
    expectProblem(
      await request(app).patch('/v1/products/prd_01ARZ3NDEKTSV4RRFFQ69G5FAV').set(auth).type('form').send({ name: 'x' }),
      415,
      'unsupported-media-type',
    );
    expectProblem(await request(app).post('/v1/purchases').set(auth), 415, 'unsupported-media-type');
  });

  it('400 for malformed JSON, 400 with errors for invalid bodies', async () => {
    expectProblem(await request(app).post('/v1/users').set(auth).set('Content-Type', 'application/json').send('{"name":'), 400, 'malformed-json');
    const res = await request(app).post('/v1/products').set(auth).send({ name: '', priceCents: -1, stock: 1.5 });
    expectProblem(res, 400, 'validation-failed');
    expect((res.body as { errors: { path: string }[] }).errors.map((e) => e.path).sort()).toEqual(['name', 'priceCents', 'stock']);
    const badKey = await request(app).post('/v1/purchases').set(auth).set('Idempotency-Key', 'k'.repeat(256)).send({ userId: 'u', productId: 'p', quantity: 1 });
    expectProblem(badKey, 400, 'validation-failed');
    expectProblem(await request(app).get('/v1/users?limit=0').set(auth), 400, 'validation-failed');
    expectProblem(await request(app).get('/v1/products?cursor=%%%').set(auth), 400, 'validation-failed');
  });

  it('never a 5xx for hostile input: broken percent-encoding, deep nesting, repeated query parameters', async () => {
    const broken = await request(app).get('/v1/users/%E0%A4%A').set(auth);
    expect(broken.status).toBeGreaterThanOrEqual(400);
    expect(broken.status).toBeLessThan(500);
    expect(broken.headers['content-type']).toMatch(/^application\/problem\+json/);
    const deep = '['.repeat(20000) + ']'.repeat(20000);
    const nested = await request(app).post('/v1/products').set(auth).set('Content-Type', 'application/json').send(deep);
    expect(nested.status).toBeGreaterThanOrEqual(400);
    expect(nested.status).toBeLessThan(500);
    expectProblem(await request(app).get('/v1/products?limit=5&limit=6').set(auth), 400, 'validation-failed');
    expectProblem(await request(app).post('/v1/users').set(auth).set('Content-Type', 'application/json; charset=latin1').send('{}'), 415, 'unsupported-media-type');
  });

  it('413 for a body over 64 KiB', async () => {
    const res = await request(app).post('/v1/users').set(auth).send({ name: 'x'.repeat(64 * 1024), email: 'a@b.co' });
    expectProblem(res, 413, 'payload-too-large');
  });

  it('404 for unknown routes and for ids that cannot exist', async () => {
    expectProblem(await request(app).get('/nope'), 404, 'not-found');
    expectProblem(await request(app).get('/v1/nope').set(auth), 404, 'not-found');
    expectProblem(await request(app).get('/v1/users/not-an-id').set(auth), 404, 'not-found');
    expectProblem(await request(app).delete('/v1/purchases/pur_01ARZ3NDEKTSV4RRFFQ69G5FAV').set(auth), 404, 'not-found');
    // an id whose percent-encoding does not decode names nothing either (the documented 404, not an undocumented 400)
    for (const path of ['/v1/users/%E0', '/v1/products/%E0%A4%A', '/v1/purchases/%ZZ']) {
      expectProblem(await request(app).get(path).set(auth), 404, 'not-found');
    }
  });

  it('keeps an incoming X-Request-Id and generates one otherwise', async () => {
    const kept = await request(app).get('/healthz').set('X-Request-Id', 'req-abc-123');
    expect(kept.headers['x-request-id']).toBe('req-abc-123');
    const generated = await request(app).get('/healthz');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const insane = await request(app).get('/healthz').set('X-Request-Id', 'x'.repeat(500));
    expect(insane.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('healthz 200, readyz 503 while the master is not reachable', async () => {
    expect((await request(app).get('/healthz')).status).toBe(200);
    expect((await request(app).get('/readyz')).status).toBe(503);
  });

  it('counts requests by route template in /metrics', async () => {
    await request(app).get('/v1/users/usr_01ARZ3NDEKTSV4RRFFQ69G5FAV/purchases?limit=0').set(auth);
    const text = (await request(app).get('/metrics')).text;
    expect(text).toContain('http_requests_total{method="GET",route="/v1/users/:id/purchases",status="400"}');
    expect(text).toContain('http_request_duration_seconds_bucket');
    expect(text).toMatch(/evergreen_purchases_total\{outcome="rejected"\} [1-9]/);
    expect(text).toContain('evergreen_redis_master_writable 0');
    // every request answered is out of the in-flight gauge again, and the scrape itself is not in it
    // (the count going up is seen in tests/integration/api/contract.test.ts, with requests held inside the API)
    expect(text).toMatch(/^http_requests_in_flight 0$/m);
  });
});

describe('HTTP metrics of a request whose client went away', () => {
  it('are counted as 499 with their duration, so the slowest requests stay in the latency and error figures', async () => {
    const counted = new ApiMetrics(false);
    const bare = express().use(observeRequests(pino({ level: 'silent' }), counted));
    let reached!: () => void;
    const inHandler = new Promise<void>((resolve) => (reached = resolve));
    let closed!: () => void;
    const serverSawClose = new Promise<void>((resolve) => (closed = resolve));
    bare.get('/v1/slow/:id', (req) => {
      req.socket.once('close', () => setImmediate(closed));
      reached(); // and never answers
    });
    const server = bare.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as { port: number };
      const client = new AbortController();
      const pending = fetch(`http://127.0.0.1:${port}/v1/slow/1`, { signal: client.signal }).catch(() => 'aborted');
      await inHandler;
      client.abort();
      expect(await pending).toBe('aborted');
      await serverSawClose;
    } finally {
      server.close();
    }
    const text = await counted.registry.metrics();
    expect(text).toContain('http_requests_total{method="GET",route="/v1/slow/:id",status="499"} 1');
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/v1\/slow\/:id",status="499"\} 1/);
  });
});

describe('request log', () => {
  function appLogging(): { app: ReturnType<typeof createApp>; lines: () => Record<string, unknown>[] } {
    const written: string[] = [];
    const sink = pino({ level: 'info' }, { write: (line: string) => void written.push(line) });
    const logged = createApp({ config: { apiTokens: ['t0ken'] }, redis, metrics: new ApiMetrics(false), logger: sink });
    return { app: logged, lines: () => written.map((l) => JSON.parse(l) as Record<string, unknown>) };
  }

  it('one line per request when its response ends: request id, method, url, status, time', async () => {
    const { app: logged, lines } = appLogging();
    await request(logged).get('/v1/users?limit=2').set('X-Request-Id', 'log-me-1');
    await request(logged).post('/v1/users').set({ Authorization: 'Bearer t0ken' }).send({ name: '' });
    expect(lines()).toEqual([
      expect.objectContaining({ level: 30, msg: 'request completed', req: { id: 'log-me-1', method: 'GET', url: '/v1/users?limit=2' }, res: { statusCode: 401 }, responseTime: expect.any(Number) }),
      expect.objectContaining({ level: 30, msg: 'request completed', req: { id: expect.stringMatching(/^[0-9a-f-]{36}$/), method: 'POST', url: '/v1/users' }, res: { statusCode: 400 } }),
    ]);
  });

  it('a 5xx at error level, also at LOG_LEVEL=warn; probes and scrapes not at all; 4xx not below info', async () => {
    const { app: logged, lines } = appLogging();
    await request(logged).get('/healthz');
    await request(logged).get('/readyz');
    await request(logged).get('/metrics');
    expect(lines()).toEqual([]);
    // a 5xx answer, from the middleware alone (the app's Redis client here must never try to connect)
    const written: string[] = [];
    const bare = express().use(observeRequests(pino({ level: 'info' }, { write: (l: string) => void written.push(l) }), new ApiMetrics(false)));
    bare.get('/boom', (_req, res) => void res.status(503).end());
    await request(bare).get('/boom');
    expect(written.map((l) => JSON.parse(l) as unknown)).toEqual([
      expect.objectContaining({ level: 50, msg: 'request errored', req: expect.objectContaining({ url: '/boom' }), res: { statusCode: 503 } }),
    ]);

    // at LOG_LEVEL=warn: the 4xx is not logged, the 5xx still is
    const quiet: string[] = [];
    const warnOnly = express().use(observeRequests(pino({ level: 'warn' }, { write: (l: string) => void quiet.push(l) }), new ApiMetrics(false)));
    warnOnly.get('/nope', (_req, res) => void res.status(404).end());
    warnOnly.get('/boom', (_req, res) => void res.status(503).end());
    await request(warnOnly).get('/nope');
    await request(warnOnly).get('/boom');
    expect(quiet.map((l) => JSON.parse(l) as unknown)).toEqual([expect.objectContaining({ level: 50, msg: 'request errored', res: { statusCode: 503 } })]);
  });
});

describe('/openapi.json', () => {
  it('is OpenAPI 3.1 describing exactly the contract paths and methods', async () => {
    const res = await request(app).get('/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toBe('3.1.0');
    const ops = Object.entries(doc.paths).flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`)).sort();
    expect(ops).toEqual(
      [
        'POST /v1/users', 'GET /v1/users', 'GET /v1/users/{id}', 'PATCH /v1/users/{id}', 'DELETE /v1/users/{id}',
        'GET /v1/users/{id}/purchases',
        'POST /v1/products', 'GET /v1/products', 'GET /v1/products/{id}', 'PATCH /v1/products/{id}', 'DELETE /v1/products/{id}',
        'POST /v1/purchases', 'GET /v1/purchases/{id}',
        'GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json',
      ].sort(),
    );
    for (const name of ['User', 'Product', 'Purchase', 'Problem', 'CreateUser', 'CreateProduct', 'CreatePurchase']) {
      expect(doc.components.schemas).toHaveProperty(name);
    }
    const purchase = doc.paths['/v1/purchases']!.post as { responses: Record<string, unknown> };
    expect(Object.keys(purchase.responses).sort()).toEqual(['201', '400', '401', '404', '409', '413', '415', '422', '503', 'default']);
  });

  it("every example satisfies its own property's constraints, and amounts that exceed 32 bits say int64 (client generators rely on both)", async () => {
    type Property = { type?: string; pattern?: string; minLength?: number; maxLength?: number; minimum?: number; maximum?: number; format?: string; example?: unknown };
    const doc = (await request(app).get('/openapi.json')).body as { components: { schemas: Record<string, { properties?: Record<string, Property> }> } };
    const checked: string[] = [];
    for (const [schema, { properties = {} }] of Object.entries(doc.components.schemas)) {
      for (const [name, p] of Object.entries(properties)) {
        const at = `${schema}.${name}`;
        // a pattern is a regex of the document's dialect: no flags written into it (zod-to-openapi wrote `…$/u`)
        if (p.pattern !== undefined) expect({ at, pattern: p.pattern }).not.toEqual({ at, pattern: expect.stringMatching(/\/[a-z]+$/) });
        if (p.example === undefined) continue;
        checked.push(at);
        if (typeof p.example === 'string') {
          if (p.pattern !== undefined) expect({ at, matches: new RegExp(p.pattern).test(p.example) }).toEqual({ at, matches: true });
          expect(p.example.length).toBeGreaterThanOrEqual(p.minLength ?? 0);
          expect(p.example.length).toBeLessThanOrEqual(p.maxLength ?? Infinity);
        } else if (typeof p.example === 'number') {
          expect(p.example).toBeGreaterThanOrEqual(p.minimum ?? -Infinity);
          expect(p.example).toBeLessThanOrEqual(p.maximum ?? Infinity);
        }
      }
    }
    expect(checked).toEqual(expect.arrayContaining(['CreateUser.name', 'CreateProduct.name', 'CreateProduct.priceCents']));
    for (const at of ['Product.priceCents', 'Product.stock', 'CreateProduct.priceCents', 'CreateProduct.stock', 'Purchase.unitPriceCents', 'Purchase.totalCents']) {
      const [schema, name] = at.split('.') as [string, string];
      expect({ at, format: doc.components.schemas[schema]?.properties?.[name]?.format }).toEqual({ at, format: 'int64' });
    }
  });

  it('declares the headers of the contract: Location on 201, WWW-Authenticate on 401, Retry-After on 503, X-Request-Id on every request and response', async () => {
    type Response = { headers?: Record<string, unknown> };
    type Operation = { parameters?: { $ref?: string; name?: string; in?: string }[]; responses: Record<string, Response> };
    const doc = (await request(app).get('/openapi.json')).body as {
      paths: Record<string, Record<string, Operation>>;
      components: { parameters: Record<string, { name: string; in: string }>; headers: Record<string, unknown> };
    };
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => ({ at: `${m.toUpperCase()} ${path}`, op })));
    const headersOf = (at: string, status: string) => Object.keys(operations.find((o) => o.at === at)?.op.responses[status]?.headers ?? {}).sort();
    expect(headersOf('POST /v1/users', '201')).toEqual(['Location', 'X-Request-Id']);
    expect(headersOf('POST /v1/products', '201')).toEqual(['Location', 'X-Request-Id']);
    expect(headersOf('POST /v1/purchases', '201')).toEqual(['Idempotent-Replayed', 'Location', 'X-Request-Id']);
    // a refusal under an Idempotency-Key is replayed as such, with the header
    expect(headersOf('POST /v1/purchases', '404')).toEqual(['Idempotent-Replayed', 'X-Request-Id']);
    expect(headersOf('POST /v1/purchases', '409')).toEqual(['Idempotent-Replayed', 'X-Request-Id']);
    // every other status (429 from the gateway, 500) is a problem too
    for (const { at, op } of operations.filter((o) => o.at.includes(' /v1/'))) expect({ at, default: op.responses.default !== undefined }).toEqual({ at, default: true });
    expect(headersOf('GET /v1/users', '401')).toEqual(['WWW-Authenticate', 'X-Request-Id']);
    expect(headersOf('POST /v1/purchases', '503')).toEqual(['Retry-After', 'X-Request-Id']);
    expect(doc.components.parameters.RequestId).toMatchObject({ name: 'X-Request-Id', in: 'header' });
    expect(doc.components.headers).toHaveProperty('RequestId');
    for (const { at, op } of operations) {
      expect({ at, parameter: op.parameters?.some((p) => p.$ref === '#/components/parameters/RequestId') }).toEqual({ at, parameter: true });
      for (const [status, response] of Object.entries(op.responses)) {
        expect({ at, status, header: response.headers?.['X-Request-Id'] }).toEqual({ at, status, header: { $ref: '#/components/headers/RequestId' } });
      }
    }
  });
});
