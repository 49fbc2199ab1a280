import { randomBytes } from 'node:crypto';

/**
 * Ids are ULID-like: a kind prefix, 10 Crockford base-32 characters of creation time in ms, then 16 random
 * characters (80 bits). Sorting ids as strings therefore sorts by creation time, which the list indexes rely on
 * (sorted sets ordered by member, see docs/api.md) to list newest-first without a second score.
 */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export const ID_PREFIX = { user: 'usr', product: 'prd', purchase: 'pur' } as const;
export type IdKind = keyof typeof ID_PREFIX;

const ID_BODY = '[0-9A-HJKMNP-TV-Z]{26}';

/** Matches any id of this kind (used to reject malformed path ids with 404 before touching Redis). */
export function idPattern(kind: IdKind): RegExp {
  return new RegExp(`^${ID_PREFIX[kind]}_${ID_BODY}$`);
}

export function encodeTime(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms >= 2 ** 48) throw new RangeError(`time out of range: ${ms}`);
  let out = '';
  let rest = ms;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[rest % 32]! + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

export function decodeTime(encoded: string): number {
  let ms = 0;
  for (const ch of encoded.slice(0, 10)) {
    const v = CROCKFORD.indexOf(ch);
    if (v < 0) throw new RangeError(`not a Crockford base-32 character: ${ch}`);
    ms = ms * 32 + v;
  }
  return ms;
}

/**
 * Random bytes come from a pool refilled 4 KiB at a time: one call into OpenSSL per 256 ids rather than one per
 * id (as node:crypto's randomUUID caches its own). Every byte is used once.
 */
const RANDOM_POOL_BYTES = 4096;
let randomPool = Buffer.alloc(0);
let randomOffset = 0;

function randomChunk(length: number): Buffer {
  if (randomOffset + length > randomPool.length) {
    randomPool = randomBytes(RANDOM_POOL_BYTES);
    randomOffset = 0;
  }
  const chunk = randomPool.subarray(randomOffset, randomOffset + length);
  randomOffset += length;
  return chunk;
}

/** A new id of `kind` created at `nowMs`. */
export function newId(kind: IdKind, nowMs: number = Date.now()): string {
  const bytes = randomChunk(16);
  let random = '';
  for (const b of bytes) random += CROCKFORD[b & 31];
  return `${ID_PREFIX[kind]}_${encodeTime(nowMs)}${random}`;
}

export function isId(kind: IdKind, value: string): boolean {
  return idPattern(kind).test(value);
}
