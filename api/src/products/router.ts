import { Router, type Request } from 'express';
import { NotFoundError } from '../errors';
import { jsonBody } from '../http/body';
import { ListQuery } from '../http/common-schema';
import { parseOr400 } from '../http/validate';
import { isId } from '../ids';
import { CreateProductBody, UpdateProductBody } from './schema';
import type { ProductStore } from './store';

/** Ids that cannot exist are 404 without asking Redis. */
function productId(raw: string): string {
  if (!isId('product', raw)) throw new NotFoundError(`Product ${raw.slice(0, 80)} does not exist.`);
  return raw;
}

export function productsRouter(store: ProductStore): Router {
  const router = Router();
  router.post('/', jsonBody, async (req, res) => {
    const product = await store.create(parseOr400(CreateProductBody, req.body, 'body'));
    res.status(201).location(`/v1/products/${product.id}`).json(product);
  });
  router.get('/', async (req, res) => {
    res.json(await store.list(parseOr400(ListQuery, req.query, 'query')));
  });
  router.get('/:id', async (req, res) => {
    res.json(await store.get(productId(req.params.id)));
  });
  router.patch('/:id', jsonBody, async (req: Request<{ id: string }>, res) => {
    const id = productId(req.params.id);
    res.json(await store.update(id, parseOr400(UpdateProductBody, req.body, 'body')));
  });
  router.delete('/:id', async (req, res) => {
    await store.delete(productId(req.params.id));
    res.status(204).end();
  });
  return router;
}
