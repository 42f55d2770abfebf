import type { FastifyInstance } from 'fastify';
import { CreateGenerationBody, Generation, GenerationPage, type CreateGenerationInput } from '../../../domain/generations/schema.js';
import type { Services } from '../../../services.js';
import { errorResponses, idParams, pageQuerystring, security, type PageQuery } from '../../schemas.js';
import { caller } from '../../types.js';
import { baseUrl } from './files.js';

export type GenerationDeps = Pick<Services, 'generations' | 'config'>;

export default function generationRoutes(app: FastifyInstance, s: GenerationDeps) {
  app.post<{ Body: CreateGenerationInput; Headers: { 'idempotency-key'?: string } }>('/v1/generations', {
    schema: {
      tags: ['generations'],
      summary:
        'Generate an image with a base model and, optionally, one of your LoRAs: a job of kind inference on the shared queue (202); Idempotency-Key makes retries safe',
      security,
      headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 200 } } },
      body: CreateGenerationBody,
      response: { 202: Generation, ...errorResponses(400, 401, 402, 404, 409, 422, 429) },
    },
    handler: async (req, reply) => {
      const { generation, replayed } = await s.generations.create(caller(req).userId, req.body, req.headers['idempotency-key']);
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.status(202).send(generation);
    },
  });

  app.get<{ Querystring: PageQuery }>('/v1/generations', {
    schema: {
      tags: ['generations'],
      summary: 'Your generations, newest first',
      security,
      querystring: pageQuerystring,
      response: { 200: GenerationPage, ...errorResponses(401) },
    },
    handler: async (req) => s.generations.list(caller(req).userId, req.query.limit, req.query.cursor, baseUrl(s, req)),
  });

  app.get<{ Params: { id: string } }>('/v1/generations/:id', {
    schema: {
      tags: ['generations'],
      summary: 'One generation; follow it live with GET /v1/jobs/{id}/events',
      security,
      params: idParams(),
      response: { 200: Generation, ...errorResponses(401, 404) },
    },
    handler: async (req) => s.generations.get(caller(req).userId, req.params.id, baseUrl(s, req)),
  });

  app.post<{ Params: { id: string } }>('/v1/generations/:id/cancel', {
    schema: {
      tags: ['generations'],
      summary: 'Cancel a queued or running generation (its credits come back)',
      security,
      params: idParams(),
      response: { 200: Generation, ...errorResponses(401, 404, 409) },
    },
    handler: async (req) => s.generations.cancel(caller(req).userId, req.params.id),
  });
}
