import {
  EmailTakenError,
  InsufficientStockError,
  PROBLEM_TYPE_BASE,
  ProblemError,
  ServiceUnavailableError,
  UnauthorizedError,
} from '../../../api/src/errors';
import { toProblem } from '../../../api/src/http/error-handler';
import { parseOr400 } from '../../../api/src/http/validate';
import { ListQuery } from '../../../api/src/http/common-schema';
import { CreateProductBody, UpdateProductBody } from '../../../api/src/products/schema';
import { CreatePurchaseBody, IdempotencyKeyHeader } from '../../../api/src/purchases/schema';
import { purchaseFingerprint, refusal } from '../../../api/src/purchases/store';
import { CreateUserBody, UpdateUserBody } from '../../../api/src/users/schema';
import { redisErrorKind, parseRole } from '../../../api/src/redis/gateway';

function validationErrors(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProblemError);
    expect((err as ProblemError).status).toBe(400);
    return [...((err as ProblemError).errors ?? [])];
  }
  throw new Error('expected a 400');
}

describe('problem errors', () => {
  it('render RFC 9457 bodies with a type URI naming the problem', () => {
    const body = new InsufficientStockError('only 1 left').toBody();
    expect(body).toEqual({ type: `${PROBLEM_TYPE_BASE}insufficient-stock`, title: 'Insufficient stock', status: 409, detail: 'only 1 left' });
    expect(body.type.endsWith('insufficient-stock')).toBe(true);
    expect(new EmailTakenError().toBody().status).toBe(409);
  });

  it('carry the headers the contract asks for', () => {
    expect(new UnauthorizedError().headers).toEqual({ 'WWW-Authenticate': 'Bearer' });
    expect(new ServiceUnavailableError('failover').headers['Retry-After']).toBe('1');
  });

  it('map body-parser errors: malformed → 400, too large → 413, bad charset → 415', () => {
    expect(toProblem({ type: 'entity.parse.failed', status: 400 })?.status).toBe(400);
    expect(toProblem({ type: 'entity.too.large', status: 413 })?.status).toBe(413);
    expect(toProblem({ type: 'charset.unsupported', status: 415, message: 'x' })?.status).toBe(415);
    expect(toProblem({ status: 400, expose: true, message: 'Failed to decode param \'%E0\'' })?.status).toBe(404); // an id that names nothing
    expect(toProblem({ status: 400, expose: true, message: 'Bad request' })?.status).toBe(400);
    expect(toProblem(new Error('bug'))).toBeUndefined();
    expect(toProblem({ status: 500 })).toBeUndefined();
  });
});

describe('request validation', () => {
  it('accepts a valid user and lists every problem of an invalid one', () => {
    expect(parseOr400(CreateUserBody, { name: 'Ada', email: 'ada@example.com' }, 'body')).toEqual({ name: 'Ada', email: 'ada@example.com' });
    const errors = validationErrors(() => parseOr400(CreateUserBody, { name: '', email: 'nope', extra: 1 }, 'body'));
    expect(errors.map((e) => e.path).sort()).toEqual(['body', 'email', 'name']);
  });

  it('bounds names at 200 characters and descriptions at 2000', () => {
    expect(() => parseOr400(CreateUserBody, { name: 'x'.repeat(200), email: 'a@b.co' }, 'body')).not.toThrow();
    validationErrors(() => parseOr400(CreateUserBody, { name: 'x'.repeat(201), email: 'a@b.co' }, 'body'));
    validationErrors(() => parseOr400(CreateProductBody, { name: 'p', description: 'd'.repeat(2001), priceCents: 1, stock: 1 }, 'body'));
  });

  it('takes any Unicode text but a lone surrogate, which could not be stored as it came', () => {
    expect(parseOr400(CreateUserBody, { name: 'Ōtsuka 😀 Zoë', email: 'a@b.co' }, 'body').name).toBe('Ōtsuka 😀 Zoë');
    for (const [schema, body] of [
      [CreateUserBody, { name: 'Ada \ud800', email: 'a@b.co' }],
      [UpdateUserBody, { name: '\udc00' }],
      [CreateProductBody, { name: 'p', description: 'half a pair: \ud83d', priceCents: 1, stock: 1 }],
      [UpdateProductBody, { name: 'x\udfffy' }],
    ] as const) {
      expect(validationErrors(() => parseOr400(schema, body, 'body'))).toEqual([expect.objectContaining({ message: expect.stringMatching(/lone surrogate/) })]);
    }
  });

  it('wants integer, non-negative price and stock', () => {
    expect(parseOr400(CreateProductBody, { name: 'p', priceCents: 0, stock: 0 }, 'body')).toEqual({ name: 'p', priceCents: 0, stock: 0 });
    for (const bad of [{ priceCents: -1 }, { priceCents: 1.5 }, { stock: -1 }, { stock: '3' }]) {
      validationErrors(() => parseOr400(CreateProductBody, { name: 'p', priceCents: 1, stock: 1, ...bad }, 'body'));
    }
  });

  it('rejects empty patches and a body that is not an object', () => {
    validationErrors(() => parseOr400(UpdateUserBody, {}, 'body'));
    validationErrors(() => parseOr400(UpdateProductBody, {}, 'body'));
    expect(validationErrors(() => parseOr400(CreateUserBody, [1, 2], 'body'))).toEqual([expect.objectContaining({ path: 'body' })]);
    validationErrors(() => parseOr400(CreateUserBody, undefined, 'body'));
  });

  it('bounds purchase quantity to 1..1000 integers', () => {
    const ok = { userId: 'usr_1', productId: 'prd_1' };
    expect(parseOr400(CreatePurchaseBody, { ...ok, quantity: 1000 }, 'body').quantity).toBe(1000);
    for (const quantity of [0, 1001, 2.5, '2', null]) validationErrors(() => parseOr400(CreatePurchaseBody, { ...ok, quantity }, 'body'));
  });

  it('accepts Idempotency-Key of 1..255 printable characters', () => {
    expect(parseOr400(IdempotencyKeyHeader, 'k'.repeat(255), 'Idempotency-Key')).toHaveLength(255);
    validationErrors(() => parseOr400(IdempotencyKeyHeader, 'k'.repeat(256), 'Idempotency-Key'));
    validationErrors(() => parseOr400(IdempotencyKeyHeader, '', 'Idempotency-Key'));
  });

  it('parses list queries: limit 1..100 (default 20), opaque cursor', () => {
    expect(parseOr400(ListQuery, {}, 'query')).toEqual({ limit: 20 });
    expect(parseOr400(ListQuery, { limit: '100', cursor: 'abc' }, 'query')).toEqual({ limit: 100, cursor: 'abc' });
    for (const limit of ['0', '101', 'ten', '1.5', '', ['1', '2']]) {
      expect(validationErrors(() => parseOr400(ListQuery, { limit }, 'query'))[0]?.path).toBe('limit');
    }
  });
});

describe('purchase helpers', () => {
  const body = { userId: 'usr_1', productId: 'prd_1', quantity: 2 };
  it('fingerprint the body independently of key order, and differently for another body', () => {
    expect(purchaseFingerprint(body)).toBe(purchaseFingerprint({ quantity: 2, productId: 'prd_1', userId: 'usr_1' }));
    expect(purchaseFingerprint(body)).not.toBe(purchaseFingerprint({ ...body, quantity: 3 }));
  });

  it('render refusals deterministically from what the script stored (replays are byte-identical)', () => {
    expect(refusal('insufficient_stock', '1', body).toBody()).toEqual(refusal('insufficient_stock', '1', body).toBody());
    expect(refusal('insufficient_stock', '1', body).status).toBe(409);
    expect(refusal('user_not_found', '', body).status).toBe(404);
    expect(refusal('product_not_found', '', body).detail).toContain('prd_1');
  });
});

describe('redis helpers', () => {
  it('classify Redis failures for the errors metric', () => {
    expect(redisErrorKind(new Error('Command timed out'))).toBe('timeout');
    expect(redisErrorKind(new Error("READONLY You can't write against a read only replica."))).toBe('readonly');
    expect(redisErrorKind(new Error('NOREPLICAS Not enough good replicas to write.'))).toBe('noreplicas');
    expect(redisErrorKind(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe('connection');
    expect(redisErrorKind(new Error('Connection is closed.'))).toBe('connection');
    // ioredis' AbortError for a command of a pipeline whose connection closed before its reply
    expect(redisErrorKind(new Error('Command aborted due to connection close'))).toBe('connection');
    expect(redisErrorKind(new Error('something else'))).toBe('other');
  });

  it('parse ROLE replies of masters and replicas', () => {
    expect(parseRole(['master', 1234, [['127.0.0.1', '7001', '1200']]])).toEqual({ role: 'master', offset: 1234 });
    expect(parseRole(['slave', '127.0.0.1', 7000, 'connected', 1200])).toEqual({ role: 'slave', state: 'connected', offset: 1200 });
    expect(parseRole(['sentinel', []])).toBeUndefined();
    expect(parseRole('nope')).toBeUndefined();
  });
});
