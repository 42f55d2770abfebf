import type { FastifyInstance } from 'fastify';
import { createDatasetBody, Dataset, DatasetPage, DatasetsFilter, type CreateDatasetInput, type DatasetsFilterInput } from '../../../domain/datasets/schema.js';
import { CreateSampleBody, type CreateSampleInput } from '../../../samples/schema.js';
import { createSampleDataset } from '../../../samples/service.js';
import type { Services } from '../../../services.js';
import { errorResponses, idParams, noContent, pageQuery, security, type PageQuery } from '../../schemas.js';
import { caller } from '../../types.js';

/** Samples upload their files, so the routes need the files service too. */
export type DatasetDeps = Pick<Services, 'datasets' | 'files' | 'config'>;

export default function datasetRoutes(app: FastifyInstance, s: DatasetDeps) {
  app.post<{ Body: CreateDatasetInput }>('/v1/datasets', {
    schema: {
      tags: ['datasets'],
      summary: 'Create a dataset from uploaded files; it is validated in the background (processing → ready | error)',
      security,
      body: createDatasetBody(s.config.datasets.maxFiles),
      response: { 201: Dataset, ...errorResponses(400, 401, 409) },
    },
    handler: async (req, reply) => reply.status(201).send(await s.datasets.create(caller(req).userId, req.body)),
  });

  app.post<{ Body: CreateSampleInput }>('/v1/datasets/samples', {
    schema: {
      tags: ['datasets'],
      summary: 'Create a realistic synthetic dataset to try a trainer: eeg, security-prompts, images or videos',
      security,
      body: CreateSampleBody,
      response: { 201: Dataset, ...errorResponses(400, 401, 409, 503) },
    },
    handler: async (req, reply) => reply.status(201).send(await createSampleDataset(s, caller(req).userId, req.body)),
  });

  app.get<{ Querystring: PageQuery & DatasetsFilterInput }>('/v1/datasets', {
    schema: {
      tags: ['datasets'],
      summary: 'Your datasets, newest first',
      security,
      querystring: { type: 'object', additionalProperties: false, properties: { ...pageQuery, ...DatasetsFilter.properties } },
      response: { 200: DatasetPage, ...errorResponses(400, 401) },
    },
    handler: async (req) => {
      const { limit, cursor, ...filter } = req.query;
      return s.datasets.list(caller(req).userId, limit, cursor, filter);
    },
  });

  app.get<{ Params: { id: string } }>('/v1/datasets/:id', {
    schema: {
      tags: ['datasets'],
      summary: 'A dataset with its status, stats and first errors',
      security,
      params: idParams(),
      response: { 200: Dataset, ...errorResponses(401, 404) },
    },
    handler: async (req) => s.datasets.get(caller(req).userId, req.params.id),
  });

  app.delete<{ Params: { id: string } }>('/v1/datasets/:id', {
    schema: {
      tags: ['datasets'],
      summary: 'Delete a dataset (its files stay); 409 while a job uses it',
      security,
      params: idParams(),
      response: { 204: noContent, ...errorResponses(401, 404, 409) },
    },
    handler: async (req, reply) => {
      await s.datasets.delete(caller(req).userId, req.params.id);
      return reply.status(204).send();
    },
  });
}
