/**
 * What each HTTP scenario sends (pure): request generators over the seeded users and products, and the
 * statuses that count as success.
 */
import type { HttpRequestSpec } from './http-load';
import type { ScenarioName } from './model';

export interface Seeded {
  readonly userIds: readonly string[];
  readonly productIds: readonly string[];
}

export interface ScenarioPlan {
  readonly next: () => HttpRequestSpec;
  readonly expected: readonly number[];
  /** Reported apart, not errors. */
  readonly counted: readonly number[];
}

/** Stock of every seeded product: no run can exhaust it (each purchase takes 1). */
export const SEED_STOCK = 1_000_000_000_000;

function rotate<T>(items: readonly T[], what: string): () => T {
  if (items.length === 0) throw new Error(`nothing seeded: no ${what}`);
  let i = 0;
  return () => items[i++ % items.length] as T;
}

/**
 * The request generator of a scenario. `runId` makes the e-mails of created users unique across runs
 * and steps (a repeated e-mail would be a 409).
 */
export function scenarioPlan(name: ScenarioName, seeded: Seeded, runId: string): ScenarioPlan {
  switch (name) {
    case 'purchase': {
      const user = rotate(seeded.userIds, 'users');
      const product = rotate(seeded.productIds, 'products');
      return {
        next: () => ({ method: 'POST', path: '/v1/purchases', body: JSON.stringify({ userId: user(), productId: product(), quantity: 1 }) }),
        expected: [201],
        // insufficient stock cannot happen with SEED_STOCK, but if it did it is a refusal, not a failure
        counted: [409],
      };
    }
    case 'product-read': {
      const product = rotate(seeded.productIds, 'products');
      return { next: () => ({ method: 'GET', path: `/v1/products/${product()}` }), expected: [200], counted: [] };
    }
    case 'product-list':
      return { next: () => ({ method: 'GET', path: '/v1/products?limit=20' }), expected: [200], counted: [] };
    case 'user-create': {
      let n = 0;
      return {
        next: () => {
          n += 1;
          return { method: 'POST', path: '/v1/users', body: JSON.stringify({ name: `Bench user ${n}`, email: `bench-${runId}-${n}@example.com` }) };
        },
        expected: [201],
        counted: [],
      };
    }
  }
}
