/**
 * The API contract (shared/docs/API.md) over HTTP, against the real loopback topology: Redis master + 2 replicas,
 * 3 Sentinels, 2 API instances built from build/ (`npm run build` first).
 */
import type Redis from 'ioredis';
import { startLoopbackTopology, type LoopbackTopology } from '../../support/loopback';
import { waitFor } from '../../support/wait';
import { ApiClient, adminRedis, clients, snapshot, uniqueEmail, type Json } from './client';

jest.setTimeout(120_000);

let topology: LoopbackTopology;
let a: ApiClient; // instance 0
let b: ApiClient; // instance 1
let redis: Redis;

beforeAll(async () => {
  topology = await startLoopbackTopology({ gateway: false });
  [a, b] = clients(topology) as [ApiClient, ApiClient];
  redis = await adminRedis(topology);
});

afterAll(async () => {
  await redis?.quit().catch(() => undefined);
  await topology?.stop();
});

const PROBLEM = /^application\/problem\+json/;

async function createUser(client: ApiClient = a, name = 'Ada'): Promise<Json> {
  const res = await client.post('/v1/users', { name, email: uniqueEmail() });
  expect(res.status).toBe(201);
  return res.body;
}

async function createProduct(stock: number, priceCents = 250, client: ApiClient = a): Promise<Json> {
  const res = await client.post('/v1/products', { name: 'Oak seedling', description: 'A young oak', priceCents, stock });
  expect(res.status).toBe(201);
  return res.body;
}

describe('authentication', () => {
  it('401 + WWW-Authenticate: Bearer on /v1 without a valid token; ops endpoints need none', async () => {
    for (const headers of [{}, { Authorization: 'Bearer not-a-token' }] as Record<string, string>[]) {
      const res = await a.get('/v1/products', { auth: false, headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(res.headers.get('content-type')).toMatch(PROBLEM);
    }
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      expect((await a.get(path, { auth: false })).status).toBe(200);
    }
  });
});

describe('users', () => {
  it('create, read from the other instance, patch, delete', async () => {
    const email = uniqueEmail();
    const created = await a.post('/v1/users', { name: 'Grace', email });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^usr_/),
      name: 'Grace',
      email,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updatedAt: created.body.createdAt,
    });
    const id = created.body.id as string;
    expect((await b.get(`/v1/users/${id}`)).body).toEqual(created.body);

    const patched = await b.patch(`/v1/users/${id}`, { name: 'Grace H.' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id, name: 'Grace H.', email, createdAt: created.body.createdAt });
    expect((await a.get(`/v1/users/${id}`)).body.name).toBe('Grace H.');

    expect((await a.delete(`/v1/users/${id}`)).status).toBe(204);
    const gone = await b.get(`/v1/users/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.headers.get('content-type')).toMatch(PROBLEM);
    expect((await b.delete(`/v1/users/${id}`)).status).toBe(404);
    expect((await a.patch(`/v1/users/${id}`, { name: 'x' })).status).toBe(404);
    // the email is free again
    expect((await a.post('/v1/users', { name: 'Grace again', email: email.toUpperCase() })).status).toBe(201);
  });

  it('email is unique case-insensitively, on create and on patch', async () => {
    const email = uniqueEmail();
    expect((await a.post('/v1/users', { name: 'One', email })).status).toBe(201);
    const dup = await b.post('/v1/users', { name: 'Two', email: email.toLowerCase() });
    expect(dup.status).toBe(409);
    expect(dup.headers.get('content-type')).toMatch(PROBLEM);
    const other = await createUser();
    expect((await a.patch(`/v1/users/${other.id}`, { email: email.toUpperCase() })).status).toBe(409);
    expect((await b.get(`/v1/users/${other.id}`)).body.email).toBe(other.email);
    // changing only the case of one's own email is fine
    const own = await a.patch(`/v1/users/${other.id}`, { email: (other.email as string).toLowerCase() });
    expect(own.status).toBe(200);
    expect(own.body.email).toBe((other.email as string).toLowerCase());
  });

  it('concurrent creates with the same email (any case) on both instances: exactly one wins', async () => {
    const email = uniqueEmail('race');
    const variants = [email, email.toLowerCase(), email.toUpperCase()];
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).post('/v1/users', { name: `racer ${i}`, email: variants[i % 3] })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, ...Array(11).fill(409)]);
    expect(await redis.exists(`user-email:${email.toLowerCase()}`)).toBe(1);
  });
});

describe('products', () => {
  it('create (description defaults to empty), get, list, patch, delete', async () => {
    const created = await a.post('/v1/products', { name: 'Birch', priceCents: 0, stock: 0 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Birch', description: '', priceCents: 0, stock: 0 });
    const id = created.body.id as string;
    expect((await b.get(`/v1/products/${id}`)).body).toEqual(created.body);
    const patched = await b.patch(`/v1/products/${id}`, { stock: 7, description: 'Silver birch' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id, name: 'Birch', description: 'Silver birch', stock: 7, priceCents: 0 });
    expect((await a.get(`/v1/products/${id}`)).body.stock).toBe(7);
    expect((await a.delete(`/v1/products/${id}`)).status).toBe(204);
    expect((await b.get(`/v1/products/${id}`)).status).toBe(404);
    expect((await b.patch(`/v1/products/${id}`, { stock: 1 })).status).toBe(404);
    expect(await redis.zscore('products', id)).toBeNull();
  });
});

describe('bad input never writes and never yields a 5xx', () => {
  it('a battery of bad requests leaves Redis byte-for-byte unchanged', async () => {
    const user = await createUser();
    const product = await createProduct(6);
    // one purchase: the user's history (user:<id>:purchases) exists, a key a crafted user id could name
    expect((await a.post('/v1/purchases', { userId: user.id, productId: product.id, quantity: 1 })).status).toBe(201);
    const before = await snapshot(redis);
    const big = 'x'.repeat(70 * 1024);
    const cases: [string, () => Promise<{ status: number; headers: Headers }>, number][] = [
      ['malformed JSON', () => a.call('POST', '/v1/users', { raw: '{"name": "x",', headers: { 'Content-Type': 'application/json' } }), 400],
      ['validation', () => a.post('/v1/users', { name: '', email: 'not-an-email' }), 400],
      ['unknown field', () => a.post('/v1/products', { name: 'p', priceCents: 1, stock: 1, id: 'prd_x' }), 400],
      ['negative stock', () => b.post('/v1/products', { name: 'p', priceCents: 1, stock: -1 }), 400],
      ['array body', () => a.post('/v1/purchases', [user.id, product.id, 1]), 400],
      ['JSON null', () => a.call('POST', '/v1/purchases', { raw: 'null', headers: { 'Content-Type': 'application/json' } }), 400],
      ['quantity 0', () => a.post('/v1/purchases', { userId: user.id, productId: product.id, quantity: 0 }), 400],
      ['quantity 1001', () => b.post('/v1/purchases', { userId: user.id, productId: product.id, quantity: 1001 }), 400],
      ['quantity as string', () => a.post('/v1/purchases', { userId: user.id, productId: product.id, quantity: '1' }), 400],
      [
        'Idempotency-Key too long',
        () => a.post('/v1/purchases', { userId: user.id, productId: product.id, quantity: 1 }, { headers: { 'Idempotency-Key': 'k'.repeat(256) } }),
        400,
      ],
      ['empty patch', () => a.patch(`/v1/users/${user.id}`, {}), 400],
      ['bad patch email', () => b.patch(`/v1/users/${user.id}`, { email: 'nope' }), 400],
      ['bad patch price', () => a.patch(`/v1/products/${product.id}`, { priceCents: 1.25 }), 400],
      ['text/plain', () => a.call('POST', '/v1/users', { raw: 'name=x', headers: { 'Content-Type': 'text/plain' } }), 415],
      ['form', () => a.call('PATCH', `/v1/products/${product.id}`, { raw: 'stock=1', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }), 415],
      ['no body', () => a.call('POST', '/v1/purchases'), 415],
      ['over 64 KiB', () => a.post('/v1/products', { name: 'p', description: big, priceCents: 1, stock: 1 }), 413],
      ['unknown route', () => a.post('/v1/orders', { x: 1 }), 404],
      ['unknown route, no body', () => b.call('POST', '/v1/orders'), 404],
      ['unknown route, malformed JSON', () => a.call('POST', '/v1/orders', { raw: '{"x":', headers: { 'Content-Type': 'application/json' } }), 404],
      ['unknown method on a known path', () => b.call('PUT', `/v1/users/${user.id}`, { raw: 'name=x', headers: { 'Content-Type': 'text/plain' } }), 404],
      ['unknown id', () => b.patch('/v1/products/prd_00000000000000000000000000', { stock: 1 }), 404],
      ['malformed id', () => a.delete('/v1/users/..%2F..%2Fetc'), 404],
      ['bad limit', () => a.get('/v1/users?limit=1000'), 400],
      ['forged cursor', () => a.get('/v1/products?cursor=eyJ2IjoxLCJsIjoidXNlcnMiLCJhIjoieCJ9'), 400],
      ['purchases of an unknown user', () => b.get('/v1/users/usr_00000000000000000000000000/purchases'), 404],
      ['unknown user in purchase', () => a.post('/v1/purchases', { userId: 'usr_00000000000000000000000000', productId: product.id, quantity: 1 }), 404],
      ['user id naming the user’s history', () => b.post('/v1/purchases', { userId: `${user.id}:purchases`, productId: product.id, quantity: 1 }), 404],
      ['too many in purchase', () => b.post('/v1/purchases', { userId: user.id, productId: product.id, quantity: 6 }), 409],
    ];
    for (const [what, send, status] of cases) {
      const res = await send();
      expect({ what, status: res.status }).toEqual({ what, status });
      expect(res.headers.get('content-type')).toMatch(PROBLEM);
    }
    expect(await snapshot(redis)).toEqual(before);
  });
});

describe('purchases', () => {
  it('201 with the purchase; stock decremented; readable on the other instance; newest first under the user', async () => {
    const user = await createUser();
    const product = await createProduct(10, 199);
    const first = await a.post('/v1/purchases', { userId: user.id, productId: product.id, quantity: 3 });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      id: expect.stringMatching(/^pur_/),
      userId: user.id,
      productId: product.id,
      quantity: 3,
      unitPriceCents: 199,
      totalCents: 597,
      createdAt: expect.any(String),
    });
    const second = await b.post('/v1/purchases', { userId: user.id, productId: product.id, quantity: 1 });
    expect(second.status).toBe(201);
    expect((await b.get(`/v1/purchases/${first.body.id}`)).body).toEqual(first.body);
    expect((await a.get(`/v1/products/${product.id}`)).body.stock).toBe(6);
    const list = await b.get(`/v1/users/${user.id}/purchases`);
    expect(list.body).toEqual({ items: [second.body, first.body], nextCursor: null });
  });

  it('unknown user or product → 404, not enough stock → 409 insufficient-stock, nothing changed', async () => {
    const user = await createUser();
    const product = await createProduct(2);
    expect((await a.post('/v1/purchases', { userId: user.id, productId: 'prd_00000000000000000000000000', quantity: 1 })).status).toBe(404);
    expect((await a.post('/v1/purchases', { userId: 'usr_00000000000000000000000000', productId: product.id, quantity: 1 })).status).toBe(404);
    const short = await b.post('/v1/purchases', { userId: user.id, productId: product.id, quantity: 3 });
    expect(short.status).toBe(409);
    expect(short.headers.get('content-type')).toMatch(PROBLEM);
    expect(short.body.type).toMatch(/insufficient-stock$/);
    expect((await a.get(`/v1/products/${product.id}`)).body.stock).toBe(2);
    expect((await a.get(`/v1/users/${user.id}/purchases`)).body.items).toEqual([]);
  });

  it('Idempotency-Key: same key + body → the first response, once; other body → 422; kept ≥ 24 h', async () => {
    const user = await createUser();
    const product = await createProduct(5);
    const key = `order-${Date.now()}-${Math.random()}`;
    const body = { userId: user.id, productId: product.id, quantity: 2 };
    const first = await a.post('/v1/purchases', body, { headers: { 'Idempotency-Key': key } });
    expect(first.status).toBe(201);
    // same body in another key order and spacing, on the other instance
    const replay = await b.call('POST', '/v1/purchases', {
      raw: ` { "quantity": 2, "productId": "${product.id}",  "userId": "${user.id}" } `,
      headers: { 'Idempotency-Key': key, 'Content-Type': 'application/json' },
    });
    expect(replay.status).toBe(201);
    expect(replay.text).toBe(first.text);
    const other = await a.post('/v1/purchases', { ...body, quantity: 1 }, { headers: { 'Idempotency-Key': key } });
    expect(other.status).toBe(422);
    expect(other.headers.get('content-type')).toMatch(PROBLEM);
    expect((await b.get(`/v1/products/${product.id}`)).body.stock).toBe(3);
    expect((await a.get(`/v1/users/${user.id}/purchases`)).body.items).toHaveLength(1);
    expect(await redis.ttl(`idempotency:purchase:${key}`)).toBeGreaterThanOrEqual(24 * 3600 - 60);
  });

  it('an id not of its kind under an Idempotency-Key: a 404 remembered like any other (replayed; another body → 422), nothing else written', async () => {
    const user = await createUser();
    const product = await createProduct(5);
    const key = `malformed-${Date.now()}`;
    const malformed = { userId: user.id, productId: 'prd_nope', quantity: 1 };
    const before = await snapshot(redis);
    const first = await a.post('/v1/purchases', malformed, { headers: { 'Idempotency-Key': key } });
    expect(first.status).toBe(404);
    // only the record was written
    const after = await snapshot(redis);
    expect(Object.keys(after).filter((k) => !(k in before))).toEqual([`idempotency:purchase:${key}`]);
    expect(Object.fromEntries(Object.entries(after).filter(([k]) => k in before))).toEqual(before);
    const replay = await b.post('/v1/purchases', malformed, { headers: { 'Idempotency-Key': key } });
    expect(replay.status).toBe(404);
    expect(replay.text).toBe(first.text);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const other = await a.post('/v1/purchases', { userId: user.id, productId: product.id, quantity: 1 }, { headers: { 'Idempotency-Key': key } });
    expect(other.status).toBe(422);
    expect((await a.get(`/v1/products/${product.id}`)).body.stock).toBe(5);
    // a user id naming another key (the user's history) is not taken for a user either
    const history = await b.post('/v1/purchases', { userId: `${user.id}:purchases`, productId: product.id, quantity: 1 }, { headers: { 'Idempotency-Key': `${key}-h` } });
    expect(history.status).toBe(404);
    expect((await a.get(`/v1/products/${product.id}`)).body.stock).toBe(5);
  });

  it('a refused purchase is replayed as the same refusal, even after the stock is refilled', async () => {
    const user = await createUser();
    const product = await createProduct(1);
    const key = `refused-${Date.now()}`;
    const body = { userId: user.id, productId: product.id, quantity: 2 };
    const first = await a.post('/v1/purchases', body, { headers: { 'Idempotency-Key': key } });
    expect(first.status).toBe(409);
    expect((await a.patch(`/v1/products/${product.id}`, { stock: 100 })).status).toBe(200);
    const replay = await b.post('/v1/purchases', body, { headers: { 'Idempotency-Key': key } });
    expect(replay.status).toBe(409);
    expect(replay.text).toBe(first.text);
    expect((await a.get(`/v1/products/${product.id}`)).body.stock).toBe(100);
  });

  it('the same Idempotency-Key sent concurrently to both instances buys once', async () => {
    const user = await createUser();
    const product = await createProduct(50);
    const key = `burst-${Date.now()}`;
    const body = { userId: user.id, productId: product.id, quantity: 1 };
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).post('/v1/purchases', body, { headers: { 'Idempotency-Key': key } })));
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([201]));
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    expect((await a.get(`/v1/products/${product.id}`)).body.stock).toBe(49);
  });

  it('concurrent purchases on both instances never oversell', async () => {
    const product = await createProduct(25);
    const users = await Promise.all([createUser(a), createUser(b), createUser(a)]);
    const attempts = 90;
    const results = await Promise.all(
      Array.from({ length: attempts }, (_, i) =>
        (i % 2 ? a : b).post('/v1/purchases', { userId: users[i % 3]!.id, productId: product.id, quantity: 1 + (i % 2) }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    const sold = results.filter((r) => r.status === 201).reduce((n, r) => n + (r.body.quantity as number), 0);
    const stock = (await a.get(`/v1/products/${product.id}`)).body.stock as number;
    expect(stock).toBeGreaterThanOrEqual(0);
    expect(sold + stock).toBe(25);
    expect(stock).toBeLessThan(2); // every refusal was real: a quantity of 1 or 2 could not be served any more
    let recorded = 0;
    for (const u of users) {
      for (const id of await redis.zrange(`user:${u.id}:purchases`, 0, -1)) {
        if ((await redis.hget(`purchase:${id}`, 'productId')) === product.id) recorded += Number(await redis.hget(`purchase:${id}`, 'quantity'));
      }
    }
    expect(recorded).toBe(sold);
  });

  it('NOSCRIPT: a master with an empty script cache (as a newly promoted one) still runs every write', async () => {
    expect(await redis.call('SCRIPT', 'FLUSH')).toBe('OK');
    const user = await createUser(b);
    const product = await createProduct(2, 100, b);
    expect((await a.post('/v1/purchases', { userId: user.id, productId: product.id, quantity: 1 })).status).toBe(201);
    expect((await b.patch(`/v1/products/${product.id}`, { name: 'renamed' })).status).toBe(200);
    expect((await a.delete(`/v1/users/${user.id}`)).status).toBe(204);
  });

  it("a deleted user's purchases stay as history", async () => {
    const user = await createUser();
    const product = await createProduct(3);
    const bought = await a.post('/v1/purchases', { userId: user.id, productId: product.id, quantity: 1 });
    expect(bought.status).toBe(201);
    expect((await a.delete(`/v1/users/${user.id}`)).status).toBe(204);
    expect((await b.get(`/v1/purchases/${bought.body.id}`)).body).toEqual(bought.body);
    expect((await b.get(`/v1/users/${user.id}/purchases`)).body.items).toEqual([bought.body]);
    expect((await a.post('/v1/purchases', { userId: user.id, productId: product.id, quantity: 1 })).status).toBe(404);
    expect((await a.get('/v1/purchases/pur_00000000000000000000000000')).status).toBe(404);
  });
});

describe('consistency and pagination', () => {
  it('read-your-writes across instances: every write is visible on the next request to the other instance', async () => {
    for (let i = 0; i < 40; i++) {
      const [writer, reader] = i % 2 ? [a, b] : [b, a];
      const created = await writer.post('/v1/products', { name: `ryw ${i}`, priceCents: i, stock: i });
      expect(created.status).toBe(201);
      expect((await reader.get(`/v1/products/${created.body.id}`)).status).toBe(200);
      const patched = await writer.patch(`/v1/products/${created.body.id}`, { stock: i + 1000 });
      expect(patched.status).toBe(200);
      expect((await reader.get(`/v1/products/${created.body.id}`)).body.stock).toBe(i + 1000);
      expect((await reader.get('/v1/products?limit=100')).status).toBe(200);
    }
    // the fence let replicas serve at least some of these reads
    const metrics = (await a.get('/metrics', { auth: false })).text + (await b.get('/metrics', { auth: false })).text;
    expect(metrics).toMatch(/evergreen_redis_reads_total\{target="replica"\} [1-9]/);
  });

  it('walking the cursors returns every user exactly once, also while users are created and deleted', async () => {
    const created = new Set<string>();
    for (let i = 0; i < 23; i++) created.add((await createUser(i % 2 ? a : b, `walker ${i}`)).id as string);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: Json } = await (pages % 2 ? a : b).get(`/v1/users?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(4);
      seen.push(...(res.body.items as { id: string }[]).map((u) => u.id));
      cursor = res.body.nextCursor as string | null;
      pages += 1;
      // churn during the walk: new users and deleted ones that are not among `created`
      const extra = await createUser(a, 'churn');
      if (pages % 2 === 0) expect((await b.delete(`/v1/users/${extra.id}`)).status).toBe(204);
      expect(pages).toBeLessThan(500);
    } while (cursor !== null);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of created) expect(seen).toContain(id);
    expect([...seen].sort()).toEqual(seen); // ordered by id = creation time
  });

  it("walks a user's purchases newest first, every one exactly once", async () => {
    const user = await createUser();
    const product = await createProduct(100);
    const ids: string[] = [];
    for (let i = 0; i < 11; i++) ids.push((await (i % 2 ? a : b).post('/v1/purchases', { userId: user.id, productId: product.id, quantity: 1 })).body.id as string);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: Json } = await a.get(`/v1/users/${user.id}/purchases?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...(res.body.items as { id: string }[]).map((p) => p.id));
      cursor = res.body.nextCursor as string | null;
    } while (cursor !== null);
    expect(seen).toEqual([...ids].sort().reverse());
    expect(new Set(seen)).toEqual(new Set(ids));
    // a cursor of this list is refused on another list
    const page = await a.get(`/v1/users/${user.id}/purchases?limit=3`);
    expect((await a.get(`/v1/users?cursor=${page.body.nextCursor}`)).status).toBe(400);
  });
});

describe('operations', () => {
  it('X-Request-Id is echoed or generated on every response', async () => {
    const echoed = await a.get('/v1/products?limit=1', { headers: { 'X-Request-Id': 'trace-me-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('trace-me-123');
    for (const res of [await b.get('/v1/products/prd_00000000000000000000000000'), await b.get('/healthz', { auth: false }), await a.get('/nope')]) {
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('/readyz 200 with a writable master; /metrics has the contract metrics', async () => {
    expect((await a.get('/readyz', { auth: false })).status).toBe(200);
    const text = (await a.get('/metrics', { auth: false })).text;
    for (const name of [
      'http_requests_total{method="GET",route="/v1/products/:id",status="200"}',
      'http_request_duration_seconds_bucket{le="0.005",method="POST",route="/v1/purchases",status="201"}',
      'evergreen_purchases_total{outcome="created"}',
      'evergreen_purchases_total{outcome="insufficient_stock"}',
      'evergreen_redis_failovers_total 0',
      'evergreen_redis_master_writable 1',
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(text).toContain(name);
    }
  });

  it('SIGTERM: requests in flight are finished, the process exits 0; the instance starts again', async () => {
    const instance = topology.spec.api.instanceList[1]!;
    const apiProcess = topology.processes().get(instance.name)!;
    const master = topology.redisProcess((await topology.currentMaster()).port);
    // Pause the master briefly (well under Sentinel's down-after) so that these reads are certainly in flight
    // inside the API (waiting on Redis) when SIGTERM arrives.
    master.signal('SIGSTOP');
    let inflight: Promise<number>[];
    try {
      inflight = Array.from({ length: 8 }, () => b.get('/v1/products?limit=5').then((r) => r.status));
      // all 8 inside the API (its in-flight gauge; the scrape itself is not counted), however slow the machine
      await waitFor(async () => /^http_requests_in_flight 8$/m.test((await b.get('/metrics', { auth: false })).text), {
        what: 'the 8 reads to be in flight inside the API',
        timeoutMs: 10_000,
        intervalMs: 20,
      });
      const stopping = topology.stopApi(1);
      await new Promise((r) => setTimeout(r, 150));
      master.signal('SIGCONT');
      expect(await Promise.all(inflight)).toEqual(Array(8).fill(200));
      await stopping;
    } finally {
      master.signal('SIGCONT');
    }
    expect(await apiProcess.exited).toBe(0);
    await expect(b.get('/healthz', { auth: false })).rejects.toThrow();
    await topology.startApi(1);
    expect((await b.get('/v1/products?limit=1')).status).toBe(200);
  });
});
