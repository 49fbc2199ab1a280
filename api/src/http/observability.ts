import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { ApiMetrics } from '../ops/metrics';

/** An incoming X-Request-Id is kept when it is a sane token (≤ 128 printable chars), else a UUID is generated. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && /^[\x21-\x7e]{1,128}$/.test(value) ? value : randomUUID();
}

declare module 'node:http' {
  interface IncomingMessage {
    /** The request id (X-Request-Id), set by observeRequests. */
    id?: string;
  }
}

/** How a request appears in a log line (the request line and the error handler's): `{ id, method, url }`. */
export function requestLogFields(req: Request): { id: string | undefined; method: string; url: string } {
  return { id: req.id, method: req.method, url: req.originalUrl };
}

/** The status label of a request whose client went away before its response was sent (nginx's 499). */
export const CLIENT_CLOSED_REQUEST = '499';

/** Paths that are not logged: probes and scrapes every few seconds would drown the log. */
const UNLOGGED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * What every request gets, in one middleware with one listener per response event (each layer and listener is
 * paid on every request: docs/performance.md):
 * - a request id on the request (req.id) and the response (X-Request-Id);
 * - the HTTP metrics (count and duration by method, route template and status) when the response finishes, or
 *   with status 499 when the client went away first;
 * - one log line when its response ends: `{ req: { id, method, url }, res: { statusCode }, responseTime }` (ms), at
 *   `info`, or at `error` for a 5xx; `aborted: true` when the client went away first. Probes and scrapes are not
 *   logged.
 *
 * Written here rather than with pino-http, which builds two child loggers per request and serializes the
 * request into them up front, logged or not: 12–16 % of an API instance's CPU on GET /healthz, a path it does
 * not even log (docs/performance.md). The line has pino-http's shape, so log queries did not change.
 */
export function observeRequests(logger: Logger, metrics: ApiMetrics): RequestHandler {
  return (req, res, next) => {
    const id = requestIdFrom(req.headers['x-request-id']);
    req.id = id;
    res.setHeader('X-Request-Id', id);
    const started = process.hrtime.bigint();
    const operational = UNLOGGED_PATHS.has(req.url);
    // at LOG_LEVEL warn/error only the 5xx lines are written, so the line is needed down to `error`
    const logged = !operational && logger.isLevelEnabled('error');
    if (!operational) metrics.httpInFlight.inc();
    const done = () => {
      res.off('finish', done);
      res.off('close', done);
      if (!operational) metrics.httpInFlight.dec();
      const finished = res.writableFinished;
      const elapsedNs = process.hrtime.bigint() - started;
      // A request whose client went away first (nginx gave up at its read timeout, or the client closed) is counted
      // too, as 499 (nginx's "client closed request"): left out, the slowest requests would vanish from the request
      // counts and the latency histogram (and its alert) exactly when things go wrong. Not a 5xx: the answer the
      // client got (nginx's 504, a closed connection) is not the API's.
      const labels = {
        method: req.method,
        route: routeLabel(typeof res.locals.mountPath === 'string' ? res.locals.mountPath : '', (req.route as { path?: unknown } | undefined)?.path),
        status: finished ? String(res.statusCode) : CLIENT_CLOSED_REQUEST,
      };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, Number(elapsedNs) / 1e9);
      if (!logged) return;
      const level = res.statusCode >= 500 ? 'error' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      const line = {
        req: requestLogFields(req),
        res: { statusCode: res.statusCode },
        responseTime: Math.round(Number(elapsedNs) / 1e6),
        ...(finished ? {} : { aborted: true }),
      };
      if (level === 'error') logger.error(line, 'request errored');
      else logger.info(line, 'request completed');
    };
    res.on('finish', done);
    res.on('close', done);
    next();
  };
}

/** Route template of the request: `/v1/users/:id`, or `unmatched` when no route answered. */
export function routeLabel(baseUrl: string, routePath: unknown): string {
  if (typeof routePath !== 'string') return 'unmatched';
  const full = `${baseUrl}${routePath}`;
  return full.length > 1 && full.endsWith('/') ? full.slice(0, -1) : full;
}

/**
 * Express restores req.baseUrl when an error leaves a router, so the mount path is remembered on the way in
 * (mount this before each feature router) for the route label computed when the response finishes.
 */
export const rememberMountPath: RequestHandler = (req, res, next) => {
  res.locals.mountPath = req.baseUrl;
  next();
};
