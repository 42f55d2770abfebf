import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { baseUrl } from '../../app/routes/v1/files.js';
import type { PublicJob } from '../../domain/jobs/shape.js';
import type { Ctx } from './context.js';
import type { TrainingRow } from './queries.js';
import type { State } from './schemas.js';

/**
 * The document's four states. A cancelled job is `failed` with errorMessage "cancelled" (the
 * document has no cancelled state; its credits were refunded like a failure's).
 */
export function stateOf(status: string): State {
  if (status === 'queued') return 'pending';
  if (status === 'running' || status === 'cancel_requested') return 'processing';
  if (status === 'succeeded') return 'completed';
  return 'failed';
}

const QUEUE_STATE = { pending: 'waiting', processing: 'active', completed: 'completed', failed: 'failed' } as const;

/** Integer percent, 100 only once completed. */
export function percent(job: PublicJob): number {
  if (job.status === 'succeeded') return 100;
  const p = Math.floor((job.progress.fraction ?? 0) * 100);
  return Math.max(0, Math.min(99, p));
}

/** Credits the job holds or took; 0 once released (failed and cancelled jobs are refunded in full). */
export const creditsUsed = (job: PublicJob) => (stateOf(job.status) === 'failed' ? 0 : job.cost);

export function errorMessage(job: PublicJob): string | null {
  if (job.status === 'cancelled') return 'cancelled';
  if (job.status === 'failed') return job.error?.message ?? 'training failed';
  return null;
}

/** "N minutes" (rounded up, at least 1) from the job's estimate; "unknown" without one. */
export function duration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return 'unknown';
  const m = Math.max(1, Math.ceil(seconds / 60));
  return `${m} minute${m === 1 ? '' : 's'}`;
}

/** The signature of a training's model URL: HMAC of its id, no expiry (the URL is meant to be kept). */
export const signatureOf = (c: Ctx, trainingId: string) => createHmac('sha256', c.modelUrlKey).update(`model-url\n${trainingId}`).digest('base64url');

export function validSignature(c: Ctx, trainingId: string, given: string): boolean {
  const expected = Buffer.from(signatureOf(c, trainingId));
  const got = Buffer.from(given);
  return expected.length === got.length && timingSafeEqual(expected, got);
}

/** The stable URL on this facade that redirects to a fresh signed download of the LoRA weights. */
export function modelUrl(c: Ctx, req: FastifyRequest, trainingId: string): string {
  return `${baseUrl(c.s, req)}${c.prefix}/api/train/${encodeURIComponent(trainingId)}/model?signature=${signatureOf(c, trainingId)}`;
}

export function trainingView(c: Ctx, req: FastifyRequest, t: TrainingRow, job: PublicJob) {
  const status = stateOf(job.status);
  return {
    id: t.id,
    modelName: t.model_name,
    status,
    progress: percent(job),
    steps: t.steps,
    creditsUsed: creditsUsed(job),
    trainedModelUrl: status === 'completed' && job.model_version_id ? modelUrl(c, req, t.id) : null,
    errorMessage: errorMessage(job),
    createdAt: t.created_at.toISOString(),
    completedAt: status === 'completed' ? job.finished_at : null,
  };
}

export function statusView(c: Ctx, req: FastifyRequest, t: TrainingRow, job: PublicJob) {
  const trainingJob = trainingView(c, req, t, job);
  return {
    status: 'ok' as const,
    jobId: job.id,
    trainingJob,
    queueStatus: { state: QUEUE_STATE[trainingJob.status], progress: trainingJob.progress },
    timestamp: new Date().toISOString(),
  };
}

export function modelEntry(c: Ctx, req: FastifyRequest, t: TrainingRow, job: PublicJob) {
  const v = trainingView(c, req, t, job);
  return {
    id: v.id,
    model_name: v.modelName,
    status: v.status,
    steps: v.steps,
    credits_used: v.creditsUsed,
    trained_model_url: v.trainedModelUrl,
    created_at: v.createdAt,
    completed_at: v.completedAt,
  };
}
