import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { MultipartFile, MultipartValue } from '@fastify/multipart';
import { Ajv } from 'ajv';
import { AppError, ValidationError } from '../../errors.js';
import type { Services } from '../../services.js';
import { assertCleanJson, assertCleanText } from '../../app/plugins/input-policy.js';
import { closeIfBodyUnread } from '../../app/routes/close-connection.js';
import { caller } from '../../app/types.js';
import { NeurolabService } from './service.js';
import { routeLimit, type NeurolabSettings } from './settings.js';
import { clientAddress } from '../../net/client-address.js';
import {
  CompareBody,
  CompareResults,
  Deleted,
  errors,
  JobIdParams,
  JobsQuery,
  JobStatus,
  LoginAnswer,
  LoginBody,
  Started,
  TrainBody,
  TrainConfig,
  type CompareInput,
  type TrainConfigInput,
  type TrainInput,
} from './schemas.js';

const security = [{ bearer: [] }];
const TAG_NOTE = 'Admins only (Authorization: Bearer <access_token from /api/auth/login>).';

// The multipart `config` field is JSON text: checked against the same shape as the JSON route's
// `config`, with its defaults filled in the same way.
const ajv = new Ajv({ useDefaults: true, coerceTypes: false, removeAdditional: false, allErrors: false, strict: false });
const checkConfig = ajv.compile(TrainConfig);

function parseConfig(text: string | undefined): TrainConfigInput {
  let value: unknown = {};
  if (text !== undefined && text.trim() !== '') {
    try {
      value = JSON.parse(text);
    } catch {
      throw new ValidationError('INVALID_CONFIG', 'config: not valid JSON (send a JSON object such as {"epochs": 20})');
    }
  }
  assertCleanJson(value, 'config');
  if (!checkConfig(value)) {
    const e = checkConfig.errors![0]!;
    const extra = e.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : '';
    throw new ValidationError('INVALID_CONFIG', `config${e.instancePath.replace(/\//g, '.')}: ${e.message ?? 'invalid'}${extra}`);
  }
  return value as TrainConfigInput;
}

const started = (r: { job_id: string; createdAt: Date }, message: string) => ({
  job_id: r.job_id,
  status: 'queued' as const,
  message,
  started_at: r.createdAt.toISOString(),
});

/**
 * The multipart form: a `file` part (the CSV, streamed to storage as it arrives, at most the
 * route's body limit) and an optional `config` field, in either order.
 */
async function readForm(req: FastifyRequest, s: Services, maxBytes: number): Promise<{ file: { id: string; filename: string } | null; config?: string }> {
  if (!req.isMultipart()) throw new ValidationError('MULTIPART_REQUIRED', 'send multipart/form-data with the CSV in a field named "file"');
  const userId = caller(req).userId;
  let file: { id: string; filename: string } | null = null;
  let config: string | undefined;
  try {
    for await (const part of req.parts() as AsyncIterable<MultipartFile | MultipartValue>) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file' || file) {
          part.file.resume(); // drain it: only one CSV, in "file"
          throw new ValidationError('FILE_REQUIRED', `unexpected file field "${part.fieldname}": send one CSV in a field named "file"`);
        }
        assertCleanText(part.filename, 'filename');
        const f = await s.files.ingest(userId, part.filename || 'training_data.csv', part.file, 'upload', null, maxBytes);
        file = { id: f.id, filename: f.filename };
      } else if (part.fieldname === 'config') {
        config = typeof part.value === 'string' ? part.value : String(part.value);
      }
    }
  } catch (err) {
    if (file) await s.files.delete(userId, file.id).catch(() => {});
    const e = err as { code?: string; statusCode?: number };
    // busboy's own parse errors carry no code: the client's malformed body.
    if (err instanceof Error && !(err instanceof AppError) && !e.code && !e.statusCode)
      throw new ValidationError('MULTIPART_INVALID', `the multipart body cannot be read: ${err.message}`);
    throw err;
  }
  return config === undefined ? { file } : { file, config };
}

export function neurolabRoutes(app: FastifyInstance, s: Services, settings: NeurolabSettings): void {
  // The training limit is counted by the service (one limit for the three training routes).
  const svc = new NeurolabService(s, settings.rateTrain);
  const auth = s.config.rateLimits.auth;
  const authLimit = auth.max > 0 ? { max: auth.max, timeWindow: auth.windowMs, keyGenerator: (r: { ip: string }) => `auth:${clientAddress(r.ip)}` } : false;

  app.post<{ Body: { username: string; password: string } }>('/api/auth/login', {
    config: { auth: 'public', rateLimit: authLimit },
    schema: {
      summary: 'Log in: exchange username and password for a bearer token',
      description: 'The accounts service’s login (the same lockout after repeated failures as /v1/auth/login). 401 for a wrong password.',
      body: LoginBody,
      response: { 200: LoginAnswer, ...errors(400, 401, 429) },
    },
    handler: async (req) => s.accounts.login(req.body.username, req.body.password, req.ip),
  });

  app.post<{ Body: TrainInput }>('/api/train', {
    config: { auth: 'admin' },
    bodyLimit: settings.maxBody,
    schema: {
      summary: 'Train a model from X_train/y_train (optional X_test/y_test); one row is one sample',
      description: `${TAG_NOTE} Starts an ordinary sequence-classifier job (sequence_length 1) on the rows, stored as a dataset; X_test/y_test become its validation dataset. 400 for mismatched lengths, ragged rows, fewer than 2 classes or a config outside the documented ranges.`,
      security,
      body: TrainBody,
      response: { 202: Started, ...errors(400, 402, 409, 413) },
    },
    handler: async (req, reply) => reply.status(202).send(started(await svc.train(caller(req), req.body), 'Training job started in background')),
  });

  app.post('/api/train/file', {
    config: { auth: 'admin' },
    schema: {
      summary: 'Train a model from an uploaded CSV (timestamp,alpha,beta,theta,delta,gamma,state) and an optional config JSON field',
      description: `${TAG_NOTE} multipart/form-data: "file" (the CSV; label column "state", rows ordered by "timestamp") and "config" (JSON text). At most ${settings.maxBody} bytes.`,
      consumes: ['multipart/form-data'],
      security,
      response: { 202: Started, ...errors(400, 402, 409, 413, 415) },
    },
    handler: async (req, reply) => {
      try {
        const form = await readForm(req, s, settings.maxBody);
        if (!form.file) throw new ValidationError('FILE_REQUIRED', 'no CSV: send it in a multipart field named "file"');
        const file = form.file;
        let config: TrainConfigInput;
        try {
          config = parseConfig(form.config);
        } catch (err) {
          await s.files.delete(caller(req).userId, file.id).catch(() => {});
          throw err;
        }
        const r = await svc.trainFile(caller(req), file, config);
        return reply.status(202).send(started(r, `Training job started from file ${file.filename}`));
      } catch (err) {
        closeIfBodyUnread(req, reply);
        throw err;
      }
    },
  });

  app.get<{ Params: { job_id: string } }>('/api/train/status/:job_id', {
    config: { auth: 'admin', rateLimit: routeLimit(settings.rateStatus) },
    schema: {
      summary: 'The status of a training job (or comparison): state, progress 0-1, message, metrics',
      description: `${TAG_NOTE} status: queued, training, completed or failed (a cancelled job is failed with error "cancelled"). progress: 0 queued, 0.1-0.8 training, 0.8-1.0 evaluating, 1 completed.`,
      security,
      params: JobIdParams,
      response: { 200: JobStatus, ...errors(404) },
    },
    handler: async (req) => svc.status(req.params.job_id),
  });

  app.get<{ Querystring: { limit: number } }>('/api/train/jobs', {
    config: { auth: 'admin', rateLimit: routeLimit(settings.rateList) },
    schema: {
      summary: 'Training jobs started through this API, newest first (admins see every one)',
      description: TAG_NOTE,
      security,
      querystring: JobsQuery,
      response: { 200: { type: 'array', items: JobStatus } },
    },
    handler: async (req) => svc.list(req.query.limit),
  });

  app.delete<{ Params: { job_id: string } }>('/api/train/job/:job_id', {
    config: { auth: 'admin' },
    schema: {
      summary: 'Delete a training job record; a job still running is cancelled first',
      description: `${TAG_NOTE} The ordinary Trainyard job stays in /v1 (the ledger’s record, with any model version it produced).`,
      security,
      params: JobIdParams,
      response: { 200: Deleted, ...errors(404) },
    },
    handler: async (req) => {
      await svc.delete(req.params.job_id);
      return { status: 'success' as const, message: `Training job ${req.params.job_id} deleted` };
    },
  });

  app.post<{ Body: CompareInput }>('/api/train/compare', {
    config: { auth: 'admin' },
    bodyLimit: settings.maxBody,
    schema: {
      summary: 'Compare the four architectures: n_repeats training runs of each, scored on X_test (required)',
      description: `${TAG_NOTE} An ordinary sweep over model_type × n_repeats. Results: GET /api/train/compare/{job_id} (or the status's metrics once completed).`,
      security,
      body: CompareBody,
      response: { 202: Started, ...errors(400, 402, 409, 413) },
    },
    handler: async (req, reply) => reply.status(202).send(started(await svc.compare(caller(req), req.body), 'Model comparison started in background')),
  });

  app.get<{ Params: { job_id: string } }>('/api/train/compare/:job_id', {
    config: { auth: 'admin', rateLimit: routeLimit(settings.rateStatus) },
    schema: {
      summary: 'Comparison results: per architecture, accuracy, auc, training_time, inference_time, model_size, one value per finished run',
      description: `${TAG_NOTE} accuracy and auc: fractions (0-1) on the test set; training_time: seconds; inference_time: seconds per sample; model_size: megabytes (10^6 bytes) of weights. Lists grow as runs finish.`,
      security,
      params: JobIdParams,
      response: { 200: CompareResults, ...errors(404) },
    },
    handler: async (req) => svc.compareResults(req.params.job_id),
  });
}
