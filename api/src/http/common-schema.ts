import { z } from 'zod';

/** Shapes shared by every feature: timestamps, problems, list queries and pages. */

/** A string whose every surrogate is half of a pair. No `u` flag: it must read the same in any regex dialect. */
const WELL_FORMED = /^(?:[^\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/;

/**
 * Free text of `min`..`max` characters (code points), well-formed: JSON can carry a lone surrogate (`"\ud800"`),
 * which Redis would store as U+FFFD — the 201 would echo one name and every later read another. A refinement, not
 * a `pattern` of the document: zod-to-openapi writes a regex's flags into the pattern (`…$/u`), which then matches
 * nothing, and a client's strings are well-formed anyway.
 */
export function text(min: number, max: number) {
  return z
    .string()
    .min(min)
    .max(max)
    .refine((s) => WELL_FORMED.test(s), 'must be well-formed Unicode (no lone surrogate)');
}

/**
 * An integer that may exceed 32 bits (cents, stock: up to 10¹⁵): `format: int64`, or client generators make it a
 * 32-bit integer.
 */
export function int64() {
  return z.number().int().meta({ format: 'int64' });
}

export const Timestamp = z.iso.datetime().meta({ description: 'ISO 8601 UTC timestamp', example: '2026-01-31T12:00:00.000Z' });

export const ProblemSchema = z
  .object({
    type: z.string().meta({ description: 'URI of the problem type; its last segment names it (e.g. insufficient-stock)' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' });

export const ListQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(20)
    .meta({ description: 'Page size, 1..100', example: 20 }),
  cursor: z.string().min(1).max(1024).optional().meta({ description: 'Opaque cursor: nextCursor of the previous page' }),
});
export type ListQuery = z.output<typeof ListQuery>;

export function pageOf<T extends z.ZodType>(item: T, id: string) {
  return z
    .object({
      items: z.array(item),
      nextCursor: z.string().nullable().meta({ description: 'Cursor of the next page; null on the last page' }),
    })
    .meta({ id });
}

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

const problemContent = { 'application/problem+json': { schema: ProblemSchema } };

/** An OpenAPI response header of a string value. */
export const stringHeader = (description: string) => ({ description, schema: { type: 'string' as const } });

/** OpenAPI response entries for the problems an endpoint can answer. */
export const problemResponses = {
  400: { description: 'Malformed JSON or validation failure (with `errors`)', content: problemContent },
  401: {
    description: 'Missing or invalid bearer token',
    headers: { 'WWW-Authenticate': stringHeader('`Bearer`') },
    content: problemContent,
  },
  404: { description: 'Not found', content: problemContent },
  409: { description: 'Conflict', content: problemContent },
  413: { description: 'Body over 64 KiB', content: problemContent },
  415: { description: 'Body is not JSON', content: problemContent },
  422: { description: 'Idempotency-Key reused with another body', content: problemContent },
  503: {
    description: 'Data store unavailable (e.g. during a failover); retry',
    headers: { 'Retry-After': stringHeader('Seconds to wait before retrying') },
    content: problemContent,
  },
} as const;

/**
 * Any other status a client may meet is a problem too: 429 from the gateway's rate limit (with Retry-After), 500 on
 * a bug of the service.
 */
const otherProblems = {
  description: 'Any other problem: 429 from the gateway (rate limit; Retry-After), 500 on an unexpected error',
  content: problemContent,
};

/** The problem responses of an operation: `statuses`, and `default` for any other. */
export function problems(...statuses: (keyof typeof problemResponses)[]) {
  return { ...Object.fromEntries(statuses.map((s) => [s, problemResponses[s]])), default: otherProblems };
}

/** The OpenAPI 201 response of a create: the resource, its URL in Location, and `more` headers. */
export function createdResponse(
  schema: z.ZodType,
  path: string,
  more: { readonly description?: string; readonly headers?: Readonly<Record<string, ReturnType<typeof stringHeader>>> } = {},
) {
  return {
    description: more.description ?? 'Created',
    headers: { Location: stringHeader(`URL of the new resource: ${path}`), ...more.headers },
    content: { 'application/json': { schema } },
  };
}

/** Path id parameter schema for OpenAPI. */
export const IdParam = (description: string) => z.object({ id: z.string().meta({ description }) });
