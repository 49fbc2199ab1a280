import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { describeProducts } from './products/schema';
import { describePurchases } from './purchases/schema';
import { describeUsers } from './users/schema';

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate requests, so the two cannot drift.
 */
export function buildOpenApiDocument(): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  describeUsers(registry);
  describeProducts(registry);
  describePurchases(registry);
  const plain = (description: string) => ({ description, content: { 'text/plain': { schema: z.string() } } });
  registry.registerPath({ method: 'get', path: '/healthz', tags: ['operations'], summary: 'Liveness', security: [], responses: { 200: plain('The process runs') } });
  registry.registerPath({
    method: 'get', path: '/readyz', tags: ['operations'], summary: 'Readiness: the Redis master is writable', security: [],
    responses: { 200: plain('Ready'), 503: plain('Master not writable (or shutting down)') },
  });
  registry.registerPath({ method: 'get', path: '/metrics', tags: ['operations'], summary: 'Prometheus metrics', security: [], responses: { 200: plain('Prometheus text exposition format') } });
  registry.registerPath({
    method: 'get', path: '/openapi.json', tags: ['operations'], summary: 'This document', security: [],
    responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: z.object({}).passthrough() } } } },
  });
  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Evergreen Stores API',
      version: '1.0.0',
      description:
        'Users, products and purchases. Errors are RFC 9457 problem details. Every response carries X-Request-Id. See docs/api.md.',
    },
    servers: [{ url: '/' }],
    security: [{ [bearer.name]: [] }],
  });
  return withRequestIds(document);
}

type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

const REQUEST_ID_DESCRIPTION = 'The request id: the one the request carried (1..128 printable ASCII characters), else a generated UUID';

/**
 * Every operation takes an optional X-Request-Id and every response carries one (observeRequests): declared once
 * as components and referenced from each operation and response, rather than repeated in every feature's schema.
 */
function withRequestIds(document: OpenApiDocument): OpenApiDocument {
  const components = document.components ?? {};
  document.components = {
    ...components,
    parameters: { ...components.parameters, RequestId: { name: 'X-Request-Id', in: 'header', required: false, description: REQUEST_ID_DESCRIPTION, schema: { type: 'string' } } },
    headers: { ...components.headers, RequestId: { description: REQUEST_ID_DESCRIPTION, schema: { type: 'string' } } },
  };
  for (const item of Object.values(document.paths ?? {})) {
    for (const method of ['get', 'post', 'patch', 'put', 'delete'] as const) {
      const operation = item[method];
      if (operation === undefined) continue;
      operation.parameters = [...(operation.parameters ?? []), { $ref: '#/components/parameters/RequestId' }];
      for (const response of Object.values(operation.responses ?? {})) {
        if ('$ref' in response) continue;
        response.headers = { ...response.headers, 'X-Request-Id': { $ref: '#/components/headers/RequestId' } };
      }
    }
  }
  return document;
}
