import { AppError, ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import type { PublicJob } from '../../domain/jobs/shape.js';
import type { Services } from '../../services.js';
import { isModelFile } from '../../domain/registry/run-log.js';
import * as q from './queries.js';
import { objectPath } from './datasets.js';
import { allowedModels } from './models.js';
import type { StartInput, TrainingDetailShape, TrainingStatus } from './schemas.js';

/** Log lines a training's `logs` shows: the newest. */
const LOG_LINES = 200;

export const jobNotFound = (id: string) => new AppError('JOB_NOT_FOUND', `Training job ${id} not found`, { status: 404 });

/** Job states in the document's four words. Stopping still runs; stopped is failed. */
const STATUS: Record<string, TrainingStatus> = {
  queued: 'queued',
  running: 'running',
  cancel_requested: 'running',
  succeeded: 'completed',
  failed: 'failed',
  cancelled: 'failed',
};

/** The artifact output_path names: the PEFT adapter's weights, else any weights, else the first. */
function adapterKey(all: Array<{ name: string; format: string; storage_key: string }>): string | null {
  const arts = all.filter(isModelFile);
  const pick =
    arts.find((a) => a.name === 'adapter_model.safetensors') ??
    arts.find((a) => a.format.includes('peft')) ??
    arts.find((a) => a.name.endsWith('.safetensors')) ??
    arts[0];
  return pick?.storage_key ?? null;
}

/**
 * Trainings: each an ordinary video-lora job (trainer chosen by the base model's model_type)
 * on the canonical dataset behind the document's dataset, with the document's parameters as
 * the trainer's hyperparameters of the same names.
 */
export class QloraTrainings {
  constructor(private readonly s: Services) {}

  async start(ownerId: string, input: StartInput): Promise<string> {
    const model = allowedModels(this.s).find((m) => m.id === input.model_id);
    if (!model) throw new ValidationError('MODEL_NOT_FOUND', `Model ${input.model_id} not found (GET /models/allowed lists them)`);
    const ds = await q.datasetById(this.s.db, ownerId, input.dataset_id);
    if (!ds) throw new ValidationError('DATASET_NOT_FOUND', `Dataset ${input.dataset_id} not found`);
    if (!ds.dataset_id) throw new ValidationError('DATASET_NOT_READY', `Dataset ${ds.id} has no completed upload yet (POST /datasets/upload-complete)`);
    const canonical = await this.s.datasets.get(ownerId, ds.dataset_id).catch((err: unknown) => {
      if (err instanceof NotFoundError) throw new ValidationError('DATASET_NOT_FOUND', `Dataset ${input.dataset_id} not found`);
      throw err;
    });
    if (canonical.status !== 'ready')
      throw new ValidationError('DATASET_NOT_READY', `Dataset ${ds.id} is ${canonical.status === 'error' ? 'in error' : 'still processing'}`);
    const params: Record<string, unknown> = { ...(input.training_params ?? {}) };
    const lora = model.supported_lora_params;
    if (lora) {
      const rank = params.lora_rank as number | undefined;
      if (rank !== undefined && (rank < lora.min_rank || rank > lora.max_rank))
        throw new ValidationError('LORA_RANK_UNSUPPORTED', `lora_rank must be within ${lora.min_rank}-${lora.max_rank} for ${model.id}`, lora);
      params.lora_alpha ??= lora.default_alpha;
    }
    const prepared = await this.s.jobs.prepare(ownerId, {
      trainer: model.trainer,
      dataset_id: ds.dataset_id,
      base_model: model.id,
      hyperparameters: params,
      output: { model_name: input.output_name },
      metadata: { compat: 'qlora', dataset_id: ds.id },
    });
    // The job (with its credit hold) and the facade's record commit together: never a billed
    // job the facade cannot list or stop.
    return this.s.db.transaction(async (tx) => {
      // Null only for a replayed Idempotency-Key, and none is given.
      const job = (await this.s.jobs.insertPrepared(tx, ownerId, prepared))!;
      await q.insertTraining(tx, { job_id: job.id, owner_id: ownerId, model_id: model.id, dataset_id: ds.id });
      return job.id;
    });
  }

  async list(ownerId: string) {
    const rows = await q.listTrainings(this.s.db, ownerId);
    const out = [];
    for (const r of rows) {
      const job = await this.job(r);
      if (job) out.push(await this.view(r, job));
    }
    return out;
  }

  async get(ownerId: string, jobId: string): Promise<TrainingDetailShape> {
    const r = await q.trainingById(this.s.db, ownerId, jobId);
    const job = r && (await this.job(r));
    if (!r || !job) throw jobNotFound(jobId);
    return { ...(await this.view(r, job)), logs: await this.logs(r, job) };
  }

  /**
   * Queued or running: the job is cancelled (a running trainer gets SIGTERM and is stopped).
   * A second stop, one that is already stopping, or a finished job: 400.
   */
  async stop(ownerId: string, jobId: string): Promise<void> {
    const r = await q.trainingById(this.s.db, ownerId, jobId);
    const job = r && (await this.job(r));
    if (!r || !job) throw jobNotFound(jobId);
    const notStoppable = (why: string) => new ValidationError('JOB_NOT_STOPPABLE', `Training job ${jobId} cannot be stopped: ${why}`);
    if (r.stop_requested_at || job.status === 'cancel_requested') throw notStoppable('a stop was already requested');
    if (job.status !== 'queued' && job.status !== 'running') throw notStoppable(`it is ${STATUS[job.status]}`);
    if (!(await q.claimStop(this.s.db, ownerId, jobId))) throw notStoppable('a stop was already requested');
    try {
      await this.s.jobs.cancel(ownerId, jobId);
    } catch (err) {
      // Nothing was stopped: the claim goes, so a retry is not refused as a second stop.
      await q.releaseStop(this.s.db, ownerId, jobId);
      if (err instanceof ConflictError) throw notStoppable('it has just finished');
      throw err;
    }
  }

  private async job(r: q.TrainingRow): Promise<PublicJob | null> {
    return this.s.jobs.get(r.owner_id, r.job_id).catch((err: unknown) => {
      if (err instanceof NotFoundError) return null;
      throw err;
    });
  }

  private async view(r: q.TrainingRow, job: PublicJob) {
    const status = STATUS[job.status] ?? 'failed';
    let output: string | null = null;
    if (job.status === 'succeeded' && job.model_version_id) {
      const key = adapterKey(await this.s.registry.versionArtifacts(job.model_version_id));
      output = key ? objectPath(this.s.store, key) : null;
    }
    return {
      job_id: r.job_id,
      model_id: r.model_id,
      dataset_id: r.dataset_id,
      status,
      progress: status === 'completed' ? 1 : Math.min(1, Math.max(0, job.progress?.fraction ?? 0)),
      started_at: job.created_at ?? r.created_at.toISOString(),
      completed_at: job.finished_at ?? null,
      output_path: output,
    };
  }

  /** The job's story and the trainer's newest lines, oldest first: "<time> <LEVEL> <message>". */
  private async logs(r: q.TrainingRow, job: PublicJob): Promise<string> {
    const line = (at: string, level: string, message: string) => `${at} ${level.toUpperCase()} ${message}`;
    const out = [line(job.created_at ?? r.created_at.toISOString(), 'info', `Training job queued (${job.trainer}, base model ${r.model_id})`)];
    if (job.started_at) out.push(line(job.started_at, 'info', 'Training started'));
    for (const l of await this.s.jobs.logs(r.owner_id, r.job_id, LOG_LINES, null))
      out.push(line(l.at, l.stream === 'stderr' && !l.level ? 'warning' : String(l.level ?? 'info'), String(l.message)));
    if (r.stop_requested_at) out.push(line(r.stop_requested_at.toISOString(), 'warning', 'Stop requested'));
    if (job.finished_at) {
      if (job.status === 'succeeded') out.push(line(job.finished_at, 'info', 'Training completed'));
      else if (job.status === 'cancelled') out.push(line(job.finished_at, 'warning', 'Training stopped by request'));
      else out.push(line(job.finished_at, 'error', `Training failed: ${job.error?.message ?? 'unknown error'}`));
    }
    return out.sort().join('\n');
  }
}
