import { Router, type Request } from 'express';
import { NotFoundError } from '../errors';
import { jsonBody } from '../http/body';
import { ListQuery } from '../http/common-schema';
import { parseOr400 } from '../http/validate';
import { isId } from '../ids';
import { CreateUserBody, UpdateUserBody } from './schema';
import type { UserStore } from './store';

/** Ids that cannot exist are 404 without asking Redis. */
function userId(raw: string): string {
  if (!isId('user', raw)) throw new NotFoundError(`User ${raw.slice(0, 80)} does not exist.`);
  return raw;
}

export function usersRouter(store: UserStore): Router {
  const router = Router();
  router.post('/', jsonBody, async (req, res) => {
    const user = await store.create(parseOr400(CreateUserBody, req.body, 'body'));
    res.status(201).location(`/v1/users/${user.id}`).json(user);
  });
  router.get('/', async (req, res) => {
    res.json(await store.list(parseOr400(ListQuery, req.query, 'query')));
  });
  router.get('/:id', async (req, res) => {
    res.json(await store.get(userId(req.params.id)));
  });
  router.patch('/:id', jsonBody, async (req: Request<{ id: string }>, res) => {
    const id = userId(req.params.id);
    res.json(await store.update(id, parseOr400(UpdateUserBody, req.body, 'body')));
  });
  router.delete('/:id', async (req, res) => {
    await store.delete(userId(req.params.id));
    res.status(204).end();
  });
  router.get('/:id/purchases', async (req, res) => {
    const query = parseOr400(ListQuery, req.query, 'query');
    res.json(await store.purchases(userId(req.params.id), query));
  });
  return router;
}
