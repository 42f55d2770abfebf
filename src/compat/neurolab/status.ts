/**
 * Trainyard's job and sweep states as the document's status: `queued`, `training`,
 * `completed`, `failed`, and a progress number with the documented phases — 0 queued,
 * 0.1-0.8 training (the job's own fraction of its epochs), 0.8-1.0 evaluating (the trainer has
 * run its last epoch and is scoring and saving the model), 1 completed.
 */
import type { PublicJob } from '../../domain/jobs/shape.js';
import { isFinal, JOB_STATES } from '../../domain/jobs/states.js';
import type { JobStatusShape } from './schemas.js';

type Phase = Pick<JobStatusShape, 'status' | 'progress' | 'message' | 'error'>;

const TRAIN_START = 0.1;
const TRAIN_END = 0.8;
const EVALUATING = 0.9;

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** The phase of one training job. A cancelled job shows `failed` with the error "cancelled". */
export function jobPhase(job: PublicJob): Phase {
  const fraction = Math.min(1, Math.max(0, job.progress.fraction ?? 0));
  const training = round(TRAIN_START + (TRAIN_END - TRAIN_START) * fraction);
  switch (job.status) {
    case JOB_STATES.QUEUED:
      return { status: 'queued', progress: 0, message: 'Waiting in the queue', error: null };
    case JOB_STATES.RUNNING: {
      if (fraction >= 1) return { status: 'training', progress: EVALUATING, message: 'Evaluating model', error: null };
      const total = Number(job.hyperparameters.epochs);
      const epoch = job.progress.epoch;
      if (epoch === null || epoch === undefined) return { status: 'training', progress: TRAIN_START, message: 'Preparing data', error: null };
      return { status: 'training', progress: training, message: `Training epoch ${Math.max(1, Math.ceil(epoch))}/${total}`, error: null };
    }
    case JOB_STATES.CANCEL_REQUESTED:
      return { status: 'training', progress: training, message: 'Cancelling', error: null };
    case JOB_STATES.SUCCEEDED:
      return { status: 'completed', progress: 1, message: 'Training completed successfully', error: null };
    case JOB_STATES.CANCELLED:
      return { status: 'failed', progress: training, message: 'Training cancelled', error: 'cancelled' };
    default:
      return { status: 'failed', progress: training, message: 'Training failed', error: job.error?.message ?? 'failed' };
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The document's final metrics from the trainer's result (accuracy/loss: the chosen epoch's; val_*: the final model on validation data). */
export function trainMetrics(job: PublicJob): JobStatusShape['metrics'] {
  const m = (job.result?.metrics ?? {}) as Record<string, unknown>;
  return {
    final_train_accuracy: num(m.accuracy),
    final_val_accuracy: num(m.val_accuracy),
    final_train_loss: num(m.loss),
    final_val_loss: num(m.val_loss),
  };
}

/** How far one child of a comparison is, 0-1, for the comparison's overall progress. */
function childFraction(job: PublicJob): number {
  if (job.status === JOB_STATES.QUEUED) return 0;
  if (job.status === JOB_STATES.RUNNING || job.status === JOB_STATES.CANCEL_REQUESTED) return Math.min(1, Math.max(0, job.progress.fraction ?? 0));
  return 1;
}

/**
 * A comparison (a sweep) as one job: queued until a run starts; training while any run is
 * open (progress spread over 0.1-0.8 by the runs' own progress); completed once every run has
 * ended and at least one succeeded (failed runs are named in `error`); failed when none did,
 * or "cancelled" when it was cancelled.
 */
export function comparePhase(sweepStatus: string, children: PublicJob[]): Phase {
  const total = children.length;
  const ended = children.filter((j) => isFinal(j.status)).length;
  const failed = children.filter((j) => j.status === JOB_STATES.FAILED);
  const mean = total > 0 ? children.reduce((s, j) => s + childFraction(j), 0) / total : 0;
  const failures = failed.length > 0 ? `${failed.length} of ${total} runs failed: ${failed[0]!.error?.message ?? 'failed'}` : null;
  switch (sweepStatus) {
    case 'running':
      if (children.every((j) => j.status === JOB_STATES.QUEUED)) return { status: 'queued', progress: 0, message: 'Waiting in the queue', error: null };
      return {
        status: 'training',
        progress: round(TRAIN_START + (TRAIN_END - TRAIN_START) * mean),
        message: `Comparing architectures: ${ended} of ${total} runs finished`,
        error: null,
      };
    case 'cancelling':
      return { status: 'training', progress: round(TRAIN_START + (TRAIN_END - TRAIN_START) * mean), message: 'Cancelling', error: null };
    case 'succeeded':
      return { status: 'completed', progress: 1, message: 'Model comparison completed successfully', error: null };
    case 'partial':
      return { status: 'completed', progress: 1, message: 'Model comparison completed; some runs failed', error: failures };
    case 'cancelled':
      return { status: 'failed', progress: round(TRAIN_START + (TRAIN_END - TRAIN_START) * mean), message: 'Model comparison cancelled', error: 'cancelled' };
    default:
      return { status: 'failed', progress: 1, message: 'Model comparison failed', error: failures ?? 'every run failed' };
  }
}
