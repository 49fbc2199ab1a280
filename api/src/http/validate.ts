import { z } from 'zod';
import { ValidationError, type FieldError } from '../errors';

/** zod issues → the problem's `errors` list; `where` names the part of the request for top-level issues. */
export function fieldErrors(error: z.ZodError, where: string): FieldError[] {
  return error.issues.map((issue) => ({
    path: issue.path.length > 0 ? issue.path.map(String).join('.') : where,
    message: issue.message,
  }));
}

/** Parses `value` with `schema`, or throws a 400 ValidationError listing every problem. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ValidationError(fieldErrors(parsed.error, where));
  return parsed.data;
}
