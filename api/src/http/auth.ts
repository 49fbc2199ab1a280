import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { UnauthorizedError } from '../errors';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** `Authorization: Bearer <token>` with one of `tokens`, compared in constant time; else 401 + WWW-Authenticate. */
export function requireBearer(tokens: readonly string[]): RequestHandler {
  const accepted = tokens.map(digest);
  return (req, _res, next) => {
    const m = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i.exec(req.get('Authorization') ?? '');
    const given = m ? digest(m[1]!) : undefined;
    // compare against every token (no early exit) so timing does not reveal which one matched
    let ok = false;
    for (const t of accepted) if (given !== undefined && timingSafeEqual(t, given)) ok = true;
    next(ok ? undefined : new UnauthorizedError());
  };
}
