import type { FastifyInstance } from 'fastify';
import {
  AttemptParams,
  AttemptSpecReply,
  EventBatch,
  FinishReply,
  FinishReport,
  IngestReply,
  UploadReply,
  UploadRequest,
} from '../../../domain/attempts/schema.js';
import { attemptSpec } from '../../../domain/attempts/spec.js';
import type { Services } from '../../../services.js';
import { errorResponses } from '../../schemas.js';
import { attemptOf } from '../../types.js';
import { baseUrl } from './files.js';

const tags = ['attempts'];
/** These routes take an attempt token only (src/app/plugins/auth.ts), documented as a scheme of its own. */
const security = [{ attemptToken: [] }];
const config = { auth: 'attempt' as const };
const params = AttemptParams;

const INTRO =
  'For a remote launcher (`trainyard run-attempt` on Kubernetes or Slurm), with the attempt token its worker issued (Authorization: Bearer tya1.…): the token names one job attempt and must match the URL (403 ATTEMPT_MISMATCH). Once the attempt no longer holds its job (reaped, taken over, concluded), every write answers 409 ATTEMPT_FENCED: stop the trainer.';

export type AttemptDeps = Pick<Services, 'attempts' | 'config' | 'db' | 'store' | 'catalog'>;

export default function attemptRoutes(app: FastifyInstance, s: AttemptDeps) {
  app.get<{ Params: AttemptParams }>('/v1/jobs/:job_id/attempts/:attempt/spec', {
    config,
    schema: {
      tags,
      summary: "What the launcher needs to run this attempt: the job's spec, signed URLs of its inputs, the trainer",
      description: `${INTRO} Paths in \`spec\` and \`downloads\` are relative to the launcher's attempt folder; download each URL to its path (checking \`sha256\` where given), make the spec's paths absolute, and start the trainer the catalog entry describes. 409 BASE_MODEL_NOT_IN_STORE when the job's base model is a folder on the server.`,
      security,
      params,
      response: { 200: AttemptSpecReply, ...errorResponses(401, 403, 409) },
    },
    handler: async (req) =>
      attemptSpec(
        {
          db: s.db,
          store: s.store,
          catalog: s.catalog,
          signedUrlTtlSeconds: s.config.uploads.signedUrlTtlSeconds,
          stopGraceMs: s.config.worker.stopGraceMs,
          maxArtifactBytes: s.config.worker.maxArtifactBytes,
        },
        attemptOf(req),
        baseUrl(s, req),
      ),
  });

  app.post<{ Params: AttemptParams; Body: EventBatch }>('/v1/jobs/:job_id/attempts/:attempt/events', {
    config,
    schema: {
      tags,
      summary: "Stream a batch of the trainer's events; exactly once, resumable",
      description: `${INTRO} \`seq\` is the number of the batch's first event (0-based, per attempt). Events before the attempt's next_seq were applied already and are skipped, so a batch posted again after a lost reply is harmless; a batch starting after next_seq is 409 EVENT_SEQ_GAP with details.next_seq (resend from there). The reply says whether the job is being cancelled.`,
      security,
      params,
      body: EventBatch,
      response: { 200: IngestReply, ...errorResponses(400, 401, 403, 409) },
    },
    handler: async (req) => s.attempts.ingest(attemptOf(req), req.body.seq, req.body.events),
  });

  app.post<{ Params: AttemptParams; Body: UploadRequest }>('/v1/jobs/:job_id/attempts/:attempt/uploads', {
    config,
    schema: {
      tags,
      summary: 'A pre-signed PUT URL for a checkpoint, an artifact or a sample image of this attempt',
      description: `${INTRO} PUT the bytes to \`url\` before \`expires_at\` (on S3 exactly \`bytes\` bytes, with that Content-Length), then name \`key\` in a checkpoint or sample event, or in /finish's artifacts. The URL takes bytes only while the attempt holds its job and has not finished.`,
      security,
      params,
      body: UploadRequest,
      response: { 200: UploadReply, ...errorResponses(400, 401, 403, 409) },
    },
    handler: async (req) => s.attempts.upload(attemptOf(req), req.body, baseUrl(s, req)),
  });

  app.post<{ Params: AttemptParams; Body: FinishReport }>('/v1/jobs/:job_id/attempts/:attempt/finish', {
    config,
    schema: {
      tags,
      summary: 'Report how the trainer ended; the worker concludes the job from it',
      description: `${INTRO} Stored once: the same report again answers 200, a different one 409 ATTEMPT_ALREADY_FINISHED. Artifact keys are ones /uploads gave for this attempt.`,
      security,
      params,
      body: FinishReport,
      response: { 200: FinishReply, ...errorResponses(400, 401, 403, 409) },
    },
    handler: async (req) => s.attempts.finish(attemptOf(req), req.body),
  });
}
