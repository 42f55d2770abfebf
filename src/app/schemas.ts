/**
 * HTTP-only schema pieces: the error envelope, path ids and paging parameters. The shapes of
 * resources and request bodies live with their domain module (src/domain/<module>/schema.ts),
 * where the services take their input types from the same declaration.
 */

import { Cursor, PageLimit } from '../domain/schema-kit.js';

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
    },
  },
} as const;

export const errorResponses = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, { $ref: 'Error#' }]));

/** The parts of a route's options that decide which errors it can answer with. */
export interface RouteShape {
  method: string | string[];
  config?: { auth?: string; rateLimit?: unknown; errorRef?: string } | undefined;
  schema?: { hide?: boolean; params?: unknown; querystring?: unknown; headers?: unknown; body?: unknown; response?: Record<string, unknown> } | undefined;
}

/**
 * The error answers any route can give for what it is, not for what it does, so that each one
 * is documented in /openapi.json without every route repeating them:
 * - not public: 401 (no or bad credentials); 403 (admins only; a bot's key without
 *   X-On-Behalf-Of, or another key with it); 400 (a malformed X-On-Behalf-Of)
 * - rate limited (every route unless its config says rateLimit: false): 429
 * - path params: 400 (fails its schema), 404 (no such thing, or another owner's), 414 (a
 *   param longer than the router takes)
 * - a querystring or headers schema: 400
 * - a method that carries a body: 400 (not JSON, or fails its schema), 413 (too large), 415
 *   (a content type the route does not take)
 * What a route can answer beyond these (402, 409, 422, …) it lists itself with errorResponses.
 */
export function standardErrorStatuses(route: RouteShape): number[] {
  const statuses = new Set<number>();
  const auth = route.config?.auth ?? 'user';
  if (auth !== 'public') [400, 401, 403].forEach((s) => statuses.add(s));
  if (route.config?.rateLimit !== false) statuses.add(429);
  const schema = route.schema ?? {};
  if (schema.params) [400, 404, 414].forEach((s) => statuses.add(s));
  if (schema.querystring || schema.headers) statuses.add(400);
  const methods = ([] as string[]).concat(route.method).map((m) => m.toUpperCase());
  if (methods.some((m) => m !== 'GET' && m !== 'HEAD')) [400, 413, 415].forEach((s) => statuses.add(s));
  return [...statuses].sort((x, y) => x - y);
}

/** Adds the standard error answers to a route's documented responses (onRoute, before it is compiled). */
export function documentStandardErrors(route: RouteShape): void {
  if (!route.schema || route.schema.hide || !route.schema.response) return;
  const response = route.schema.response;
  // A compatibility facade's routes answer in the facade's own envelope (src/compat).
  const ref = route.config?.errorRef ?? 'Error#';
  for (const status of standardErrorStatuses(route)) if (!(String(status) in response)) response[status] = { $ref: ref };
}

export const idParams = (name = 'id') =>
  ({ type: 'object', required: [name], additionalProperties: false, properties: { [name]: { type: 'string', minLength: 1, maxLength: 100 } } }) as const;

export const pageQuery = { limit: PageLimit(200, 50), cursor: Cursor() };

/** The querystring of a plain paged list. */
export const pageQuerystring = { type: 'object', additionalProperties: false, properties: pageQuery } as const;
export interface PageQuery {
  limit: number;
  cursor?: string;
}

/** Bodyless answers (204). */
export const noContent = { type: 'null' } as const;

export const security = [{ bearer: [] }];
