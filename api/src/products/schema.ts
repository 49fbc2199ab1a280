import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { IdParam, ListQuery, Timestamp, createdResponse, int64, pageOf, problems, text } from '../http/common-schema';

/** Largest price: keeps quantity × price (≤ 1000 × this) an exact integer in JSON numbers and Redis' Lua. */
export const MAX_PRICE_CENTS = 1_000_000_000_000;
/** Largest stock (fits Redis' 64-bit HINCRBY and JSON numbers exactly). */
export const MAX_STOCK = 1_000_000_000_000;

const Name = text(1, 200).meta({ description: '1..200 characters', example: 'Oak seedling' });
const Description = text(0, 2000).meta({ description: 'At most 2000 characters' });
const PriceCents = int64().min(0).max(MAX_PRICE_CENTS).meta({ description: 'Integer ≥ 0 (cents)', example: 1299 });
const Stock = int64().min(0).max(MAX_STOCK).meta({ description: 'Integer ≥ 0', example: 10 });

export const ProductSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    priceCents: int64(),
    stock: int64(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Product' });
export type Product = z.output<typeof ProductSchema>;

export const CreateProductBody = z
  .strictObject({ name: Name, description: Description.optional(), priceCents: PriceCents, stock: Stock })
  .meta({ id: 'CreateProduct' });
export type CreateProductBody = z.output<typeof CreateProductBody>;

export const UpdateProductBody = z
  .strictObject({ name: Name.optional(), description: Description.optional(), priceCents: PriceCents.optional(), stock: Stock.optional() })
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'Give at least one field to change.' })
  .meta({ id: 'UpdateProduct' });
export type UpdateProductBody = z.output<typeof UpdateProductBody>;

export const ProductPage = pageOf(ProductSchema, 'ProductPage');

const json = <T extends z.ZodType>(schema: T) => ({ 'application/json': { schema } });

export function describeProducts(registry: OpenAPIRegistry): void {
  const id = IdParam('Product id');
  registry.registerPath({
    method: 'post', path: '/v1/products', tags: ['products'], summary: 'Create a product',
    request: { body: { required: true, content: json(CreateProductBody) } },
    responses: { 201: createdResponse(ProductSchema, '/v1/products/{id}'), ...problems(400, 401, 413, 415, 503) },
  });
  registry.registerPath({
    method: 'get', path: '/v1/products', tags: ['products'], summary: 'List products (by id = creation order)',
    request: { query: ListQuery },
    responses: { 200: { description: 'A page', content: json(ProductPage) }, ...problems(400, 401, 503) },
  });
  registry.registerPath({
    method: 'get', path: '/v1/products/{id}', tags: ['products'], summary: 'Get a product',
    request: { params: id },
    responses: { 200: { description: 'The product', content: json(ProductSchema) }, ...problems(401, 404, 503) },
  });
  registry.registerPath({
    method: 'patch', path: '/v1/products/{id}', tags: ['products'], summary: 'Change fields of a product',
    request: { params: id, body: { required: true, content: json(UpdateProductBody) } },
    responses: { 200: { description: 'Updated', content: json(ProductSchema) }, ...problems(400, 401, 404, 413, 415, 503) },
  });
  registry.registerPath({
    method: 'delete', path: '/v1/products/{id}', tags: ['products'], summary: 'Delete a product (purchases of it stay)',
    request: { params: id },
    responses: { 204: { description: 'Deleted' }, ...problems(401, 404, 503) },
  });
}
