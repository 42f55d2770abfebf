import type { FastifyInstance } from 'fastify';
import type { Services } from '../../../services.js';
import { caller } from '../../types.js';
import { baseModelSchema, errorResponses, idParams, page, pageQuery, userSchema } from '../../schemas.js';

const ID = '^[a-z0-9][a-z0-9._-]{0,99}$';

const registerBaseModelBody = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'architecture', 'trainers', 'path'],
  properties: {
    id: { type: 'string', pattern: ID },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    description: { type: 'string', maxLength: 2000 },
    architecture: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,49}$', description: 'stable-diffusion, llama, bert, …' },
    trainers: { type: 'array', minItems: 1, maxItems: 20, uniqueItems: true, items: { type: 'string', pattern: ID } },
    path: { type: 'string', minLength: 1, maxLength: 4096, description: 'A folder on the server (absolute, or relative to DATA_DIR) saved with save_pretrained' },
    version: { type: 'string', maxLength: 100 },
    supported_lora_params: {
      type: 'object',
      additionalProperties: false,
      required: ['min_rank', 'max_rank', 'default_alpha'],
      properties: { min_rank: { type: 'integer', minimum: 1 }, max_rank: { type: 'integer', minimum: 1 }, default_alpha: { type: 'integer', minimum: 1 } },
    },
  },
} as const;

interface RegisterBody { id: string; name?: string; description?: string; architecture: string; trainers: string[]; path: string; version?: string; supported_lora_params?: { min_rank: number; max_rank: number; default_alpha: number } }

export default function adminRoutes(app: FastifyInstance, s: Services) {
  const security = [{ bearer: [] }];

  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/admin/users', {
    config: { auth: 'admin' },
    schema: { tags: ['admin'], summary: 'Every account (admins only)', security, querystring: { type: 'object', additionalProperties: false, properties: pageQuery }, response: { 200: page(userSchema), ...errorResponses(401, 403) } },
    handler: async (req) => s.accounts.listUsers(req.query.limit, req.query.cursor),
  });

  app.post('/v1/admin/catalog/reload', {
    config: { auth: 'admin' },
    schema: { tags: ['admin'], summary: 'Re-read DATA_DIR/catalog.json and re-probe trainer runtimes, the Python environment included (admins only)', security, response: { 200: { type: 'object', properties: { trainers: { type: 'integer' }, base_models: { type: 'integer' } } }, ...errorResponses(401, 403) } },
    handler: async () => {
      await s.catalog.load({ reprobe: true });
      await s.catalog.ready();
      return { trainers: s.catalog.listTrainers().length, base_models: s.catalog.listBaseModels().length };
    },
  });

  app.post<{ Body: RegisterBody }>('/v1/admin/base-models', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Register a local folder as a base model (admins only); nothing is downloaded',
      security,
      body: registerBaseModelBody,
      response: { 201: baseModelSchema, ...errorResponses(400, 401, 403, 409) },
    },
    handler: async (req, reply) => {
      const b = req.body;
      const m = await s.catalog.registerBaseModel(
        {
          id: b.id,
          name: b.name ?? b.id,
          description: b.description ?? '',
          architecture: b.architecture,
          trainers: b.trainers,
          source: b.path,
          ...(b.version ? { version: b.version } : {}),
          ...(b.supported_lora_params ? { supported_lora_params: b.supported_lora_params } : {}),
        },
        caller(req).userId,
      );
      return reply.code(201).send(m);
    },
  });

  app.delete<{ Params: { id: string } }>('/v1/admin/base-models/:id', {
    config: { auth: 'admin' },
    schema: { tags: ['admin'], summary: 'Remove a registered base model (admins only); its files stay where they are', security, params: idParams(), response: { 204: { type: 'null' }, ...errorResponses(401, 403, 404, 409) } },
    handler: async (req, reply) => {
      await s.catalog.unregisterBaseModel(req.params.id);
      return reply.code(204).send();
    },
  });
}
