import { NotFoundError } from '../errors';
import { newId } from '../ids';
import type { Page } from '../http/common-schema';
import type { RedisGateway } from '../redis/gateway';
import { hashKeyPrefix, keys } from '../redis/keys';
import { readPage, type PageRequest } from '../redis/pagination';
import { pairsToHash } from '../redis/replies';
import type { CreateProductBody, Product, UpdateProductBody } from './schema';

export function productFromHash(h: Record<string, string>): Product {
  return {
    id: h.id ?? '',
    name: h.name ?? '',
    description: h.description ?? '',
    priceCents: Number(h.priceCents ?? 0),
    stock: Number(h.stock ?? 0),
    createdAt: h.createdAt ?? '',
    updatedAt: h.updatedAt ?? '',
  };
}

/** field/value pairs of the given (defined) fields, as strings for HSET */
function fieldPairs(body: Partial<Record<string, string | number | undefined>>): string[] {
  return Object.entries(body).flatMap(([k, v]) => (v === undefined ? [] : [k, String(v)]));
}

/** Products in Redis: a hash per product and an index of ids (docs/api.md). */
export class ProductStore {
  constructor(private readonly redis: RedisGateway) {}

  async create(body: CreateProductBody): Promise<Product> {
    const now = new Date();
    const id = newId('product', now.getTime());
    const at = now.toISOString();
    const product: Product = {
      id,
      name: body.name,
      description: body.description ?? '',
      priceCents: body.priceCents,
      stock: body.stock,
      createdAt: at,
      updatedAt: at,
    };
    const w = this.redis.writer();
    await w.script('create product', 'createProduct', [
      keys.product(id), keys.products, id, at,
      ...fieldPairs({ name: product.name, description: product.description, priceCents: product.priceCents, stock: product.stock }),
    ]);
    await w.confirmDurable('create product');
    return product;
  }

  async get(id: string): Promise<Product> {
    const h = await this.redis.hgetall('get product', keys.product(id));
    if (Object.keys(h).length === 0) throw new NotFoundError(`Product ${id} does not exist.`);
    return productFromHash(h);
  }

  list(req: PageRequest): Promise<Page<Product>> {
    const source = { index: keys.products, list: 'products', order: 'asc', hashKeyPrefix: hashKeyPrefix.product, fromHash: productFromHash } as const;
    return readPage(this.redis, 'list products', source, req);
  }

  async update(id: string, body: UpdateProductBody): Promise<Product> {
    const at = new Date().toISOString();
    const w = this.redis.writer();
    const reply = await w.script('update product', 'updateProduct', [keys.product(id), at, ...fieldPairs(body)]);
    if (reply === 'not_found') throw new NotFoundError(`Product ${id} does not exist.`);
    await w.confirmDurable('update product');
    // the product as this script left it, which the WAIT covers (a read after it could show a later, unconfirmed change)
    return productFromHash(pairsToHash((reply as [string, unknown])[1]));
  }

  async delete(id: string): Promise<void> {
    const w = this.redis.writer();
    const outcome = await w.script('delete product', 'deleteProduct', [keys.product(id), keys.products, id]);
    if (outcome === 'not_found') throw new NotFoundError(`Product ${id} does not exist.`);
    await w.confirmDurable('delete product');
  }
}
