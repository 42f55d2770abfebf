import type { FastifyInstance } from 'fastify';
import type { Services } from '../../../services.js';
import { errorResponses, freeObject } from '../../schemas.js';
import { caller } from '../../types.js';

const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 200 } } } as const;
const which = { version: { type: 'integer', minimum: 1 }, alias: { type: 'string', minLength: 1, maxLength: 50 } } as const;
const statusItem = { type: 'object', additionalProperties: true, properties: { model: { type: 'string' }, version: { type: 'integer' }, state: { type: 'string', enum: ['loading', 'ready', 'error'] }, progress: { type: 'number' } } } as const;

export default function servingRoutes(app: FastifyInstance, s: Services) {
  const security = [{ bearer: [] }];

  app.post<{ Params: { name: string }; Body: { version?: number; alias?: string; instances: unknown[] } }>('/v1/models/:name/predict', {
    schema: {
      tags: ['models'],
      summary: 'Predict with a version (default: latest): a class and probabilities per instance',
      description: 'Instances are what the trainer expects: a row object for linear-classifier, an array of sequence_length rows for sequence-classifier, a string for text-classifier.',
      security,
      params: nameParams,
      body: { type: 'object', required: ['instances'], additionalProperties: false, properties: { ...which, instances: { type: 'array', minItems: 1 } } },
      response: {
        200: {
          type: 'object',
          properties: {
            model: { type: 'string' },
            version: { type: 'integer' },
            predictions: { type: 'array', items: { type: 'object', properties: { label: { type: 'string' }, probabilities: { type: 'object', additionalProperties: { type: 'number' } } } } },
            took_ms: { type: 'number' },
          },
        },
        ...errorResponses(400, 401, 404, 409),
      },
    },
    handler: async (req) => s.serving.predict(caller(req).userId, req.params.name, req.body),
  });

  app.post<{ Params: { name: string }; Body: { version?: number; alias?: string } | undefined }>('/v1/models/:name/load', {
    schema: { tags: ['models'], summary: 'Load a version into the prediction cache ahead of use (202; see /v1/serving/status)', security, params: nameParams, body: { type: ['object', 'null'], additionalProperties: false, properties: which }, response: { 202: statusItem, ...errorResponses(400, 401, 404, 409) } },
    handler: async (req, reply) => reply.status(202).send(await s.serving.load(caller(req).userId, req.params.name, req.body ?? {})),
  });

  app.get('/v1/serving/status', {
    schema: { tags: ['models'], summary: 'Your models in this server’s prediction cache: loading state and progress', security, response: { 200: { type: 'object', properties: { data: { type: 'array', items: statusItem }, cache: freeObject } }, ...errorResponses(401) } },
    handler: async (req) => ({ data: s.serving.status(caller(req).userId), cache: { max_bytes: s.config.serving.cacheBytes } }),
  });
}
