import { decodeCursor, encodeCursor } from '../../../api/src/cursor';
import { ValidationError } from '../../../api/src/errors';
import { decodeTime, encodeTime, isId, newId } from '../../../api/src/ids';
import { keys, normalizeEmail } from '../../../api/src/redis/keys';

describe('ids', () => {
  it('have the kind prefix and 26 Crockford characters', () => {
    const id = newId('user');
    expect(id).toMatch(/^usr_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(isId('user', id)).toBe(true);
    expect(isId('product', id)).toBe(false);
    expect(isId('user', `${id}x`)).toBe(false);
    expect(isId('user', 'usr_../../etc')).toBe(false);
  });

  it('embed their creation time, so string order is time order', () => {
    const t = Date.UTC(2026, 0, 31, 12);
    expect(decodeTime(encodeTime(t))).toBe(t);
    const earlier = newId('purchase', t);
    const later = newId('purchase', t + 1);
    expect(earlier < later).toBe(true);
    expect(decodeTime(earlier.slice(4))).toBe(t);
  });

  it('are unique', () => {
    const t = Date.now();
    const ids = new Set(Array.from({ length: 10000 }, () => newId('product', t)));
    expect(ids.size).toBe(10000);
  });

  it('reject times outside 48 bits', () => {
    expect(() => encodeTime(-1)).toThrow(RangeError);
    expect(() => encodeTime(2 ** 48)).toThrow(RangeError);
  });
});

describe('cursors', () => {
  it('round-trip the position and are opaque URL-safe strings', () => {
    const c = encodeCursor({ list: 'users', after: 'usr_01ABC' });
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(c, 'users')).toEqual({ list: 'users', after: 'usr_01ABC' });
  });

  it.each([
    ['garbage', 'not base64 json'],
    ['a cursor of another list', encodeCursor({ list: 'products', after: 'prd_1' })],
    ['a cursor whose id would escape the range syntax', Buffer.from(JSON.stringify({ v: 1, l: 'users', a: '+' })).toString('base64url')],
    ['an empty cursor', ''],
    ['JSON that is not an object', Buffer.from('42').toString('base64url')],
  ])('reject %s with a 400 on `cursor`', (_what, cursor) => {
    let caught: unknown;
    try {
      decodeCursor(cursor, 'users');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).status).toBe(400);
    expect((caught as ValidationError).errors).toEqual([{ path: 'cursor', message: 'Invalid cursor.' }]);
  });
});

describe('Redis keys', () => {
  it('make email identity case-insensitive', () => {
    expect(keys.userEmail('Ada@Example.COM')).toBe(keys.userEmail('ada@example.com'));
    expect(normalizeEmail(' ÄDA@x.de ')).toBe('äda@x.de');
    expect(keys.userEmail('a@x.com')).not.toBe(keys.userEmail('b@x.com'));
  });

  it('follow the documented layout', () => {
    expect(keys.user('usr_1')).toBe('user:usr_1');
    expect(keys.userPurchases('usr_1')).toBe('user:usr_1:purchases');
    expect(keys.product('prd_1')).toBe('product:prd_1');
    expect(keys.purchase('pur_1')).toBe('purchase:pur_1');
    expect(keys.idempotency('k')).toBe('idempotency:purchase:k');
  });
});
