import { decodeCursor, encodeCursor } from '../cursor';
import type { Page } from '../http/common-schema';
import type { RedisGateway } from './gateway';

export interface PageRequest {
  readonly limit: number;
  readonly cursor?: string | undefined;
}

/** Where a page comes from: an index sorted set of ids and the hash each id names. */
export interface PageSource<T> {
  /** The index ZSET (all scores 0, members = ids, so ZRANGE BYLEX orders by id = creation time). */
  readonly index: string;
  /** The list's name in its cursors: a cursor of another list is refused. */
  readonly list: string;
  /** asc: oldest first; desc: newest first. */
  readonly order: 'asc' | 'desc';
  /** The key of an id's hash is this prefix and the id (keys.ts). */
  readonly hashKeyPrefix: string;
  readonly fromHash: (h: Record<string, string>) => T;
  /**
   * The list's owner (a user's purchases: the user): when neither its key nor the index exists, the list itself is
   * missing and readPage throws `missing()`.
   * @default none: a missing index is an empty list
   */
  readonly owner?: { readonly key: string; readonly missing: () => Error };
}

/**
 * One page of a list: `limit` items strictly after the cursor's id, and a cursor to the next page when more ids
 * follow. One round trip (the READ_PAGE script, behind the read-your-writes fence).
 */
export async function readPage<T>(redis: RedisGateway, what: string, source: PageSource<T>, req: PageRequest): Promise<Page<T>> {
  const after = req.cursor === undefined ? undefined : decodeCursor(req.cursor, source.list).after;
  const [first, last] = source.order === 'asc' ? ['-', '+'] : ['+', '-'];
  const from = after === undefined ? first : `(${after}`;
  const reply = await redis.readScript(
    what,
    'readPage',
    source.owner === undefined ? [source.index] : [source.index, source.owner.key],
    [from, last, source.order, String(req.limit), source.hashKeyPrefix],
  );
  if (reply === null) throw source.owner!.missing(); // nil only when an owner was given
  const [more, lastId, items] = reply as [number, string, string];
  return {
    items: (JSON.parse(items) as Record<string, string>[]).map(source.fromHash),
    nextCursor: more === 1 ? encodeCursor({ list: source.list, after: lastId }) : null,
  };
}
