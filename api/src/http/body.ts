import express, { type RequestHandler } from 'express';
import { UnsupportedMediaTypeError } from '../errors';

/** The largest request body accepted (the contract's 64 KiB). */
export const BODY_LIMIT = '64kb';

const JSON_TYPES = ['application/json', 'application/*+json'];

const parseJson = express.json({ limit: BODY_LIMIT, strict: true, type: JSON_TYPES });

/**
 * The JSON body of a route that takes one, before its handler (`router.post('/', jsonBody, handler)`; a handler
 * after it types its own `req`, e.g. `Request<{ id: string }>`): a Content-Type that is not JSON, or no body at all
 * → 415; then the JSON parser: over 64 KiB → 413, malformed → 400 (both mapped to problems by the error handler).
 * Per route rather than for all of /v1, so that a request for a route that does not exist is a 404 whatever its
 * body (the contract's "unknown route → 404").
 */
export const jsonBody: RequestHandler = (req, res, next) => {
  if (!req.is(JSON_TYPES)) return next(new UnsupportedMediaTypeError());
  parseJson(req, res, next);
};
