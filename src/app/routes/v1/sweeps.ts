import type { FastifyInstance } from 'fastify';
import { Page } from '../../../domain/schema-kit.js';
import { CreateSweepBody, Sweep, type CreateSweepInput } from '../../../domain/sweeps/schema.js';
import type { Services } from '../../../services.js';
import { errorResponses, idParams, pageQuery, security, type PageQuery } from '../../schemas.js';
import { caller } from '../../types.js';

export type SweepDeps = Pick<Services, 'sweeps'>;

export default function sweepRoutes(app: FastifyInstance, s: SweepDeps) {
  app.post<{ Body: CreateSweepInput }>('/v1/sweeps', {
    schema: {
      tags: ['sweeps'],
      summary: 'Start a grid × repeats of jobs (e.g. compare architectures); all are created, with their holds, or none',
      security,
      body: CreateSweepBody,
      response: { 201: Sweep, ...errorResponses(400, 401, 402, 404, 409, 429) },
    },
    handler: async (req, reply) => reply.status(201).send(await s.sweeps.create(caller(req).userId, req.body)),
  });

  app.get<{ Querystring: PageQuery }>('/v1/sweeps', {
    schema: {
      tags: ['sweeps'],
      summary: 'Your sweeps, newest first',
      security,
      querystring: { type: 'object', additionalProperties: false, properties: { ...pageQuery, limit: { ...pageQuery.limit, maximum: 50, default: 20 } } },
      response: { 200: Page(Sweep), ...errorResponses(400, 401) },
    },
    handler: async (req) => s.sweeps.list(caller(req).userId, req.query.limit, req.query.cursor),
  });

  app.get<{ Params: { id: string } }>('/v1/sweeps/:id', {
    schema: {
      tags: ['sweeps'],
      summary: 'A sweep with, per grid point, the mean, standard deviation and every value of each metric',
      security,
      params: idParams(),
      response: { 200: Sweep, ...errorResponses(401, 404) },
    },
    handler: async (req) => s.sweeps.get(caller(req).userId, req.params.id),
  });

  app.post<{ Params: { id: string } }>('/v1/sweeps/:id/cancel', {
    schema: {
      tags: ['sweeps'],
      summary: 'Cancel every unfinished job of the sweep',
      security,
      params: idParams(),
      response: { 200: Sweep, ...errorResponses(401, 404) },
    },
    handler: async (req) => s.sweeps.cancel(caller(req).userId, req.params.id),
  });
}
