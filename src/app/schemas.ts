/**
 * HTTP-only schema pieces: the error envelope, path ids and paging parameters. The shapes of
 * resources and request bodies live with their domain module (src/domain/<module>/schema.ts),
 * where the services take their input types from the same declaration.
 */

import { Cursor, PageLimit } from '../domain/schema-kit.js';

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
    },
  },
} as const;

export const errorResponses = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, { $ref: 'Error#' }]));

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
