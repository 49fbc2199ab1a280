import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { IdParam, ListQuery, Timestamp, createdResponse, pageOf, problems, text } from '../http/common-schema';
import { PurchasePage } from '../purchases/schema';

const Name = text(1, 200).meta({ description: '1..200 characters', example: 'Ada Lovelace' });
const Email = z.email().max(254).meta({ description: 'Unique, compared case-insensitively', example: 'ada@example.com' });

export const UserSchema = z
  .object({ id: z.string(), name: z.string(), email: z.string(), createdAt: Timestamp, updatedAt: Timestamp })
  .meta({ id: 'User' });
export type User = z.output<typeof UserSchema>;

export const CreateUserBody = z.strictObject({ name: Name, email: Email }).meta({ id: 'CreateUser' });
export type CreateUserBody = z.output<typeof CreateUserBody>;

export const UpdateUserBody = z
  .strictObject({ name: Name.optional(), email: Email.optional() })
  .refine((b) => b.name !== undefined || b.email !== undefined, { message: 'Give at least one of name, email.' })
  .meta({ id: 'UpdateUser' });
export type UpdateUserBody = z.output<typeof UpdateUserBody>;

export const UserPage = pageOf(UserSchema, 'UserPage');

const json = <T extends z.ZodType>(schema: T) => ({ 'application/json': { schema } });

export function describeUsers(registry: OpenAPIRegistry): void {
  const id = IdParam('User id');
  registry.registerPath({
    method: 'post', path: '/v1/users', tags: ['users'], summary: 'Create a user',
    request: { body: { required: true, content: json(CreateUserBody) } },
    responses: { 201: createdResponse(UserSchema, '/v1/users/{id}'), ...problems(400, 401, 409, 413, 415, 503) },
  });
  registry.registerPath({
    method: 'get', path: '/v1/users', tags: ['users'], summary: 'List users (by id = creation order)',
    request: { query: ListQuery },
    responses: { 200: { description: 'A page', content: json(UserPage) }, ...problems(400, 401, 503) },
  });
  registry.registerPath({
    method: 'get', path: '/v1/users/{id}', tags: ['users'], summary: 'Get a user',
    request: { params: id },
    responses: { 200: { description: 'The user', content: json(UserSchema) }, ...problems(401, 404, 503) },
  });
  registry.registerPath({
    method: 'patch', path: '/v1/users/{id}', tags: ['users'], summary: 'Change name and/or email',
    request: { params: id, body: { required: true, content: json(UpdateUserBody) } },
    responses: { 200: { description: 'Updated', content: json(UserSchema) }, ...problems(400, 401, 404, 409, 413, 415, 503) },
  });
  registry.registerPath({
    method: 'delete', path: '/v1/users/{id}', tags: ['users'], summary: 'Delete a user (their purchases stay as history)',
    request: { params: id },
    responses: { 204: { description: 'Deleted' }, ...problems(401, 404, 503) },
  });
  registry.registerPath({
    method: 'get', path: '/v1/users/{id}/purchases', tags: ['users', 'purchases'], summary: "A user's purchases, newest first",
    request: { params: id, query: ListQuery },
    responses: { 200: { description: 'A page', content: json(PurchasePage) }, ...problems(400, 401, 404, 503) },
  });
}
