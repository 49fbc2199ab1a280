/**
 * What each HTTP scenario sends (pure): the requests over the seeded users and products, and the statuses
 * that count as success.
 */
import type { HttpRequestSpec } from './wrk';
import type { ScenarioName } from './model';

export interface Seeded {
  readonly userIds: readonly string[];
  readonly productIds: readonly string[];
}

export interface ScenarioPlan {
  /** Sent in turn, over and over; `{seq}` in a body is a number unique to the step (see HttpStepProps). */
  readonly requests: readonly HttpRequestSpec[];
  readonly expected: readonly number[];
  /** Reported apart, not errors. */
  readonly counted: readonly number[];
}

/** Stock of every seeded product: no run can exhaust it (each purchase takes 1). */
export const SEED_STOCK = 1_000_000_000_000;

function seededList(items: readonly string[], what: string): readonly string[] {
  if (items.length === 0) throw new Error(`nothing seeded: no ${what}`);
  return items;
}

/**
 * The requests of a scenario. `runId` makes the e-mails of created users unique across runs (with the
 * step's `{seq}`, across steps too: a repeated e-mail would be a 409).
 */
export function scenarioPlan(name: ScenarioName, seeded: Seeded, runId: string): ScenarioPlan {
  switch (name) {
    case 'purchase': {
      const users = seededList(seeded.userIds, 'users');
      const products = seededList(seeded.productIds, 'products');
      // every user buys every product in turn
      const requests = users.flatMap((userId) =>
        products.map((productId) => ({ method: 'POST' as const, path: '/v1/purchases', body: JSON.stringify({ userId, productId, quantity: 1 }) })),
      );
      // insufficient stock cannot happen with SEED_STOCK, but if it did it is a refusal, not a failure
      return { requests, expected: [201], counted: [409] };
    }
    case 'product-read': {
      const products = seededList(seeded.productIds, 'products');
      return { requests: products.map((id) => ({ method: 'GET', path: `/v1/products/${id}` })), expected: [200], counted: [] };
    }
    case 'product-list':
      return { requests: [{ method: 'GET', path: '/v1/products?limit=20' }], expected: [200], counted: [] };
    case 'user-create':
      return {
        requests: [{ method: 'POST', path: '/v1/users', body: JSON.stringify({ name: 'Bench user {seq}', email: `bench-${runId}-{seq}@example.com` }) }],
        expected: [201],
        counted: [],
      };
  }
}
