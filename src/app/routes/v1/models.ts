import type { FastifyInstance } from 'fastify';
import {
  Alias,
  ArtifactUrl,
  ListModelsQuery,
  Model,
  ModelList,
  ModelVersion,
  SetAliasBody,
  UpdateModelBody,
  type ListModelsInput,
  type SetAliasInput,
  type UpdateModelInput,
} from '../../../domain/registry/schema.js';
import type { Services } from '../../../services.js';
import { errorResponses, security } from '../../schemas.js';
import { caller } from '../../types.js';
import { baseUrl } from './files.js';

const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 200, description: 'Your model’s name, or owner/name (URL-encoded) for a public one' } },
} as const;

export type ModelDeps = Pick<Services, 'registry' | 'config'>;

export default function modelRoutes(app: FastifyInstance, s: ModelDeps) {
  app.get<{ Querystring: ListModelsInput }>('/v1/models', {
    schema: {
      tags: ['models'],
      summary: 'Your models, or every public model with visibility=public',
      security,
      querystring: ListModelsQuery,
      response: { 200: ModelList, ...errorResponses(400, 401) },
    },
    handler: async (req) => s.registry.list(caller(req).userId, req.query),
  });

  app.get<{ Params: { name: string } }>('/v1/models/:name', {
    schema: {
      tags: ['models'],
      summary: 'A model with its aliases and latest version',
      security,
      params: nameParams,
      response: { 200: Model, ...errorResponses(401, 404) },
    },
    handler: async (req) => s.registry.describe(await s.registry.resolve(caller(req).userId, req.params.name)),
  });

  app.patch<{ Params: { name: string }; Body: UpdateModelInput }>('/v1/models/:name', {
    schema: {
      tags: ['models'],
      summary: 'Change visibility, description, tags or trigger word of your model',
      security,
      params: nameParams,
      body: UpdateModelBody,
      response: { 200: Model, ...errorResponses(400, 401, 404) },
    },
    handler: async (req) => s.registry.update(caller(req).userId, req.params.name, req.body),
  });

  app.get<{ Params: { name: string } }>('/v1/models/:name/versions', {
    schema: {
      tags: ['models'],
      summary: 'Every version, newest first, with metrics and artifacts',
      security,
      params: nameParams,
      response: { 200: { type: 'object', properties: { data: { type: 'array', items: ModelVersion } } }, ...errorResponses(401, 404) },
    },
    handler: async (req) => s.registry.versionsOf(caller(req).userId, req.params.name),
  });

  app.get<{ Params: { name: string; v: string } }>('/v1/models/:name/versions/:v', {
    schema: {
      tags: ['models'],
      summary: 'One version, by number or alias (latest, best, or your own)',
      security,
      params: { type: 'object', required: ['name', 'v'], properties: { name: nameParams.properties.name, v: { type: 'string', maxLength: 50 } } },
      response: { 200: ModelVersion, ...errorResponses(401, 404) },
    },
    handler: async (req) => s.registry.getVersion(caller(req).userId, req.params.name, req.params.v),
  });

  app.put<{ Params: { name: string; alias: string }; Body: SetAliasInput }>('/v1/models/:name/aliases/:alias', {
    schema: {
      tags: ['models'],
      summary: 'Point an alias of your model at a version (latest and best are kept automatically)',
      security,
      params: { type: 'object', required: ['name', 'alias'], properties: { name: nameParams.properties.name, alias: { type: 'string', maxLength: 50 } } },
      body: SetAliasBody,
      response: { 200: Alias, ...errorResponses(400, 401, 404, 409) },
    },
    handler: async (req) => s.registry.setAlias(caller(req).userId, req.params.name, req.params.alias, req.body.version),
  });

  app.get<{ Params: { name: string; v: string; artifact: string }; Querystring: { redirect?: boolean } }>('/v1/models/:name/versions/:v/artifacts/:artifact', {
    schema: {
      tags: ['models'],
      summary: 'A signed, expiring download URL for an artifact (302 to it with ?redirect=true)',
      security,
      params: {
        type: 'object',
        required: ['name', 'v', 'artifact'],
        properties: { name: nameParams.properties.name, v: { type: 'string', maxLength: 50 }, artifact: { type: 'string', maxLength: 100 } },
      },
      querystring: { type: 'object', additionalProperties: false, properties: { redirect: { type: 'boolean' } } },
      response: {
        200: ArtifactUrl,
        302: { description: 'With ?redirect=true: to the signed URL (Location header)', type: 'null' },
        ...errorResponses(401, 404),
      },
    },
    handler: async (req, reply) => {
      const a = await s.registry.artifactUrl(caller(req).userId, req.params.name, req.params.v, req.params.artifact, baseUrl(s, req));
      return req.query.redirect ? reply.redirect(a.url, 302) : a;
    },
  });
}
