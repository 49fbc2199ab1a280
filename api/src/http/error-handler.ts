import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import {
  InternalError,
  MalformedJsonError,
  NotFoundError,
  PayloadTooLargeError,
  ProblemError,
  UnsupportedMediaTypeError,
} from '../errors';
import { BODY_LIMIT } from './body';
import { requestLogFields } from './observability';

/** Unknown route (anything no router answered) → 404 problem. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`No route for ${req.method} ${req.path.slice(0, 200)}.`));
};

/** Errors of the JSON body parser and of Express itself (http-errors with `type`/`status`) → problems. */
export function toProblem(err: unknown): ProblemError | undefined {
  if (err instanceof ProblemError) return err;
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { type?: unknown; status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown };
  switch (e.type) {
    case 'entity.parse.failed':
      return new MalformedJsonError();
    case 'entity.too.large':
      return new PayloadTooLargeError(BODY_LIMIT.replace('kb', ' KiB'));
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeError(String(e.message));
    default:
      break;
  }
  const status = Number(e.status ?? e.statusCode);
  // An id whose percent-encoding does not decode (`/v1/users/%E0`) names nothing, as a malformed id does: 404, the
  // answer the contract gives every operation on an id (the router says 400 "Failed to decode param").
  if (status === 400 && typeof e.message === 'string' && e.message.startsWith('Failed to decode param')) {
    return new NotFoundError('No resource has this id.');
  }
  if (Number.isInteger(status) && status >= 400 && status < 500) {
    return new ProblemError(status, 'bad-request', 'Bad request', e.expose === true ? String(e.message) : undefined);
  }
  return undefined;
}

/** The one error handler: every error leaves as application/problem+json; unexpected ones are logged, 500. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    let problem = toProblem(err);
    if (problem === undefined) {
      logger.error({ err, req: requestLogFields(req) }, 'unhandled error');
      problem = new InternalError();
    }
    if (res.headersSent) {
      next(err);
      return;
    }
    res.status(problem.status).set(problem.headers).type('application/problem+json').send(JSON.stringify(problem.toBody()));
  };
}
