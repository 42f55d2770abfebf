/**
 * The facade's work, above the domain services: training data becomes ordinary datasets
 * (files + datasets services), a training request an ordinary `sequence-classifier` job (jobs
 * service) and a comparison an ordinary sweep over the four architectures (sweeps service).
 * The only state kept here is the mapping from the document's job ids to them (queries.ts).
 */
import { Readable } from 'node:stream';
import type { Principal } from '../../domain/accounts/service.js';
import type { PublicJob } from '../../domain/jobs/shape.js';
import { summarize } from '../../domain/sweeps/aggregate.js';
import { isFinal, JOB_STATES } from '../../domain/jobs/states.js';
import type { RateLimit } from '../../config.js';
import { AppError, ConflictError, NotFoundError, TooManyRequestsError, ValidationError } from '../../errors.js';
import type { Services } from '../../services.js';
import { LABEL_COLUMN, samplesCsv } from './data.js';
import * as q from './queries.js';
import type { NeurolabJobRow, NeurolabKind } from './queries.js';
import { ARCHITECTURES, type CompareInput, type CompareResultsShape, type JobStatusShape, type TrainConfigInput, type TrainInput } from './schemas.js';
import { comparePhase, jobPhase, trainMetrics } from './status.js';

export type NeurolabDeps = Pick<Services, 'db' | 'files' | 'datasets' | 'jobs' | 'sweeps' | 'registry'>;

const TRAINER = 'sequence-classifier';
const DEFAULT_MODEL_TYPE = 'enhanced_cnn_lstm';
const PREFIX: Record<NeurolabKind, string> = { train: 'train', train_file: 'train_file', compare: 'compare' };

/** "20240115_103000" in UTC, as the document's job ids carry it. */
export function stamp(d: Date): string {
  const iso = d.toISOString(); // 2024-01-15T10:30:00.000Z
  return `${iso.slice(0, 10).replace(/-/g, '')}_${iso.slice(11, 19).replace(/:/g, '')}`;
}

/** The document saves `processed/trained_model_{model_type}.h5`: here the admin's model of that name, one version per job. */
export const modelName = (modelType: string | undefined): string => `trained_model_${modelType ?? DEFAULT_MODEL_TYPE}`;

/**
 * The document's configuration as the trainer's hyperparameters. A JSON row (or CSV line) is
 * one sample, so each sample is classified on its own: sequence_length 1. The document's
 * default architecture is stated, not left to the trainer's "auto" (issue #18).
 */
function hyperparameters(config: Partial<TrainConfigInput>): Record<string, unknown> {
  const { subject_id, session_id, ...rest } = config;
  return { model_type: DEFAULT_MODEL_TYPE, ...rest, ...(subject_id ? { subject_id } : {}), ...(session_id ? { session_id } : {}), sequence_length: 1 };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Per architecture, one value per finished run in repeat order, in the document's units. */
export function compareResults(children: PublicJob[]): CompareResultsShape {
  const out: CompareResultsShape = {};
  // A comparison given X_holdout: every child names its test set, and each run's held-out scores show.
  const held = children.some((j) => j.test_dataset_id !== null);
  for (const a of ARCHITECTURES)
    out[a] = { accuracy: [], auc: [], training_time: [], inference_time: [], model_size: [], ...(held ? { test_accuracy: [], test_macro_f1: [] } : {}) };
  const done = children.filter((j) => j.status === JOB_STATES.SUCCEEDED);
  done.sort((a, b) => Number(a.metadata.repeat ?? 0) - Number(b.metadata.repeat ?? 0));
  for (const j of done) {
    const r = out[String(j.hyperparameters.model_type)];
    const m = (j.result?.metrics ?? {}) as Record<string, unknown>;
    if (!r) continue;
    const push = (list: number[], v: number | undefined) => v !== undefined && list.push(v);
    push(r.accuracy, num(m.val_accuracy));
    push(r.auc, num(m.val_auc));
    push(r.training_time, num(m.training_time_s));
    const ms = num(m.inference_ms_per_sample);
    push(r.inference_time, ms === undefined ? undefined : ms / 1000);
    const size = num(m.model_size_bytes);
    push(r.model_size, size === undefined ? undefined : size / 1e6);
    if (r.test_accuracy) push(r.test_accuracy, num(m.test_accuracy));
    if (r.test_macro_f1) push(r.test_macro_f1, num(m.test_macro_f1));
  }
  if (held)
    for (const r of Object.values(out)) {
      const ms = (v: number[] | undefined) => (v?.length ? (({ mean, std }) => ({ mean, std, n: v.length }))(summarize(v)) : null);
      r.test_summary = { test_accuracy: ms(r.test_accuracy), test_macro_f1: ms(r.test_macro_f1) };
    }
  return out;
}

/** "1 hour", "10 minutes": the window as the limit's message says it. */
function windowText(ms: number): string {
  for (const [unit, size] of [
    ['hour', 3_600_000],
    ['minute', 60_000],
    ['second', 1000],
  ] as const)
    if (ms % size === 0) return ms === size ? `1 ${unit}` : `${ms / size} ${unit}s`;
  return `${ms} ms`;
}

export class NeurolabService {
  /** `limit`: training jobs per owner and window (COMPAT_NEUROLAB_RATE_TRAIN); max 0 = none. */
  constructor(
    private readonly s: NeurolabDeps,
    private readonly limit: RateLimit,
  ) {}

  /**
   * A new id of the documented form (a second one in the same second gets `_2`, then `_3`…),
   * within the owner's training limit. The limit counts the facade's own records under a
   * per-owner lock, so it is one limit for /api/train, /api/train/file and /api/train/compare,
   * on every mount and every API process, and exact under concurrent requests.
   */
  private async reserve(p: Principal, kind: NeurolabKind, source: string | null): Promise<{ id: string; createdAt: Date }> {
    return this.s.db.transaction(async (tx) => {
      const createdAt = new Date();
      const { max, windowMs } = this.limit;
      if (max > 0) {
        await q.lockOwner(tx, p.userId);
        const recent = await q.startedSince(tx, p.userId, new Date(createdAt.getTime() - windowMs));
        if (recent.count >= max) {
          const retry = recent.oldest ? Math.max(1, Math.ceil((recent.oldest.getTime() + windowMs - createdAt.getTime()) / 1000)) : 1;
          throw new TooManyRequestsError('RATE_LIMITED', `rate limit of ${max} training jobs per ${windowText(windowMs)} exceeded; retry in ${retry} s`, retry);
        }
      }
      const base = `${PREFIX[kind]}_${stamp(createdAt)}_${p.username}`;
      for (let n = 1; n <= 1000; n++) {
        const id = n === 1 ? base : `${base}_${n}`;
        if (await q.reserve(tx, { id, owner_id: p.userId, kind, source, created_at: createdAt })) return { id, createdAt };
      }
      throw new ConflictError('JOB_ID_EXHAUSTED', `more than 1000 jobs named ${base} in one second`);
    });
  }

  /** Stores CSV text as a file and validates it as a dataset at once: ready, or a 400 with what is wrong. */
  private async dataset(p: Principal, name: string, filename: string, csv: string, undo: Array<() => Promise<void>>): Promise<string> {
    const file = await this.s.files.ingest(p.userId, filename, Readable.from([Buffer.from(csv)]), 'upload');
    undo.push(() => this.s.files.delete(p.userId, file.id));
    return this.datasetOf(p, name, file.id, undo);
  }

  private async datasetOf(p: Principal, name: string, fileId: string, undo: Array<() => Promise<void>>): Promise<string> {
    const ds = await this.s.datasets.create(
      p.userId,
      { name, kind: 'tabular-csv', file_ids: [fileId], options: { label_column: LABEL_COLUMN }, description: 'Sent to the EEG training API (neurolab)' },
      { inline: true },
    );
    undo.push(() => this.s.datasets.delete(p.userId, ds.id));
    if (ds.status !== 'ready') {
      const first = (ds.errors as Array<{ line?: number; message?: string }>).slice(0, 3).map((e) => (e.line ? `line ${e.line}: ${e.message}` : e.message));
      throw new ValidationError('INVALID_DATA', `the training data is not usable: ${first.join('; ')}`, { errors: ds.errors, error_count: ds.error_count });
    }
    return ds.id;
  }

  /**
   * Reserves the id, runs `create` (datasets, then the job or sweep), and records what it made.
   * On any failure the record and whatever `create` had made are removed: nothing is left
   * half-started.
   */
  private async start(
    p: Principal,
    kind: NeurolabKind,
    source: string | null,
    create: (id: string, undo: Array<() => Promise<void>>) => Promise<{ job_id: string } | { sweep_id: string }>,
    undo: Array<() => Promise<void>> = [],
  ) {
    let reserved;
    try {
      reserved = await this.reserve(p, kind, source);
    } catch (err) {
      // Refused before anything was made (rate limit, no id left): what the caller stored goes too.
      for (const u of undo.reverse()) await u().catch(() => {});
      throw err;
    }
    const { id, createdAt } = reserved;
    try {
      await q.attach(this.s.db, id, await create(id, undo));
    } catch (err) {
      await q.discard(this.s.db, id);
      for (const u of undo.reverse()) await u().catch(() => {});
      throw err;
    }
    return { job_id: id, createdAt };
  }

  async train(p: Principal, input: TrainInput) {
    const train = samplesCsv(input.X_train, input.y_train, { x: 'X_train', y: 'y_train' });
    if (train.classes < 2) throw new ValidationError('TOO_FEW_CLASSES', `y_train has ${train.classes} class; training needs at least 2`);
    if ((input.X_test === undefined) !== (input.y_test === undefined))
      throw new ValidationError('TEST_DATA_INCOMPLETE', 'X_test and y_test go together: send both or neither');
    const test = input.X_test ? samplesCsv(input.X_test, input.y_test!, { x: 'X_test', y: 'y_test' }, train.width) : null;
    const config = input.config ?? {};
    return this.start(p, 'train', null, async (id, undo) => {
      const dataset_id = await this.dataset(p, `neurolab ${id}`, 'training_data.csv', train.csv, undo);
      const validation = test ? await this.dataset(p, `neurolab ${id} test`, 'test_data.csv', test.csv, undo) : null;
      const { job } = await this.s.jobs.create(p.userId, {
        trainer: TRAINER,
        dataset_id,
        ...(validation ? { validation_dataset_id: validation } : {}),
        hyperparameters: hyperparameters(config),
        output: { model_name: modelName(config.model_type) },
        metadata: { compat: 'neurolab', compat_job_id: id },
      });
      return { job_id: job.id };
    });
  }

  /** The CSV was already stored (streamed) as `fileId`; it is removed again if the job cannot start. */
  async trainFile(p: Principal, file: { id: string; filename: string }, config: TrainConfigInput) {
    const undo = [() => this.s.files.delete(p.userId, file.id)];
    return this.start(
      p,
      'train_file',
      file.filename,
      async (id) => {
        const dataset_id = await this.datasetOf(p, `neurolab ${id}`, file.id, undo);
        const { job } = await this.s.jobs.create(p.userId, {
          trainer: TRAINER,
          dataset_id,
          hyperparameters: hyperparameters(config),
          output: { model_name: modelName(config.model_type) },
          metadata: { compat: 'neurolab', compat_job_id: id },
        });
        return { job_id: job.id };
      },
      undo,
    );
  }

  async compare(p: Principal, input: CompareInput) {
    const train = samplesCsv(input.X_train, input.y_train, { x: 'X_train', y: 'y_train' });
    if (train.classes < 2) throw new ValidationError('TOO_FEW_CLASSES', `y_train has ${train.classes} class; training needs at least 2`);
    const test = samplesCsv(input.X_test, input.y_test, { x: 'X_test', y: 'y_test' }, train.width);
    if ((input.X_holdout === undefined) !== (input.y_holdout === undefined))
      throw new ValidationError('HOLDOUT_DATA_INCOMPLETE', 'X_holdout and y_holdout go together: send both or neither');
    const holdout = input.X_holdout ? samplesCsv(input.X_holdout, input.y_holdout!, { x: 'X_holdout', y: 'y_holdout' }, train.width) : null;
    return this.start(p, 'compare', null, async (id, undo) => {
      const dataset_id = await this.dataset(p, `neurolab ${id}`, 'training_data.csv', train.csv, undo);
      const validation_dataset_id = await this.dataset(p, `neurolab ${id} test`, 'test_data.csv', test.csv, undo);
      const test_dataset_id = holdout ? await this.dataset(p, `neurolab ${id} holdout`, 'holdout_data.csv', holdout.csv, undo) : null;
      const sweep = await this.s.sweeps.create(p.userId, {
        trainer: TRAINER,
        dataset_id,
        validation_dataset_id,
        ...(test_dataset_id ? { test_dataset_id } : {}),
        // The grid names every architecture: no default model_type beside it.
        hyperparameters: (({ model_type: _m, ...rest }) => rest)(hyperparameters(input.config ?? {})),
        grid: { model_type: [...ARCHITECTURES] },
        repeats: input.n_repeats ?? 3,
        // One model per comparison, named by its id: every run a version, `best` the winner.
        output: { model_name: id },
      });
      return { sweep_id: sweep.id };
    });
  }

  private async row(id: string): Promise<NeurolabJobRow> {
    const row = await q.byId(this.s.db, id);
    if (!row) throw new NotFoundError('training job', id);
    return row;
  }

  async status(id: string): Promise<JobStatusShape> {
    return this.describe(await this.row(id));
  }

  /** Per architecture, the runs finished so far (404 for an id that is not a comparison). */
  async compareResults(id: string): Promise<CompareResultsShape> {
    const row = await this.row(id);
    if (!row.sweep_id) throw new NotFoundError('model comparison', id);
    return compareResults(await this.s.sweeps.children(row.owner_id, row.sweep_id));
  }

  async list(limit: number): Promise<JobStatusShape[]> {
    return Promise.all((await q.recent(this.s.db, limit)).map((r) => this.describe(r)));
  }

  /**
   * Removes the document's job record; a job (or comparison) still running is cancelled first.
   * The Trainyard job stays in /v1 with its credits, logs and any model version: it is the
   * ledger's record of work that was done.
   */
  async delete(id: string): Promise<void> {
    const row = await this.row(id);
    if (row.job_id) {
      const job = await this.s.jobs.get(row.owner_id, row.job_id);
      if (!isFinal(job.status)) await this.s.jobs.cancel(row.owner_id, row.job_id).catch(ignoreFinished);
    }
    if (row.sweep_id) {
      const sweep = await this.s.sweeps.get(row.owner_id, row.sweep_id);
      if (sweep.status === 'running') await this.s.sweeps.cancel(row.owner_id, row.sweep_id);
    }
    if (!(await q.markDeleted(this.s.db, id))) throw new NotFoundError('training job', id);
  }

  private async describe(row: NeurolabJobRow): Promise<JobStatusShape> {
    const base = { job_id: row.id, started_at: row.created_at.toISOString(), trainyard: { job_id: row.job_id, sweep_id: row.sweep_id } };
    if (row.job_id) {
      const job = await this.s.jobs.get(row.owner_id, row.job_id);
      const phase = jobPhase(job);
      const completed = phase.status === 'completed';
      const name = String(job.output?.model_name ?? '');
      const version = completed && job.model_version_id ? await this.s.registry.versionNumber(job.model_version_id) : null;
      return {
        ...base,
        ...phase,
        completed_at: isFinal(job.status) ? job.finished_at : null,
        metrics: completed ? trainMetrics(job) : null,
        model: version !== null ? { name, version, path: `/v1/models/${name}/versions/${version}` } : null,
      };
    }
    if (row.sweep_id) {
      const sweep = await this.s.sweeps.get(row.owner_id, row.sweep_id);
      const children = await this.s.sweeps.children(row.owner_id, row.sweep_id);
      const phase = comparePhase(sweep.status, children);
      const ended = children.every((j) => isFinal(j.status));
      const finished = children.map((j) => j.finished_at).filter((t): t is string => t !== null);
      const completed = phase.status === 'completed';
      return {
        ...base,
        ...phase,
        completed_at: ended && finished.length > 0 ? finished.sort().at(-1)! : null,
        metrics: completed ? compareResults(children) : null,
        model: completed ? { name: sweep.model_name, version: null, path: `/v1/models/${sweep.model_name}` } : null,
      };
    }
    // A server stopped between reserving the id and creating the job, or a job deleted in /v1.
    return {
      ...base,
      status: 'failed',
      progress: 0,
      message: 'Training failed',
      error: 'the Trainyard job behind it was never started or has been deleted',
      completed_at: null,
      metrics: null,
      model: null,
    };
  }
}

function ignoreFinished(err: unknown): void {
  // A job that ended between the look and the cancel: nothing left to stop.
  if (err instanceof AppError && err.code === 'JOB_FINISHED') return;
  throw err;
}
