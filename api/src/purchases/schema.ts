import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { IdParam, Timestamp, createdResponse, int64, pageOf, problemResponses, problems, stringHeader } from '../http/common-schema';

const replayedHeader = stringHeader('`true` when this is the replay of the first response for the Idempotency-Key');

export const PurchaseSchema = z
  .object({
    id: z.string(),
    userId: z.string(),
    productId: z.string(),
    quantity: z.number().int(),
    unitPriceCents: int64(),
    totalCents: int64(),
    createdAt: Timestamp,
  })
  .meta({ id: 'Purchase' });
export type Purchase = z.output<typeof PurchaseSchema>;

export const CreatePurchaseBody = z
  .strictObject({
    userId: z.string().min(1).max(64),
    productId: z.string().min(1).max(64),
    quantity: z.number().int().min(1).max(1000).meta({ description: '1..1000' }),
  })
  .meta({ id: 'CreatePurchase' });
export type CreatePurchaseBody = z.output<typeof CreatePurchaseBody>;

/** 1..255 characters; printable ASCII (header values cannot carry more). */
export const IdempotencyKeyHeader = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII')
  .meta({
    description:
      'Optional. A repeat with the same key and body returns the first response (status and body) and changes nothing; ' +
      'the same key with another body → 422. Keys are remembered for 24 hours.',
  });

export const PurchasePage = pageOf(PurchaseSchema, 'PurchasePage');

const json = <T extends z.ZodType>(schema: T) => ({ 'application/json': { schema } });

export function describePurchases(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post', path: '/v1/purchases', tags: ['purchases'],
    summary: 'Buy: stock check, decrement and record in one atomic step; a 201 is durable (acknowledged by a replica)',
    request: {
      headers: z.object({ 'Idempotency-Key': IdempotencyKeyHeader.optional() }),
      body: { required: true, content: json(CreatePurchaseBody) },
    },
    responses: {
      201: createdResponse(PurchaseSchema, '/v1/purchases/{id}', {
        description: 'Created (or the replay of the first response for this Idempotency-Key)',
        headers: { 'Idempotent-Replayed': replayedHeader },
      }),
      ...problems(400, 401, 404, 409, 413, 415, 422, 503),
      // a refusal is remembered under an Idempotency-Key too, and replayed as such
      404: { ...problemResponses[404], headers: { 'Idempotent-Replayed': replayedHeader } },
      409: { ...problemResponses[409], headers: { 'Idempotent-Replayed': replayedHeader } },
    },
  });
  registry.registerPath({
    method: 'get', path: '/v1/purchases/{id}', tags: ['purchases'], summary: 'Get a purchase',
    request: { params: IdParam('Purchase id') },
    responses: { 200: { description: 'The purchase', content: json(PurchaseSchema) }, ...problems(401, 404, 503) },
  });
}
