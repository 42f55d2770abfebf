import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PayloadTooLargeError } from '../../../errors.js';
import { describeError } from '../../plugins/errors.js';
import { closeIfBodyUnread } from '../close-connection.js';
import { FreeObject } from '../../../domain/schema-kit.js';
import { CacheEntry, LoadBody, PredictBody, Predictions, type LoadInput, type PredictInput } from '../../../serving/schema.js';
import type { Services } from '../../../services.js';
import { errorResponses, security } from '../../schemas.js';
import { caller } from '../../types.js';

const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 200 } } } as const;

export type ServingDeps = Pick<Services, 'serving' | 'config'>;

const MIB = 1024 ** 2;
const size = (n: number): string => (n % MIB === 0 ? `${n / MIB} MiB` : `${n} bytes`);

export default function servingRoutes(app: FastifyInstance, s: ServingDeps) {
  const { predictMaxBytes, predictMaxInstances } = s.config.serving;
  app.post<{ Params: { name: string }; Body: PredictInput }>('/v1/models/:name/predict', {
    // Its own limit: instances are whole recordings, far larger than the 1 MiB other bodies get.
    bodyLimit: predictMaxBytes,
    // Fastify's generic "body too large" becomes one that names this route's limit and setting;
    // everything else is answered exactly as the app's error handler would.
    errorHandler: (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
      const tooLarge = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE';
      if (tooLarge) closeIfBodyUnread(req, reply); // the rest of the body would hold a keep-alive connection
      const e = tooLarge
        ? new PayloadTooLargeError(
            'PREDICT_BODY_TOO_LARGE',
            `a predict request body may be at most ${size(predictMaxBytes)} (setting PREDICT_MAX_BYTES); send fewer instances per request`,
            { max_bytes: predictMaxBytes },
          )
        : err;
      const { status, headers, ...rest } = describeError(e as FastifyError, req);
      return reply.status(status).headers(headers).send({ error: rest });
    },
    schema: {
      tags: ['models'],
      summary: 'Predict with a version (default: latest): a class and probabilities per instance',
      description:
        'Instances are what the trainer expects: a row object for linear-classifier, an array of sequence_length rows for sequence-classifier, a string for text-classifier. ' +
        `Labels come back in the type of the training labels; \`filled\` counts missing values filled with their training mean. ` +
        `At most ${size(predictMaxBytes)} of body (PREDICT_MAX_BYTES: 413 PREDICT_BODY_TOO_LARGE) and ${predictMaxInstances} instances (PREDICT_MAX_INSTANCES: 413 TOO_MANY_INSTANCES).`,
      security,
      params: nameParams,
      body: PredictBody,
      response: { 200: Predictions, ...errorResponses(400, 401, 404, 409, 413, 500, 503) },
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
      response: { 202: CacheEntry, ...errorResponses(400, 401, 404, 409, 503) },
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
