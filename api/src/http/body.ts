import express, { type RequestHandler } from 'express';
import { UnsupportedMediaTypeError } from '../errors';

/** The largest request body accepted (the contract's 64 KiB). */
export const BODY_LIMIT = '64kb';

const BODY_METHODS = new Set(['POST', 'PATCH', 'PUT']);

/**
 * JSON bodies only: a POST/PATCH whose Content-Type is not JSON (or that has no body) → 415; then the JSON
 * parser: over 64 KiB → 413, malformed → 400 (both mapped to problems by the error handler).
 */
export function jsonBody(): RequestHandler[] {
  const requireJson: RequestHandler = (req, _res, next) => {
    if (!BODY_METHODS.has(req.method)) return next();
    const type = req.is(['application/json', 'application/*+json']);
    next(type ? undefined : new UnsupportedMediaTypeError());
  };
  return [requireJson, express.json({ limit: BODY_LIMIT, strict: true, type: ['application/json', 'application/*+json'] })];
}
