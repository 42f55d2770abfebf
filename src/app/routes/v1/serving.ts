import type { FastifyInstance } from 'fastify';
import { FreeObject } from '../../../domain/schema-kit.js';
import { CacheEntry, LoadBody, PredictBody, Predictions, type LoadInput, type PredictInput } from '../../../serving/schema.js';
import type { Services } from '../../../services.js';
import { errorResponses, security } from '../../schemas.js';
import { caller } from '../../types.js';

const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 200 } } } as const;

export type ServingDeps = Pick<Services, 'serving' | 'config'>;

export default function servingRoutes(app: FastifyInstance, s: ServingDeps) {
  app.post<{ Params: { name: string }; Body: PredictInput }>('/v1/models/:name/predict', {
    schema: {
      tags: ['models'],
      summary: 'Predict with a version (default: latest): a class and probabilities per instance',
      description:
        'Instances are what the trainer expects: a row object for linear-classifier, an array of sequence_length rows for sequence-classifier, a string for text-classifier.',
      security,
      params: nameParams,
      body: PredictBody,
      response: { 200: Predictions, ...errorResponses(400, 401, 404, 409) },
    },
    handler: async (req) => s.serving.predict(caller(req).userId, req.params.name, req.body),
  });

  app.post<{ Params: { name: string }; Body: LoadInput | null | undefined }>('/v1/models/:name/load', {
    schema: {
      tags: ['models'],
      summary: 'Load a version into the prediction cache ahead of use (202; see /v1/serving/status)',
      security,
      params: nameParams,
      body: LoadBody,
      response: { 202: CacheEntry, ...errorResponses(400, 401, 404, 409) },
    },
    handler: async (req, reply) => reply.status(202).send(await s.serving.load(caller(req).userId, req.params.name, req.body ?? {})),
  });

  app.get('/v1/serving/status', {
    schema: {
      tags: ['models'],
      summary: 'Your models in this server’s prediction cache: loading state and progress',
      security,
      response: { 200: { type: 'object', properties: { data: { type: 'array', items: CacheEntry }, cache: FreeObject() } }, ...errorResponses(401) },
    },
    handler: async (req) => ({ data: s.serving.status(caller(req).userId), cache: { max_bytes: s.config.serving.cacheBytes } }),
  });
}
