/** The key of a user's, product's or purchase's hash is this prefix and its id (lists build them so: READ_PAGE). */
export const hashKeyPrefix = { user: 'user:', product: 'product:', purchase: 'purchase:' } as const;

/**
 * Every Redis key the API reads or writes, in one place (documented for operators in docs/api.md).
 * No prefix: the Redis deployment belongs to this service alone.
 */
export const keys = {
  /** HASH id, name, email, emailKey, createdAt, updatedAt */
  user: (id: string) => `${hashKeyPrefix.user}${id}`,
  /** STRING → user id; the email lower-cased, so uniqueness is case-insensitive */
  userEmail: (email: string) => `user-email:${normalizeEmail(email)}`,
  /** ZSET, all scores 0, members = user ids (ordered by id = by creation time) */
  users: 'users',
  /** ZSET, all scores 0, members = purchase ids of the user; kept after the user is deleted (history) */
  userPurchases: (userId: string) => `user:${userId}:purchases`,
  /** HASH id, name, description, priceCents, stock, createdAt, updatedAt */
  product: (id: string) => `${hashKeyPrefix.product}${id}`,
  /** ZSET, all scores 0, members = product ids */
  products: 'products',
  /** HASH id, userId, productId, quantity, unitPriceCents, totalCents, createdAt — never modified */
  purchase: (id: string) => `${hashKeyPrefix.purchase}${id}`,
  /** HASH fingerprint, outcome, data — first outcome of a purchase with this Idempotency-Key; TTL 24 h */
  idempotency: (key: string) => `idempotency:purchase:${key}`,
} as const;

/** Case-insensitive email identity (full Unicode lower-casing, then trimmed). */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
