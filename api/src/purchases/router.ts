import { Router } from 'express';
import { NotFoundError, ProblemError } from '../errors';
import { jsonBody } from '../http/body';
import { parseOr400 } from '../http/validate';
import { isId } from '../ids';
import type { ApiMetrics } from '../ops/metrics';
import { CreatePurchaseBody, IdempotencyKeyHeader } from './schema';
import type { PurchaseStore } from './store';

export function purchasesRouter(store: PurchaseStore, metrics: ApiMetrics): Router {
  const router = Router();
  router.post('/', jsonBody, async (req, res) => {
    let result;
    try {
      const rawKey = req.get('Idempotency-Key');
      const key = rawKey === undefined ? undefined : parseOr400(IdempotencyKeyHeader, rawKey, 'Idempotency-Key');
      const body = parseOr400(CreatePurchaseBody, req.body, 'body');
      result = await store.create(body, key);
    } catch (err) {
      const status = err instanceof ProblemError ? err.status : 500;
      metrics.purchases.labels(status >= 500 ? 'error' : 'rejected').inc();
      throw err;
    }
    if (result.replayed) res.set('Idempotent-Replayed', 'true');
    if (result.kind === 'created') {
      metrics.purchases.labels(result.replayed ? 'replayed' : 'created').inc();
      res.status(201).location(`/v1/purchases/${result.purchase.id}`).json(result.purchase);
      return;
    }
    metrics.purchases.labels(result.replayed ? 'replayed' : result.outcome).inc();
    throw result.problem;
  });
  router.get('/:id', async (req, res) => {
    const id = req.params.id;
    if (!isId('purchase', id)) throw new NotFoundError(`Purchase ${id.slice(0, 80)} does not exist.`);
    res.json(await store.get(id));
  });
  return router;
}
