import { ValidationError } from './errors';

/**
 * Opaque list cursors. A cursor carries the list it belongs to and the last id returned; the next page starts
 * strictly after that id in the list's order. Because ids are unique and the order is total, a walk returns every
 * item that exists for the whole walk exactly once, whatever is inserted or deleted meanwhile.
 */
export interface CursorPosition {
  /** the list this cursor walks, e.g. `users` or `user-purchases:<userId>` */
  readonly list: string;
  /** the last id of the previous page */
  readonly after: string;
}

export function encodeCursor(pos: CursorPosition): string {
  return Buffer.from(JSON.stringify({ v: 1, l: pos.list, a: pos.after }), 'utf8').toString('base64url');
}

/** Decodes a cursor for `list`; anything else (garbage, a cursor of another list) → 400 on `cursor`. */
export function decodeCursor(cursor: string, list: string): CursorPosition {
  const bad = () => new ValidationError([{ path: 'cursor', message: 'Invalid cursor.' }], 'The cursor is not valid for this list.');
  if (cursor.length === 0 || cursor.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    (parsed as { v?: unknown }).v !== 1 ||
    (parsed as { l?: unknown }).l !== list ||
    typeof (parsed as { a?: unknown }).a !== 'string' ||
    !/^[A-Za-z0-9_]{1,64}$/.test((parsed as { a: string }).a)
  ) {
    throw bad();
  }
  return { list, after: (parsed as { a: string }).a };
}
