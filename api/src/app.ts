import express, { Router, type Express } from 'express';
import type { Logger } from 'pino';
import type { ApiConfig } from './config';
import { requireBearer } from './http/auth';
import { errorHandler, notFound } from './http/error-handler';
import { observeRequests, rememberMountPath } from './http/observability';
import { buildOpenApiDocument } from './openapi';
import { operationsRouter } from './ops/health';
import type { ApiMetrics } from './ops/metrics';
import { productsRouter } from './products/router';
import { ProductStore } from './products/store';
import { purchasesRouter } from './purchases/router';
import { PurchaseStore } from './purchases/store';
import type { RedisGateway } from './redis/gateway';
import { usersRouter } from './users/router';
import { UserStore } from './users/store';

export interface AppDeps {
  readonly config: Pick<ApiConfig, 'apiTokens'>;
  readonly redis: RedisGateway;
  readonly metrics: ApiMetrics;
  readonly logger: Logger;
  /** @default never draining */
  readonly draining?: () => boolean;
}

/**
 * The Express application: the request id, log line and metrics of every request; /v1 behind auth; the operations
 * endpoints; then 404, errors. /v1 comes before the operations router so that the API's own requests do not walk
 * its routes (each layer a request passes costs, on every request: docs/performance.md).
 */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(observeRequests(deps.logger, deps.metrics));
  app.use('/v1', v1Router(deps));
  app.use(
    rememberMountPath,
    operationsRouter({
      metrics: deps.metrics,
      ready: () => deps.redis.masterWritable(),
      draining: deps.draining ?? (() => false),
      openApiDocument: buildOpenApiDocument,
    }),
  );
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}

/** /v1: auth, then the feature routers (each route that takes a body parses it: http/body.ts). */
function v1Router(deps: AppDeps): Router {
  const v1 = Router();
  v1.use(requireBearer(deps.config.apiTokens));
  v1.use('/users', rememberMountPath, usersRouter(new UserStore(deps.redis)));
  v1.use('/products', rememberMountPath, productsRouter(new ProductStore(deps.redis)));
  v1.use('/purchases', rememberMountPath, purchasesRouter(new PurchaseStore(deps.redis), deps.metrics));
  return v1;
}
