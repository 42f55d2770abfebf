import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BaseModel, Trainer } from '../../../domain/catalog/schema.js';
import { baseModelView, trainerView } from '../../../domain/catalog/visibility.js';
import type { Services } from '../../../services.js';
import { errorResponses, idParams, security } from '../../schemas.js';
import { caller } from '../../types.js';

/** Server paths in catalog entries are for admins only (issue #10). */
const isAdmin = (req: FastifyRequest) => caller(req).role === 'admin';

export type CatalogDeps = Pick<Services, 'catalog'>;

export default function catalogRoutes(app: FastifyInstance, s: CatalogDeps) {
  app.get('/v1/trainers', {
    schema: {
      tags: ['catalog'],
      summary: 'Trainers with their hyperparameter JSON Schema, dataset constraints, pricing and availability',
      security,
      response: { 200: { type: 'object', properties: { data: { type: 'array', items: Trainer } } }, ...errorResponses(401) },
    },
    handler: async (req) => {
      await s.catalog.ready();
      return { data: s.catalog.listTrainers().map((t) => trainerView(t, isAdmin(req))) };
    },
  });

  app.get<{ Params: { id: string } }>('/v1/trainers/:id', {
    schema: { tags: ['catalog'], summary: 'One trainer', security, params: idParams(), response: { 200: Trainer, ...errorResponses(401, 404) } },
    handler: async (req) => {
      await s.catalog.ready();
      return trainerView(s.catalog.trainer(req.params.id), isAdmin(req));
    },
  });

  app.get<{ Querystring: { trainer?: string } }>('/v1/base-models', {
    schema: {
      tags: ['catalog'],
      summary: 'Base models, optionally only those a trainer works with',
      security,
      querystring: { type: 'object', additionalProperties: false, properties: { trainer: { type: 'string', maxLength: 100 } } },
      response: { 200: { type: 'object', properties: { data: { type: 'array', items: BaseModel } } }, ...errorResponses(401) },
    },
    handler: async (req) => ({
      data: s.catalog.listBaseModels(req.query.trainer ? { trainer: req.query.trainer } : {}).map((m) => baseModelView(m, isAdmin(req))),
    }),
  });

  app.get<{ Params: { id: string } }>('/v1/base-models/:id', {
    schema: { tags: ['catalog'], summary: 'One base model', security, params: idParams(), response: { 200: BaseModel, ...errorResponses(401, 404) } },
    handler: async (req) => baseModelView(s.catalog.baseModel(req.params.id), isAdmin(req)),
  });
}
