/**
 * Typed operational errors, each one RFC 9457 problem type. Route code throws these; the central error
 * handler (http/error-handler.ts) renders them as application/problem+json. Anything else is a bug → 500.
 */

/** Base of every problem type URI; the last path segment names the problem (e.g. `.../insufficient-stock`). */
export const PROBLEM_TYPE_BASE = 'https://evergreen-stores.example/problems/';

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly errors?: readonly FieldError[];
}

export class ProblemError extends Error {
  constructor(
    readonly status: number,
    /** last segment of the problem type URI */
    readonly slug: string,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: readonly FieldError[],
    /** extra response headers (e.g. WWW-Authenticate, Retry-After) */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail ?? title);
    this.name = new.target.name;
  }

  toBody(): ProblemBody {
    return {
      type: PROBLEM_TYPE_BASE + this.slug,
      title: this.title,
      status: this.status,
      ...(this.detail !== undefined ? { detail: this.detail } : {}),
      ...(this.errors !== undefined ? { errors: this.errors } : {}),
    };
  }
}

export class ValidationError extends ProblemError {
  constructor(errors: readonly FieldError[], detail = 'The request does not match the schema.') {
    super(400, 'validation-failed', 'Request validation failed', detail, errors);
  }
}

export class MalformedJsonError extends ProblemError {
  constructor(detail = 'The request body is not valid JSON.') {
    super(400, 'malformed-json', 'Malformed JSON', detail);
  }
}

export class UnauthorizedError extends ProblemError {
  constructor(detail = 'A valid bearer token is required.') {
    super(401, 'unauthorized', 'Unauthorized', detail, undefined, { 'WWW-Authenticate': 'Bearer' });
  }
}

export class NotFoundError extends ProblemError {
  constructor(detail: string) {
    super(404, 'not-found', 'Not found', detail);
  }
}

export class EmailTakenError extends ProblemError {
  constructor() {
    super(409, 'email-taken', 'Email already in use', 'Another user already has this email address.');
  }
}

export class InsufficientStockError extends ProblemError {
  constructor(detail: string) {
    super(409, 'insufficient-stock', 'Insufficient stock', detail);
  }
}

export class PayloadTooLargeError extends ProblemError {
  constructor(limit: string) {
    super(413, 'payload-too-large', 'Payload too large', `The request body exceeds ${limit}.`);
  }
}

export class UnsupportedMediaTypeError extends ProblemError {
  constructor(detail = 'The request body must be JSON (Content-Type: application/json).') {
    super(415, 'unsupported-media-type', 'Unsupported media type', detail);
  }
}

export class IdempotencyKeyReusedError extends ProblemError {
  constructor() {
    super(
      422,
      'idempotency-key-reused',
      'Idempotency key reused',
      'This Idempotency-Key was already used with a different request body.',
    );
  }
}

/**
 * Redis could not serve the request within its time bound (failover in progress, no replica acknowledged a
 * purchase, master unreachable). Retrying is safe for reads; for purchases retry with the same Idempotency-Key.
 */
export class ServiceUnavailableError extends ProblemError {
  constructor(detail: string, retryAfterSeconds = 1) {
    super(503, 'service-unavailable', 'Service unavailable', detail, undefined, {
      'Retry-After': String(retryAfterSeconds),
    });
  }
}

export class InternalError extends ProblemError {
  constructor() {
    super(500, 'internal-error', 'Internal server error', 'An unexpected error occurred; it has been logged.');
  }
}
