import { NotFoundError, EmailTakenError } from '../errors';
import { newId } from '../ids';
import type { Page } from '../http/common-schema';
import type { RedisGateway } from '../redis/gateway';
import { hashKeyPrefix, keys, normalizeEmail } from '../redis/keys';
import { readPage, type PageRequest } from '../redis/pagination';
import { pairsToHash } from '../redis/replies';
import { purchaseFromHash } from '../purchases/store';
import type { Purchase } from '../purchases/schema';
import type { CreateUserBody, UpdateUserBody, User } from './schema';

export function userFromHash(h: Record<string, string>): User {
  return { id: h.id ?? '', name: h.name ?? '', email: h.email ?? '', createdAt: h.createdAt ?? '', updatedAt: h.updatedAt ?? '' };
}

/** Users in Redis: a hash per user, a case-insensitive email index, an index of ids (docs/api.md). */
export class UserStore {
  constructor(private readonly redis: RedisGateway) {}

  async create(body: CreateUserBody): Promise<User> {
    const now = new Date();
    const id = newId('user', now.getTime());
    const at = now.toISOString();
    const w = this.redis.writer();
    const outcome = await w.script('create user', 'createUser', [
      keys.user(id), keys.userEmail(body.email), keys.users, id, body.name, body.email, normalizeEmail(body.email), at,
    ]);
    if (outcome === 'email_taken') throw new EmailTakenError();
    await w.confirmDurable('create user');
    return { id, name: body.name, email: body.email, createdAt: at, updatedAt: at };
  }

  async get(id: string): Promise<User> {
    const h = await this.redis.hgetall('get user', keys.user(id));
    if (Object.keys(h).length === 0) throw new NotFoundError(`User ${id} does not exist.`);
    return userFromHash(h);
  }

  list(req: PageRequest): Promise<Page<User>> {
    const source = { index: keys.users, list: 'users', order: 'asc', hashKeyPrefix: hashKeyPrefix.user, fromHash: userFromHash } as const;
    return readPage(this.redis, 'list users', source, req);
  }

  async update(id: string, body: UpdateUserBody): Promise<User> {
    const at = new Date().toISOString();
    const emailKey = body.email !== undefined ? keys.userEmail(body.email) : keys.user(id);
    const w = this.redis.writer();
    const reply = await w.script('update user', 'updateUser', [
      keys.user(id), emailKey, id, at,
      body.name !== undefined ? '1' : '0', body.name ?? '',
      body.email !== undefined ? '1' : '0', body.email ?? '',
    ]);
    if (reply === 'not_found') throw new NotFoundError(`User ${id} does not exist.`);
    if (reply === 'email_taken') throw new EmailTakenError();
    await w.confirmDurable('update user');
    // the user as this script left it, which the WAIT covers (a read after it could show a later, unconfirmed change)
    return userFromHash(pairsToHash((reply as [string, unknown])[1]));
  }

  async delete(id: string): Promise<void> {
    const w = this.redis.writer();
    const outcome = await w.script('delete user', 'deleteUser', [keys.user(id), keys.users, id]);
    if (outcome === 'not_found') throw new NotFoundError(`User ${id} does not exist.`);
    await w.confirmDurable('delete user');
  }

  /** Newest first. A deleted user's purchases are still listed (history); 404 only when neither exists. */
  async purchases(userId: string, req: PageRequest): Promise<Page<Purchase>> {
    const source = {
      index: keys.userPurchases(userId),
      list: `user-purchases:${userId}`,
      order: 'desc',
      hashKeyPrefix: hashKeyPrefix.purchase,
      fromHash: purchaseFromHash,
      owner: { key: keys.user(userId), missing: () => new NotFoundError(`User ${userId} does not exist.`) },
    } as const;
    return readPage(this.redis, 'list purchases of user', source, req);
  }
}
