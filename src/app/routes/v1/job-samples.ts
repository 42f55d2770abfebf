import type { FastifyInstance, FastifyRequest } from 'fastify';
import { JobSample, JobSamples } from '../../../domain/jobs/schema.js';
import type { Services } from '../../../services.js';
import { errorResponses, idParams, security } from '../../schemas.js';
import { caller } from '../../types.js';
import { baseUrl } from './files.js';

export type JobSampleDeps = Pick<Services, 'samples' | 'config'>;

/** Sample images rendered during training (issue #12); the owner's (or an admin's) only. */
export default function jobSampleRoutes(app: FastifyInstance, s: JobSampleDeps) {
  const isAdmin = (req: FastifyRequest) => caller(req).role === 'admin';

  app.get<{ Params: { id: string } }>('/v1/jobs/:id/samples', {
    schema: {
      tags: ['jobs'],
      summary: 'The sample images a trainer rendered during training (sample_every), oldest first, each with a signed URL',
      security,
      params: idParams(),
      response: { 200: JobSamples, ...errorResponses(401, 404) },
    },
    handler: async (req) => s.samples.list(caller(req).userId, req.params.id, baseUrl(s, req), isAdmin(req)),
  });

  app.get<{ Params: { id: string; n: number }; Querystring: { redirect?: boolean } }>('/v1/jobs/:id/samples/:n', {
    schema: {
      tags: ['jobs'],
      summary:
        "One sample image: a 302 to a fresh signed URL (the stable URL that events and the job's preview_image_url name); ?redirect=false answers the sample as JSON",
      security,
      params: {
        type: 'object',
        required: ['id', 'n'],
        additionalProperties: false,
        properties: { id: idParams().properties.id, n: { type: 'integer', minimum: 1, maximum: 1_000_000 } },
      },
      querystring: { type: 'object', additionalProperties: false, properties: { redirect: { type: 'boolean', default: true } } },
      response: {
        200: JobSample,
        302: { description: 'To the signed URL of the image (Location header)', type: 'null' },
        ...errorResponses(400, 401, 404),
      },
    },
    handler: async (req, reply) => {
      const sample = await s.samples.get(caller(req).userId, req.params.id, req.params.n, baseUrl(s, req), isAdmin(req));
      return req.query.redirect === false ? sample : reply.redirect(sample.url, 302);
    },
  });
}
