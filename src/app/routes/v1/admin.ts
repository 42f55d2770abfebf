import type { FastifyInstance } from 'fastify';
import { BaseModel, CatalogCounts, RegisterBaseModelBody, type RegisterBaseModelInput } from '../../../domain/catalog/schema.js';
import { User } from '../../../domain/accounts/schema.js';
import { Page } from '../../../domain/schema-kit.js';
import type { Services } from '../../../services.js';
import { caller } from '../../types.js';
import { errorResponses, idParams, noContent, pageQuerystring, security, type PageQuery } from '../../schemas.js';

export type AdminDeps = Pick<Services, 'accounts' | 'catalog'>;

export default function adminRoutes(app: FastifyInstance, s: AdminDeps) {
  app.get<{ Querystring: PageQuery }>('/v1/admin/users', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Every account (admins only)',
      security,
      querystring: pageQuerystring,
      response: { 200: Page(User), ...errorResponses(401, 403) },
    },
    handler: async (req) => s.accounts.listUsers(req.query.limit, req.query.cursor),
  });

  app.post('/v1/admin/catalog/reload', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Re-read DATA_DIR/catalog.json and re-probe trainer runtimes, the Python environment included (admins only)',
      security,
      response: { 200: CatalogCounts, ...errorResponses(401, 403) },
    },
    handler: async () => {
      await s.catalog.load({ reprobe: true });
      await s.catalog.ready();
      return { trainers: s.catalog.listTrainers().length, base_models: s.catalog.listBaseModels().length };
    },
  });

  app.post<{ Body: RegisterBaseModelInput }>('/v1/admin/base-models', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Register a local folder as a base model (admins only); nothing is downloaded',
      security,
      body: RegisterBaseModelBody,
      response: { 201: BaseModel, ...errorResponses(400, 401, 403, 409) },
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
    schema: {
      tags: ['admin'],
      summary: 'Remove a registered base model (admins only); its files stay where they are',
      security,
      params: idParams(),
      response: { 204: noContent, ...errorResponses(401, 403, 404, 409) },
    },
    handler: async (req, reply) => {
      await s.catalog.unregisterBaseModel(req.params.id);
      return reply.code(204).send();
    },
  });
}
