import type { FastifyInstance } from 'fastify';
import type { Services } from '../../../services.js';
import { errorResponses, freeObject } from '../../schemas.js';
import { caller } from '../../types.js';
import { baseUrl } from './files.js';

const modelSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    owner: { type: 'string' },
    visibility: { type: 'string', enum: ['private', 'public'] },
    description: { type: ['string', 'null'] },
    tags: { type: 'array', items: { type: 'string' } },
    trigger_word: { type: ['string', 'null'] },
    trainer: { type: 'string' },
    primary_metric: { type: ['string', 'null'] },
    metric_goal: { type: ['string', 'null'] },
    popularity: { type: 'integer' },
    version_count: { type: 'integer' },
    aliases: { type: 'object', additionalProperties: { type: 'integer' } },
    latest_version: { type: ['object', 'null'], additionalProperties: true },
    created_at: { type: 'string' },
    updated_at: { type: 'string' },
  },
} as const;
const versionSchema = { type: 'object', additionalProperties: true, properties: { version: { type: 'integer' }, metrics: freeObject, artifacts: { type: 'array', items: freeObject } } } as const;
const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 200, description: 'Your model’s name, or owner/name (URL-encoded) for a public one' } } } as const;

export default function modelRoutes(app: FastifyInstance, s: Services) {
  const security = [{ bearer: [] }];

  app.get<{ Querystring: { visibility?: 'public'; sort: 'newest' | 'popular'; page: number; limit: number } }>('/v1/models', {
    schema: {
      tags: ['models'],
      summary: 'Your models, or every public model with visibility=public',
      security,
      querystring: { type: 'object', additionalProperties: false, properties: { visibility: { type: 'string', enum: ['public'] }, sort: { type: 'string', enum: ['newest', 'popular'], default: 'newest' }, page: { type: 'integer', minimum: 1, default: 1 }, limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 } } },
      response: { 200: { type: 'object', properties: { data: { type: 'array', items: modelSchema }, page: { type: 'integer' }, has_more: { type: 'boolean' } } }, ...errorResponses(400, 401) },
    },
    handler: async (req) => s.registry.list(caller(req).userId, req.query),
  });

  app.get<{ Params: { name: string } }>('/v1/models/:name', {
    schema: { tags: ['models'], summary: 'A model with its aliases and latest version', security, params: nameParams, response: { 200: modelSchema, ...errorResponses(401, 404) } },
    handler: async (req) => s.registry.describe(await s.registry.resolve(caller(req).userId, req.params.name)),
  });

  app.patch<{ Params: { name: string }; Body: { visibility?: 'private' | 'public'; description?: string | null; tags?: string[]; trigger_word?: string | null } }>('/v1/models/:name', {
    schema: {
      tags: ['models'],
      summary: 'Change visibility, description, tags or trigger word of your model',
      security,
      params: nameParams,
      body: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: { visibility: { type: 'string', enum: ['private', 'public'] }, description: { type: ['string', 'null'], maxLength: 2000 }, tags: { type: 'array', maxItems: 20, items: { type: 'string', minLength: 1, maxLength: 50 } }, trigger_word: { type: ['string', 'null'], maxLength: 50 } },
      },
      response: { 200: modelSchema, ...errorResponses(400, 401, 404) },
    },
    handler: async (req) => s.registry.update(caller(req).userId, req.params.name, req.body),
  });

  app.get<{ Params: { name: string } }>('/v1/models/:name/versions', {
    schema: { tags: ['models'], summary: 'Every version, newest first, with metrics and artifacts', security, params: nameParams, response: { 200: { type: 'object', properties: { data: { type: 'array', items: versionSchema } } }, ...errorResponses(401, 404) } },
    handler: async (req) => s.registry.versionsOf(caller(req).userId, req.params.name),
  });

  app.get<{ Params: { name: string; v: string } }>('/v1/models/:name/versions/:v', {
    schema: { tags: ['models'], summary: 'One version, by number or alias (latest, best, or your own)', security, params: { type: 'object', required: ['name', 'v'], properties: { name: nameParams.properties.name, v: { type: 'string', maxLength: 50 } } }, response: { 200: versionSchema, ...errorResponses(401, 404) } },
    handler: async (req) => s.registry.getVersion(caller(req).userId, req.params.name, req.params.v),
  });

  app.put<{ Params: { name: string; alias: string }; Body: { version: number } }>('/v1/models/:name/aliases/:alias', {
    schema: {
      tags: ['models'],
      summary: 'Point an alias of your model at a version (latest and best are kept automatically)',
      security,
      params: { type: 'object', required: ['name', 'alias'], properties: { name: nameParams.properties.name, alias: { type: 'string', maxLength: 50 } } },
      body: { type: 'object', required: ['version'], additionalProperties: false, properties: { version: { type: 'integer', minimum: 1 } } },
      response: { 200: { type: 'object', properties: { alias: { type: 'string' }, version: { type: 'integer' }, history: { type: 'array', items: freeObject } } }, ...errorResponses(400, 401, 404, 409) },
    },
    handler: async (req) => s.registry.setAlias(caller(req).userId, req.params.name, req.params.alias, req.body.version),
  });

  app.get<{ Params: { name: string; v: string; artifact: string }; Querystring: { redirect?: boolean } }>('/v1/models/:name/versions/:v/artifacts/:artifact', {
    schema: {
      tags: ['models'],
      summary: 'A signed, expiring download URL for an artifact (302 to it with ?redirect=true)',
      security,
      params: { type: 'object', required: ['name', 'v', 'artifact'], properties: { name: nameParams.properties.name, v: { type: 'string', maxLength: 50 }, artifact: { type: 'string', maxLength: 100 } } },
      querystring: { type: 'object', additionalProperties: false, properties: { redirect: { type: 'boolean' } } },
      response: { 200: { type: 'object', properties: { name: { type: 'string' }, format: { type: 'string' }, bytes: { type: 'integer' }, sha256: { type: 'string' }, url: { type: 'string' }, expires_at: { type: 'string' } } }, ...errorResponses(401, 404) },
    },
    handler: async (req, reply) => {
      const a = await s.registry.artifactUrl(caller(req).userId, req.params.name, req.params.v, req.params.artifact, baseUrl(s, req));
      return req.query.redirect ? reply.redirect(a.url, 302) : a;
    },
  });
}
