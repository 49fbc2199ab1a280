import type Redis from 'ioredis';
import { decodeCursor, encodeCursor } from '../cursor';
import type { Page } from '../http/common-schema';

export interface PageRequest {
  readonly limit: number;
  readonly cursor?: string | undefined;
}

/**
 * One page of an index sorted set (all scores 0, members = ids, so ZRANGE BYLEX orders by id = creation time).
 * Reads limit+1 ids strictly after the cursor's id to know whether another page exists, then the hashes of the
 * first `limit` ids in one pipeline; an id whose hash vanished meanwhile (deleted) is skipped.
 */
export async function readPage<T>(
  client: Redis,
  index: string,
  list: string,
  req: PageRequest,
  order: 'asc' | 'desc',
  hashKey: (id: string) => string,
  fromHash: (h: Record<string, string>) => T,
): Promise<Page<T>> {
  const after = req.cursor === undefined ? undefined : decodeCursor(req.cursor, list).after;
  const ids =
    order === 'asc'
      ? await client.zrange(index, after === undefined ? '-' : `(${after}`, '+', 'BYLEX', 'LIMIT', 0, req.limit + 1)
      : await client.zrange(index, after === undefined ? '+' : `(${after}`, '-', 'BYLEX', 'REV', 'LIMIT', 0, req.limit + 1);
  const pageIds = ids.slice(0, req.limit);
  const hashes = pageIds.length === 0 ? [] : await hgetallMany(client, pageIds.map(hashKey));
  const items = hashes.filter((h): h is Record<string, string> => h !== undefined).map(fromHash);
  const last = pageIds[pageIds.length - 1];
  return {
    items,
    nextCursor: ids.length > req.limit && last !== undefined ? encodeCursor({ list, after: last }) : null,
  };
}

/** HGETALL of many keys in one round trip; a missing key → undefined. */
export async function hgetallMany(client: Redis, keys: readonly string[]): Promise<(Record<string, string> | undefined)[]> {
  const pipeline = client.pipeline();
  for (const key of keys) pipeline.hgetall(key);
  const results = (await pipeline.exec()) ?? [];
  return results.map(([err, value]) => {
    if (err) throw err;
    const h = value as Record<string, string>;
    return Object.keys(h).length === 0 ? undefined : h;
  });
}
