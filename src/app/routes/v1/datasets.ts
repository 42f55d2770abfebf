import type { FastifyInstance } from 'fastify';
import { DATASET_KINDS, type DatasetOptions } from '../../../domain/datasets/validate/types.js';
import { ValidationError } from '../../../errors.js';
import { SAMPLE_KINDS, type SampleKind } from '../../../samples/index.js';
import { createSampleDataset } from '../../../samples/service.js';
import type { Services } from '../../../services.js';
import { datasetSchema, errorResponses, idParams, page, pageQuery } from '../../schemas.js';
import { caller } from '../../types.js';

interface CreateBody { name: string; kind: string; file_ids: string[]; description?: string; options?: DatasetOptions }

export default function datasetRoutes(app: FastifyInstance, s: Services) {
  const security = [{ bearer: [] }];

  app.post<{ Body: CreateBody }>('/v1/datasets', {
    schema: {
      tags: ['datasets'],
      summary: 'Create a dataset from uploaded files; it is validated in the background (processing → ready | error)',
      security,
      body: {
        type: 'object',
        required: ['name', 'kind', 'file_ids'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 100 },
          kind: { type: 'string', enum: [...DATASET_KINDS] },
          file_ids: { type: 'array', minItems: 1, maxItems: s.config.datasets.maxFiles, items: { type: 'string', minLength: 1, maxLength: 100 } },
          description: { type: 'string', maxLength: 2000 },
          options: {
            type: 'object',
            additionalProperties: false,
            properties: {
              label_column: { type: 'string', minLength: 1, maxLength: 200, description: 'tabular-csv: the column to predict' },
              text_field: { type: 'string', minLength: 1, maxLength: 100, description: 'text-classification-jsonl: default "text"' },
              label_field: { type: 'string', minLength: 1, maxLength: 100, description: 'text-classification-jsonl: default "label"' },
            },
          },
        },
      },
      response: { 201: datasetSchema, ...errorResponses(400, 401, 409) },
    },
    handler: async (req, reply) => reply.status(201).send(await s.datasets.create(caller(req).userId, req.body)),
  });

  app.post<{ Body: { kind: SampleKind; name?: string; size?: number; seed?: number } }>('/v1/datasets/samples', {
    schema: {
      tags: ['datasets'],
      summary: 'Create a realistic synthetic dataset to try a trainer: eeg, security-prompts or images',
      security,
      body: {
        type: 'object',
        required: ['kind'],
        additionalProperties: false,
        properties: {
          kind: { type: 'string', enum: [...SAMPLE_KINDS] },
          name: { type: 'string', minLength: 1, maxLength: 100 },
          size: { type: 'integer', minimum: 10, maximum: 100_000, description: 'eeg: rows (6000); security-prompts: examples per class (120); images: images (12)' },
          seed: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 },
        },
      },
      response: { 201: datasetSchema, ...errorResponses(400, 401, 409) },
    },
    handler: async (req, reply) => {
      if (req.body.kind === 'images' && (req.body.size ?? 12) > 200) throw new ValidationError('SAMPLE_TOO_LARGE', 'images: at most 200');
      return reply.status(201).send(await createSampleDataset(s, caller(req).userId, req.body));
    },
  });

  app.get<{ Querystring: { limit: number; cursor?: string; kind?: string; status?: string } }>('/v1/datasets', {
    schema: {
      tags: ['datasets'],
      summary: 'Your datasets, newest first',
      security,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { ...pageQuery, kind: { type: 'string', enum: [...DATASET_KINDS] }, status: { type: 'string', enum: ['processing', 'ready', 'error'] } },
      },
      response: { 200: page(datasetSchema), ...errorResponses(400, 401) },
    },
    handler: async (req) => {
      const { limit, cursor, ...filter } = req.query;
      return s.datasets.list(caller(req).userId, limit, cursor, filter);
    },
  });

  app.get<{ Params: { id: string } }>('/v1/datasets/:id', {
    schema: { tags: ['datasets'], summary: 'A dataset with its status, stats and first errors', security, params: idParams(), response: { 200: datasetSchema, ...errorResponses(401, 404) } },
    handler: async (req) => s.datasets.get(caller(req).userId, req.params.id),
  });

  app.delete<{ Params: { id: string } }>('/v1/datasets/:id', {
    schema: { tags: ['datasets'], summary: 'Delete a dataset (its files stay); 409 while a job uses it', security, params: idParams(), response: { 204: { type: 'null' }, ...errorResponses(401, 404, 409) } },
    handler: async (req, reply) => {
      await s.datasets.delete(caller(req).userId, req.params.id);
      return reply.status(204).send();
    },
  });
}
