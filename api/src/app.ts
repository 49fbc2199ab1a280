import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { ApiConfig } from './config';
import { requireBearer } from './http/auth';
import { jsonBody } from './http/body';
import { errorHandler, notFound } from './http/error-handler';
import { httpMetrics, rememberMountPath, requestLogging } from './http/observability';
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

/** The Express application: operations endpoints, then /v1 behind auth and the JSON body rules, then 404, errors. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(requestLogging(deps.logger));
  app.use(httpMetrics(deps.metrics));
  app.use(
    rememberMountPath,
    operationsRouter({
      metrics: deps.metrics,
      ready: () => deps.redis.masterWritable(),
      draining: deps.draining ?? (() => false),
      openApiDocument: buildOpenApiDocument,
    }),
  );
  app.use('/v1', requireBearer(deps.config.apiTokens), ...jsonBody());
  app.use('/v1/users', rememberMountPath, usersRouter(new UserStore(deps.redis)));
  app.use('/v1/products', rememberMountPath, productsRouter(new ProductStore(deps.redis)));
  app.use('/v1/purchases', rememberMountPath, purchasesRouter(new PurchaseStore(deps.redis), deps.metrics));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
