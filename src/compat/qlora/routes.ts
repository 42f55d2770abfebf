import type { FastifyInstance } from 'fastify';
import { noContent } from '../../app/schemas.js';
import { baseUrl } from '../../app/routes/v1/files.js';
import { caller } from '../../app/types.js';
import type { Services } from '../../services.js';
import { QloraDatasets } from './datasets.js';
import { allowedModel, allowedModels, detail, summary } from './models.js';
import {
  CompleteBody,
  Completed,
  DatasetDetail,
  DatasetParams,
  DatasetSummary,
  errors,
  Initiated,
  InitiateBody,
  JobParams,
  LoginAnswer,
  LoginBody,
  Message,
  ModelDetail,
  ModelParams,
  ModelSummary,
  SignupBody,
  StartBody,
  Started,
  TrainingDetail,
  TrainingSummary,
  type CompleteInput,
  type InitiateInput,
  type StartInput,
} from './schemas.js';
import { QloraTrainings } from './trainings.js';
import { clientAddress } from '../../net/client-address.js';

const security = [{ bearer: [] }];
const AUTH = 'Authorization: Bearer <access_token from /v1/auth/login>.';

/** The document's paths (its base URL ends in /v1), each over the domain services. */
export function qloraRoutes(app: FastifyInstance, s: Services): void {
  const datasets = new QloraDatasets(s);
  const trainings = new QloraTrainings(s);
  const auth = s.config.rateLimits.auth;
  const authLimit = auth.max > 0 ? { max: auth.max, timeWindow: auth.windowMs, keyGenerator: (r: { ip: string }) => `auth:${clientAddress(r.ip)}` } : false;

  app.post<{ Body: { username: string; password: string } }>('/v1/auth/login', {
    config: { auth: 'public', rateLimit: authLimit },
    schema: {
      summary: 'Log in: a bearer token for the other routes',
      description:
        'The accounts service’s login. 401 for a wrong username or password; 429 (Retry-After) after repeated failures for that account or address, or beyond RATE_LIMIT_AUTH.',
      body: LoginBody,
      response: { 200: LoginAnswer, ...errors(400, 401, 429) },
    },
    handler: async (req) => s.accounts.login(req.body.username, req.body.password, req.ip),
  });

  app.post<{ Body: { username: string; email: string; password: string } }>('/v1/auth/signup', {
    config: { auth: 'public', rateLimit: authLimit },
    schema: {
      summary: 'Register an account',
      description:
        'An ordinary Trainyard account (with the signup credit grant). 400 when the username or email is taken or invalid, or the password too weak.',
      body: SignupBody,
      response: { 201: Message, ...errors(400, 403, 429) },
    },
    handler: async (req, reply) => {
      await s.accounts.signup(req.body);
      return reply.status(201).send({ message: 'User registered successfully' });
    },
  });

  app.post<{ Body: InitiateInput }>('/v1/datasets/upload-initiate', {
    schema: {
      summary: 'Start a dataset upload: a pre-signed PUT URL for the file; the dataset exists from now on (processing)',
      description: `${AUTH} No size is sent: the URL takes at most UPLOAD_MAX_BYTES (max_bytes), checked again at upload-complete. The object key is datasets/{dataset_id}/{file_name}.`,
      security,
      body: InitiateBody,
      response: { 200: Initiated, ...errors(400, 401, 429) },
    },
    handler: async (req) => datasets.initiate(caller(req).userId, req.body, baseUrl(s, req)),
  });

  app.post<{ Body: CompleteInput }>('/v1/datasets/upload-complete', {
    schema: {
      summary: 'The upload is done: the object becomes a dataset, validated in the background',
      description: `${AUTH} 400 when s3_key is not the dataset's key, nothing was uploaded, the upload expired or is not a video archive; 413 over UPLOAD_MAX_BYTES (the object is deleted); 404 for an unknown dataset.`,
      security,
      body: CompleteBody,
      response: { 200: Completed, ...errors(400, 401, 404, 413, 429) },
    },
    handler: async (req) => {
      await datasets.complete(caller(req).userId, req.body);
      return { message: 'Dataset processing initiated', dataset_id: req.body.dataset_id };
    },
  });

  app.get('/v1/datasets', {
    schema: {
      summary: 'Your datasets, newest first',
      description: AUTH,
      security,
      response: { 200: { type: 'array', items: DatasetSummary }, ...errors(401, 429) },
    },
    handler: async (req) => datasets.list(caller(req).userId),
  });

  app.get<{ Params: { dataset_id: string } }>('/v1/datasets/:dataset_id', {
    schema: {
      summary: 'One dataset: status, where it is stored, how many videos and bytes',
      description: AUTH,
      security,
      params: DatasetParams,
      response: { 200: DatasetDetail, ...errors(401, 404, 429) },
    },
    handler: async (req) => datasets.get(caller(req).userId, req.params.dataset_id),
  });

  app.delete<{ Params: { dataset_id: string } }>('/v1/datasets/:dataset_id', {
    schema: {
      summary: 'Delete a dataset and its objects in storage',
      description: `${AUTH} 409 DATASET_IN_USE while a queued or running training uses it.`,
      security,
      params: DatasetParams,
      response: { 204: noContent, ...errors(401, 404, 409, 429) },
    },
    handler: async (req, reply) => {
      await datasets.delete(caller(req).userId, req.params.dataset_id);
      return reply.status(204).send();
    },
  });

  app.get('/v1/models/allowed', {
    schema: {
      summary: 'Base models that can be fine-tuned: the catalog’s models for the video trainers',
      description: AUTH,
      security,
      response: { 200: { type: 'array', items: ModelSummary }, ...errors(401, 429) },
    },
    handler: async () => {
      await s.catalog.ready();
      return allowedModels(s).map(summary);
    },
  });

  app.get<{ Params: { model_id: string } }>('/v1/models/:model_id', {
    schema: {
      summary: 'One allowed model, with the LoRA ranks it supports',
      description: AUTH,
      security,
      params: ModelParams,
      response: { 200: ModelDetail, ...errors(401, 404, 429) },
    },
    handler: async (req) => detail(allowedModel(s, req.params.model_id)),
  });

  app.post<{ Body: StartInput }>('/v1/trainings', {
    schema: {
      summary: 'Start a LoRA/QLoRA fine-tuning job',
      description: `${AUTH} An ordinary Trainyard job: video-lora-classifier or video-lora-captioner by the model's model_type; training_params are its hyperparameters of the same names; output_name is the registered model. 400 for bad parameters (lora_rank outside supported_lora_params), an unknown model or dataset, or a dataset not ready; 402 without enough credits.`,
      security,
      body: StartBody,
      response: { 202: Started, ...errors(400, 401, 402, 409, 429, 503) },
    },
    handler: async (req, reply) => {
      const id = await trainings.start(caller(req).userId, req.body);
      return reply.status(202).send({ job_id: id, status: 'queued' as const, message: 'Training job initiated successfully' });
    },
  });

  app.get('/v1/trainings', {
    schema: {
      summary: 'Your training jobs, newest first',
      description: AUTH,
      security,
      response: { 200: { type: 'array', items: TrainingSummary }, ...errors(401, 429) },
    },
    handler: async (req) => trainings.list(caller(req).userId),
  });

  app.get<{ Params: { job_id: string } }>('/v1/trainings/:job_id', {
    schema: {
      summary: 'One training job: status, progress 0-1, the adapter’s location once completed, recent logs',
      description: AUTH,
      security,
      params: JobParams,
      response: { 200: TrainingDetail, ...errors(401, 404, 429) },
    },
    handler: async (req) => trainings.get(caller(req).userId, req.params.job_id),
  });

  app.post<{ Params: { job_id: string } }>('/v1/trainings/:job_id/stop', {
    schema: {
      summary: 'Stop a queued or running job; it then shows failed, its logs ending "Training stopped by request"',
      description: `${AUTH} 400 when the job has ended or a stop was already requested.`,
      security,
      params: JobParams,
      response: { 202: Message, ...errors(400, 401, 404, 429) },
    },
    handler: async (req, reply) => {
      await trainings.stop(caller(req).userId, req.params.job_id);
      return reply.status(202).send({ message: `Stop request received for ${req.params.job_id}` });
    },
  });
}
