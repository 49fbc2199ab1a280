import { createHash } from 'node:crypto';
import { IdempotencyKeyReusedError, InsufficientStockError, NotFoundError, ProblemError } from '../errors';
import { isId, newId } from '../ids';
import type { RedisGateway } from '../redis/gateway';
import { keys } from '../redis/keys';
import { pairsToHash } from '../redis/replies';
import type { CreatePurchaseBody, Purchase } from './schema';

/** How long an Idempotency-Key is remembered (the contract asks for at least 24 h). */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

export function purchaseFromHash(h: Record<string, string>): Purchase {
  return {
    id: h.id ?? '',
    userId: h.userId ?? '',
    productId: h.productId ?? '',
    quantity: Number(h.quantity ?? 0),
    unitPriceCents: Number(h.unitPriceCents ?? 0),
    totalCents: Number(h.totalCents ?? 0),
    createdAt: h.createdAt ?? '',
  };
}

/** Same body ⇔ same fingerprint: the validated fields in a fixed order (whitespace/key order do not matter). */
export function purchaseFingerprint(body: CreatePurchaseBody): string {
  return createHash('sha256').update(JSON.stringify([body.userId, body.productId, body.quantity])).digest('hex');
}


export type PurchaseResult =
  | { readonly kind: 'created'; readonly purchase: Purchase; readonly replayed: boolean }
  | { readonly kind: 'problem'; readonly problem: ProblemError; readonly outcome: 'not_found' | 'insufficient_stock'; readonly replayed: boolean };

/**
 * The problem a refused purchase answers, built only from the request and what the script stored, so that a
 * replay renders the very same body as the first answer.
 */
export function refusal(outcome: string, data: string, body: CreatePurchaseBody): ProblemError {
  switch (outcome) {
    case 'user_not_found':
      return new NotFoundError(`User ${body.userId} does not exist.`);
    case 'product_not_found':
      return new NotFoundError(`Product ${body.productId} does not exist.`);
    case 'insufficient_stock':
      return new InsufficientStockError(`Product ${body.productId} has ${data} in stock; ${body.quantity} requested.`);
    default:
      throw new Error(`unknown purchase outcome ${outcome}`);
  }
}

/**
 * KEYS and ARGV of the PURCHASE script (redis/scripts.ts) for one request, in the script's order. Without an
 * Idempotency-Key the record key is the purchase key again (never touched) and no fingerprint is computed (the
 * script reads it only under a key). With `decided` (an outcome found before Redis) no key is built from the request's
 * ids: the script touches only the record.
 */
export function purchaseScriptArgs(
  id: string,
  body: CreatePurchaseBody,
  idempotencyKey: string | undefined,
  now: Date,
  decided: 'user_not_found' | 'product_not_found' | undefined = undefined,
): string[] {
  const purchaseKey = keys.purchase(id);
  const keyed = idempotencyKey !== undefined;
  const unused = decided !== undefined;
  return [
    purchaseKey,
    unused ? purchaseKey : keys.product(body.productId),
    unused ? purchaseKey : keys.user(body.userId),
    unused ? purchaseKey : keys.userPurchases(body.userId),
    keyed ? keys.idempotency(idempotencyKey) : purchaseKey,
    id, body.userId, body.productId, String(body.quantity), now.toISOString(),
    keyed ? '1' : '0',
    keyed ? purchaseFingerprint(body) : '',
    String(IDEMPOTENCY_TTL_SECONDS),
    decided ?? '',
  ];
}

/** Purchases in Redis: one atomic script on the master (redis/scripts.ts PURCHASE) and its WAIT, in one round trip. */
export class PurchaseStore {
  constructor(private readonly redis: RedisGateway) {}

  async create(body: CreatePurchaseBody, idempotencyKey: string | undefined): Promise<PurchaseResult> {
    // An id not of its kind names no user or product (404, as for a malformed id in a path). As a key it could name
    // another one — `<user id>:purchases` is the user's history, which EXISTS would find — so it is decided here:
    // without an Idempotency-Key Redis is not asked at all; with one, the script is told the outcome and remembers it
    // like any 404 (the same key with another body is then 422, as the contract has it), touching nothing else.
    const malformed = !isId('user', body.userId) ? 'user_not_found' : !isId('product', body.productId) ? 'product_not_found' : undefined;
    if (malformed !== undefined && idempotencyKey === undefined) {
      return { kind: 'problem', problem: refusal(malformed, '', body), outcome: 'not_found', replayed: false };
    }
    const now = new Date();
    const id = newId('purchase', now.getTime());
    const w = this.redis.writer();
    const reply = await w.script('purchase', 'purchase', purchaseScriptArgs(id, body, idempotencyKey, now, malformed));
    const [kind, a, b] = reply as [string, unknown, unknown];
    if (kind === 'mismatch') throw new IdempotencyKeyReusedError();
    if (kind === 'created') {
      await w.confirmDurable('purchase');
      return { kind: 'created', purchase: purchaseFromHash(pairsToHash(a)), replayed: false };
    }
    if (kind === 'replayed') {
      const outcome = String(a);
      const data = String(b ?? '');
      // the replay touched the record, so this WAIT also covers the first call's write (see the script)
      await w.confirmDurable('purchase');
      if (outcome === 'created') {
        const h = await w.run('purchase replay', (m) => m.hgetall(keys.purchase(data)));
        if (Object.keys(h).length === 0) throw new Error(`idempotency record points at missing purchase ${data}`);
        return { kind: 'created', purchase: purchaseFromHash(h), replayed: true };
      }
      return { kind: 'problem', problem: refusal(outcome, data, body), outcome: outcomeLabel(outcome), replayed: true };
    }
    if (idempotencyKey !== undefined) await w.confirmDurable('purchase');
    return { kind: 'problem', problem: refusal(kind, String(a ?? ''), body), outcome: outcomeLabel(kind), replayed: false };
  }

  async get(id: string): Promise<Purchase> {
    const h = await this.redis.hgetall('get purchase', keys.purchase(id));
    if (Object.keys(h).length === 0) throw new NotFoundError(`Purchase ${id} does not exist.`);
    return purchaseFromHash(h);
  }
}

function outcomeLabel(outcome: string): 'not_found' | 'insufficient_stock' {
  return outcome === 'insufficient_stock' ? 'insufficient_stock' : 'not_found';
}
