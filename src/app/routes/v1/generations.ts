import type { FastifyInstance } from 'fastify';
import type { CreateGenerationInput } from '../../../domain/generations/service.js';
import type { Services } from '../../../services.js';
import { errorResponses, idParams, nullableString, page, pageQuery } from '../../schemas.js';
import { caller } from '../../types.js';
import { baseUrl } from './files.js';

const nullableNumber = { type: ['number', 'null'] } as const;
const nullableInt = { type: ['integer', 'null'] } as const;

const generationSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    status: { type: 'string' },
    model: { type: ['object', 'null'], properties: { name: { type: 'string' }, version: { type: 'integer' } } },
    base_model: nullableString,
    prompt: { type: 'string' },
    negative_prompt: nullableString,
    seed: { ...nullableInt, description: 'The seed used (chosen at random when none was given); the same seed gives the same image' },
    steps: { type: 'integer' },
    guidance_scale: { type: 'number' },
    width: nullableInt,
    height: nullableInt,
    progress: { type: 'object', properties: { fraction: { type: 'number' }, step: nullableInt, total_steps: nullableInt } },
    cost: { type: 'integer' },
    image: {
      type: ['object', 'null'],
      properties: { format: { type: 'string' }, bytes: { type: 'integer' }, sha256: { type: 'string' }, url: nullableString, expires_at: nullableString },
    },
    image_url: { ...nullableString, description: 'Signed URL of the PNG once the generation succeeded' },
    inference_time_s: nullableNumber,
    error: { type: ['object', 'null'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
    created_at: { type: 'string' },
    started_at: nullableString,
    finished_at: nullableString,
  },
} as const;

export default function generationRoutes(app: FastifyInstance, s: Services) {
  const security = [{ bearer: [] }];

  app.post<{ Body: CreateGenerationInput; Headers: { 'idempotency-key'?: string } }>('/v1/generations', {
    schema: {
      tags: ['generations'],
      summary: 'Generate an image with a base model and, optionally, one of your LoRAs: a job of kind inference on the shared queue (202); Idempotency-Key makes retries safe',
      security,
      headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 200 } } },
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['prompt'],
        properties: {
          model: { type: 'string', minLength: 1, maxLength: 201, description: 'A lora-diffusion model: yours by name, or a public one as owner/name' },
          version: { type: 'integer', minimum: 1 },
          alias: { type: 'string', minLength: 1, maxLength: 100 },
          base_model: { type: 'string', minLength: 1, maxLength: 100, description: 'Defaults to the base model the LoRA was trained on' },
          prompt: { type: 'string', minLength: 1, maxLength: 1000 },
          negative_prompt: { type: 'string', maxLength: 1000 },
          seed: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 },
          steps: { type: 'integer', minimum: 1, maximum: 150 },
          guidance_scale: { type: 'number', minimum: 0, maximum: 30 },
          width: { type: 'integer', minimum: 32, maximum: 2048, multipleOf: 8 },
          height: { type: 'integer', minimum: 32, maximum: 2048, multipleOf: 8 },
          priority: { type: 'integer', minimum: -100, maximum: 100 },
        },
      },
      response: { 202: generationSchema, ...errorResponses(400, 401, 402, 404, 409, 422, 429) },
    },
    handler: async (req, reply) => {
      const { generation, replayed } = await s.generations.create(caller(req).userId, req.body, req.headers['idempotency-key']);
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.status(202).send(generation);
    },
  });

  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/generations', {
    schema: { tags: ['generations'], summary: 'Your generations, newest first', security, querystring: { type: 'object', additionalProperties: false, properties: pageQuery }, response: { 200: page(generationSchema), ...errorResponses(401) } },
    handler: async (req) => s.generations.list(caller(req).userId, req.query.limit, req.query.cursor, baseUrl(s, req)),
  });

  app.get<{ Params: { id: string } }>('/v1/generations/:id', {
    schema: { tags: ['generations'], summary: 'One generation; follow it live with GET /v1/jobs/{id}/events', security, params: idParams(), response: { 200: generationSchema, ...errorResponses(401, 404) } },
    handler: async (req) => s.generations.get(caller(req).userId, req.params.id, baseUrl(s, req)),
  });

  app.post<{ Params: { id: string } }>('/v1/generations/:id/cancel', {
    schema: { tags: ['generations'], summary: 'Cancel a queued or running generation (its credits come back)', security, params: idParams(), response: { 200: generationSchema, ...errorResponses(401, 404, 409) } },
    handler: async (req) => s.generations.cancel(caller(req).userId, req.params.id),
  });
}
