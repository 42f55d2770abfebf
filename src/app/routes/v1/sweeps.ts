import type { FastifyInstance } from 'fastify';
import type { CreateSweepInput } from '../../../domain/sweeps/service.js';
import type { Services } from '../../../services.js';
import { errorResponses, freeObject, idParams, pageQuery } from '../../schemas.js';
import { caller } from '../../types.js';

const sweepSchema = { type: 'object', additionalProperties: true, properties: { id: { type: 'string' }, status: { type: 'string' }, points: { type: 'array', items: freeObject }, best: { type: ['object', 'null'], additionalProperties: true } } } as const;

export default function sweepRoutes(app: FastifyInstance, s: Services) {
  const security = [{ bearer: [] }];

  app.post<{ Body: CreateSweepInput }>('/v1/sweeps', {
    schema: {
      tags: ['sweeps'],
      summary: 'Start a grid × repeats of jobs (e.g. compare architectures); all are created, with their holds, or none',
      security,
      body: {
        type: 'object',
        required: ['trainer', 'dataset_id', 'grid'],
        additionalProperties: false,
        properties: {
          trainer: { type: 'string', minLength: 1, maxLength: 100 },
          dataset_id: { type: 'string', minLength: 1, maxLength: 100 },
          validation_dataset_id: { type: 'string', minLength: 1, maxLength: 100 },
          base_model: { type: 'string', minLength: 1, maxLength: 100 },
          hyperparameters: { type: 'object' },
          grid: { type: 'object', minProperties: 1, maxProperties: 10, additionalProperties: { type: 'array', minItems: 1, maxItems: 50 } },
          repeats: { type: 'integer', minimum: 1, maximum: 20, default: 1 },
          metric: { type: 'string', minLength: 1, maxLength: 100, description: 'Metric to rank grid points by (default: the trainer’s primary metric)' },
          output: { type: 'object', required: ['model_name'], additionalProperties: false, properties: { model_name: { type: 'string', minLength: 1, maxLength: 100 }, description: { type: 'string', maxLength: 2000 } } },
        },
      },
      response: { 201: sweepSchema, ...errorResponses(400, 401, 402, 404, 409, 429) },
    },
    handler: async (req, reply) => reply.status(201).send(await s.sweeps.create(caller(req).userId, req.body)),
  });

  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/sweeps', {
    schema: { tags: ['sweeps'], summary: 'Your sweeps, newest first', security, querystring: { type: 'object', additionalProperties: false, properties: { ...pageQuery, limit: { ...pageQuery.limit, maximum: 50, default: 20 } } }, response: { 200: { type: 'object', properties: { data: { type: 'array', items: sweepSchema }, next_cursor: { type: ['string', 'null'] } } }, ...errorResponses(400, 401) } },
    handler: async (req) => s.sweeps.list(caller(req).userId, req.query.limit, req.query.cursor),
  });

  app.get<{ Params: { id: string } }>('/v1/sweeps/:id', {
    schema: { tags: ['sweeps'], summary: 'A sweep with, per grid point, the mean, standard deviation and every value of each metric', security, params: idParams(), response: { 200: sweepSchema, ...errorResponses(401, 404) } },
    handler: async (req) => s.sweeps.get(caller(req).userId, req.params.id),
  });

  app.post<{ Params: { id: string } }>('/v1/sweeps/:id/cancel', {
    schema: { tags: ['sweeps'], summary: 'Cancel every unfinished job of the sweep', security, params: idParams(), response: { 200: sweepSchema, ...errorResponses(401, 404) } },
    handler: async (req) => s.sweeps.cancel(caller(req).userId, req.params.id),
  });
}
