import type { FastifyInstance } from 'fastify';
import { baseUrl } from '../../app/routes/v1/files.js';
import { caller } from '../../app/types.js';
import { isModelFile } from '../../domain/registry/run-log.js';
import { AppError } from '../../errors.js';
import type { Ctx } from './context.js';
import * as q from './queries.js';
import * as S from './schemas.js';
import { routeLimit } from './settings.js';
import { start, trainings, trainingWithJob, upload } from './training.js';
import { modelEntry, statusView, validSignature } from './views.js';

const security = [{ bearer: [] }];
const AUTH = 'Authorization: Bearer <Trainyard access token or API key>.';
/** Every route can answer these in the document's envelope (the layer documents 401/429 too). */
const common = S.errors(400, 401, 429, 500);
const post = S.errors(400, 401, 413, 415, 429, 500);

/** The LoRA weights of a version: the safetensors file, else the first artifact that is not the card or the preview. */
function weightsOf(artifacts: Array<{ name: string; format: string }>): string | null {
  const names = artifacts.filter(isModelFile).map((a) => a.name);
  return (
    names.find((n) => n === 'pytorch_lora_weights.safetensors') ??
    names.find((n) => n.endsWith('.safetensors')) ??
    names.find((n) => n !== 'README.md' && n !== 'preview.png') ??
    null
  );
}

export async function routes(app: FastifyInstance, c: Ctx): Promise<void> {
  const { s, settings } = c;
  const other = routeLimit(settings.rateOther);
  app.post<{ Body: S.UploadInput }>('/api/train/upload', {
    config: { rateLimit: routeLimit(settings.rateUpload) },
    schema: {
      summary: 'Upload and validate 10-30 training images (by URL) for a new model',
      description: `${AUTH} Each URL is fetched (SSRF-guarded) into a Trainyard file; jpg, jpeg, png and webp only, by declared format, extension and content (400 INVALID_IMAGE_FORMAT). 400 INVALID_IMAGE_COUNT outside 10-30, 400 IMAGE_FETCH_FAILED when a URL cannot be fetched, 409 MODEL_NAME_EXISTS when the name is a model of yours or still training.`,
      security,
      body: S.UploadBody,
      response: { 200: S.Uploaded, ...S.errors(409), ...post },
    },
    handler: async (req) => upload(c, caller(req).userId, req.body),
  });

  app.post<{ Body: S.StartInput }>('/api/train/start', {
    config: { rateLimit: routeLimit(settings.rateStart) },
    schema: {
      summary: 'Start a LoRA training job (600, 1200 or 2000 steps: 10, 20 or 35 credits)',
      description: `${AUTH} An ordinary lora-diffusion job (GET /v1/jobs/{jobId}). Images of an upload session are not fetched again. 400 INVALID_IMAGE_COUNT / INVALID_IMAGE_FORMAT / VALIDATION_ERROR (steps not 600, 1200 or 2000), 402 INSUFFICIENT_CREDITS, 409 MODEL_NAME_EXISTS, 503 TRAINING_START_ERROR (trainer or base model not available here).`,
      security,
      body: S.StartBody,
      response: { 200: S.Started, ...S.errors(402, 409, 503), ...post },
    },
    handler: async (req) => start(c, caller(req).userId, req.body),
  });

  app.get('/api/train/models', {
    config: { rateLimit: other },
    schema: {
      summary: 'Your models, grouped: completed, inProgress (pending or processing) and failed (failed or cancelled)',
      description: AUTH,
      security,
      response: { 200: S.Models, ...common },
    },
    handler: async (req) => {
      const all = (await trainings(c, caller(req).userId)).map(({ t, job }) => modelEntry(c, req, t, job));
      const completed = all.filter((m) => m.status === 'completed');
      return {
        status: 'ok' as const,
        models: {
          completed,
          inProgress: all.filter((m) => m.status === 'pending' || m.status === 'processing'),
          failed: all.filter((m) => m.status === 'failed'),
        },
        totalCount: all.length,
        completedCount: completed.length,
        timestamp: new Date().toISOString(),
      };
    },
  });

  app.get<{ Params: { jobId: string } }>('/api/train/:jobId', {
    config: { rateLimit: other },
    schema: {
      summary: 'Status and progress (0-100) of a training job, by jobId or trainingJobId',
      description: `${AUTH} status pending, processing, completed or failed (a cancelled job is failed with errorMessage "cancelled"). 404 TRAINING_STATUS_ERROR for a job that is not yours or does not exist.`,
      security,
      params: S.JobIdParams,
      response: { 200: S.JobStatus, ...S.errors(404), ...common },
    },
    handler: async (req) => {
      const { t, job } = await trainingWithJob(c, caller(req).userId, req.params.jobId);
      return statusView(c, req, t, job);
    },
  });

  app.get<{ Params: { jobId: string }; Querystring: { signature: string } }>('/api/train/:jobId/model', {
    config: { auth: 'public', rateLimit: other },
    schema: {
      summary: 'The trained model (trainedModelUrl): redirects to a fresh signed download of the LoRA weights',
      description:
        'No Authorization: the signature in the URL (an HMAC of the training id, without expiry) is the permission, so the URL can be kept and shared like the document’s storage URL. 302 to a signed download valid for SIGNED_URL_TTL_SECONDS; 403 INVALID_SIGNATURE; 404 TRAINING_STATUS_ERROR when the training has no model (yet).',
      params: S.JobIdParams,
      querystring: S.ModelUrlQuery,
      response: { 302: { type: 'null', description: 'Location: the signed download' }, ...S.errors(403, 404), ...common },
    },
    handler: async (req, reply) => {
      const id = req.params.jobId;
      if (!validSignature(c, id, req.query.signature))
        throw new AppError('INVALID_SIGNATURE', 'this model URL is not valid (its signature does not match)', { status: 403 });
      const t = await q.trainingById(s.db, id);
      const noModel = new AppError('TRAINING_STATUS_ERROR', `training ${id} has no trained model`, { status: 404 });
      if (!t) throw noModel;
      const { job } = await trainingWithJob(c, t.owner_id, t.id);
      if (job.status !== 'succeeded' || !job.model_version_id) throw noModel;
      const version = await s.registry.versionNumber(job.model_version_id);
      if (version === null) throw noModel;
      const v = await s.registry.getVersion(t.owner_id, t.model_name, String(version)).catch(() => null);
      const artifact = v ? weightsOf(v.artifacts as Array<{ name: string; format: string }>) : null;
      if (!artifact) throw noModel;
      // /blobs/* is served by the main server and by the facade's own port (src/app/server.ts).
      const signed = await s.registry.artifactUrl(t.owner_id, t.model_name, String(version), artifact, baseUrl(s, req));
      return reply.redirect(signed.url, 302);
    },
  });
}
