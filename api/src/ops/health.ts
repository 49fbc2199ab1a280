import { Router } from 'express';
import type { ApiMetrics } from './metrics';

export interface HealthDeps {
  readonly metrics: ApiMetrics;
  /** true when the Redis master is writable */
  readonly ready: () => Promise<boolean>;
  /** true once SIGTERM arrived: readiness goes 503 so load balancers stop sending */
  readonly draining: () => boolean;
  readonly openApiDocument: () => unknown;
}

/** /healthz, /readyz, /metrics, /openapi.json — no authentication. */
export function operationsRouter(deps: HealthDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  router.get('/readyz', async (_req, res) => {
    if (deps.draining()) {
      res.status(503).type('text/plain').send('shutting down\n');
      return;
    }
    const ok = await deps.ready();
    res.status(ok ? 200 : 503).type('text/plain').send(ok ? 'ready\n' : 'redis master not writable\n');
  });
  router.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  let doc: string | undefined;
  router.get('/openapi.json', (_req, res) => {
    doc ??= JSON.stringify(deps.openApiDocument());
    res.type('application/json').send(doc);
  });
  return router;
}
