import type { Db, Queryable } from '../../db/db.js';
import { ConflictError, isForeignKeyViolation, NotFoundError, TooManyRequestsError, ValidationError } from '../../errors.js';
import { decodeCursor, newId, toPage } from '../../ids.js';
import type { CatalogService } from '../catalog/service.js';
import type { Trainer } from '../catalog/types.js';
import type { CreditsService } from '../credits/service.js';
import type { DatasetsService, PublicDataset } from '../datasets/service.js';
import type { RegistryService } from '../registry/service.js';
import type { WebhooksService } from '../webhooks/service.js';
import { estimate, rateFor, type Rate } from './estimate.js';
import { validateHyperparameters } from './hyperparameters.js';
import { idempotentCreate, requestHash, type Idempotent } from './idempotency.js';
import type { JobLifecycle } from './lifecycle/index.js';
import { priceJob } from './pricing.js';
import { resolveGoal } from '../registry/metric.js';
import { checkTestSet } from './test-set.js';
import type { CreateJobInput, JobsFilterInput } from './schema.js';
import * as q from './queries.js';
import { JobCache } from './job-cache.js';
import { publicJob, type PublicJob } from './shape.js';
import { isFinal, JOB_STATES, type JobState } from './states.js';
import type { FromModel, JobRow, NewJob } from './types.js';
import { prepareIntegrations, type StoredIntegration } from '../../tracking/integrations.js';

export interface JobsDeps {
  db: Db;
  catalog: CatalogService;
  datasets: DatasetsService;
  registry: RegistryService;
  credits: Pick<CreditsService, 'lockAccount'>;
  webhooks: Pick<WebhooksService, 'checkUrl'>;
  lifecycle: JobLifecycle;
  limits: { maxQueuedPerUser: number; maxRunningPerUser: number; maxAttempts: number; maxRuntimeSeconds: number };
  /** The status API's per-process cache (JobCache); absent or ttlMs 0: every GET reads the database. */
  cache?: { ttlMs: number; maxEntries: number };
}

/** A training job, checked and priced, as it will be inserted. */
export interface PreparedJob {
  trainer: Trainer;
  input: CreateJobInput;
  hyperparameters: Record<string, unknown>;
  fromModel: FromModel | null;
  datasetId: string;
  testDatasetId: string | null;
  /** The request's output, with the goal of its primary_metric settled (given or inferred). */
  output: CreateJobInput['output'];
  /** The dataset's row count, which linear pricing may scale by. */
  datasetRows: number;
  /** The request's base model, or the trainer's default when it named none. */
  baseModel: string | null;
  /** The trainer's seconds per unit of work, for the duration estimate (estimate.ts). */
  rate: Rate | null;
  cost: number;
  /** The request's trackers, their URIs checked, each pending. */
  integrations: StoredIntegration[];
}

/** An inference job (a generation): no dataset and no output model; its outputs stay on the job. */
export interface InferenceJob {
  trainer: Trainer;
  hyperparameters: Record<string, unknown>;
  baseModel: string;
  /** The adapter the inference loads (staged like a warm start's version). */
  fromModel: FromModel | null;
  cost: number;
  priority?: number;
}

export interface InsertOptions {
  idempotencyKey?: string | undefined;
  requestHash?: string;
  sweep?: { id: string; point: Record<string, unknown>; repeat: number };
}

export { requestHash };

/** Metrics events one GET /v1/jobs/{id}/metrics reads: enough for any chart, bounded for any run. */
export const MAX_METRIC_EVENTS = 5000;

export class JobsService {
  /** GET /v1/jobs/{id} answers; the runtime starts it before the server takes requests. */
  readonly cache: JobCache;

  constructor(private readonly d: JobsDeps) {
    this.cache = new JobCache({ db: d.db, ttlMs: d.cache?.ttlMs ?? 0, maxEntries: d.cache?.maxEntries ?? 1 });
  }

  private checkDataset(t: Trainer, ds: PublicDataset, role: string): void {
    if (ds.status !== 'ready')
      throw new ConflictError('DATASET_NOT_READY', `${role} ${ds.id} is ${ds.status}, not ready`, { dataset_id: ds.id, status: ds.status });
    if (!t.dataset.kinds.includes(ds.kind))
      throw new ValidationError('DATASET_KIND_MISMATCH', `${t.id} trains on ${t.dataset.kinds.join(' or ')}, not ${ds.kind}`, { accepted: t.dataset.kinds });
    const stats = ds.stats ?? {};
    const images = Number(stats.image_count ?? 0);
    const rows = Number(stats.row_count ?? stats.example_count ?? stats.conversation_count ?? 0);
    const problems: string[] = [];
    if (t.dataset.min_images !== undefined && images < t.dataset.min_images) problems.push(`at least ${t.dataset.min_images} images (has ${images})`);
    if (t.dataset.max_images !== undefined && images > t.dataset.max_images) problems.push(`at most ${t.dataset.max_images} images (has ${images})`);
    if (t.dataset.min_rows !== undefined && rows < t.dataset.min_rows) problems.push(`at least ${t.dataset.min_rows} rows (has ${rows})`);
    if (t.dataset.label_column_required && !ds.options.label_column) problems.push('a label column (create the dataset with options.label_column)');
    if (problems.length) throw new ValidationError('DATASET_CONSTRAINT', `${t.id} needs ${role} with ${problems.join('; ')}`, { problems });
  }

  /** Everything that can be checked before touching money: the job as it will be inserted. */
  async prepare(ownerId: string, input: CreateJobInput): Promise<PreparedJob> {
    await this.d.catalog.ready();
    let trainer: Trainer;
    try {
      trainer = this.d.catalog.trainer(input.trainer);
    } catch {
      throw new ValidationError('UNKNOWN_TRAINER', `no trainer "${input.trainer}"; GET /v1/trainers lists them`);
    }
    if (trainer.kind === 'inference')
      throw new ValidationError('INFERENCE_TRAINER', `${trainer.id} runs inference, not training; use its own endpoint (POST /v1/generations)`);
    if (!trainer.available)
      throw new ConflictError('TRAINER_UNAVAILABLE', `${trainer.id} is not available: ${trainer.unavailable_reason}`, { reason: trainer.unavailable_reason });
    const ds = await this.d.datasets.get(ownerId, input.dataset_id);
    this.checkDataset(trainer, ds, 'dataset');
    if (input.validation_dataset_id) {
      const vds = await this.d.datasets.get(ownerId, input.validation_dataset_id);
      if (vds.kind !== ds.kind) throw new ValidationError('DATASET_KIND_MISMATCH', 'the validation dataset must be of the same kind as the dataset');
      if (vds.status !== 'ready') throw new ConflictError('DATASET_NOT_READY', `validation dataset ${vds.id} is ${vds.status}, not ready`);
    }
    if (input.test_dataset_id) checkTestSet(trainer, ds, await this.d.datasets.get(ownerId, input.test_dataset_id));
    const output: PreparedJob['output'] = { ...input.output };
    if (input.output.primary_metric) output.metric_goal = resolveGoal(input.output.primary_metric, input.output.metric_goal, 'output.metric_goal');
    else if (input.output.metric_goal) throw new ValidationError('METRIC_GOAL_WITHOUT_METRIC', 'output.metric_goal goes with output.primary_metric');
    const baseModel = this.baseModelFor(trainer, input.base_model);
    const hyperparameters = validateHyperparameters(trainer.hyperparameters, input.hyperparameters ?? {});
    const metric = output.primary_metric ? { name: output.primary_metric, goal: output.metric_goal! } : undefined;
    await this.d.registry.checkOutput(ownerId, input.output.model_name, trainer.id, input.output.if_exists, metric);
    if (input.webhook_url) await this.d.webhooks.checkUrl(input.webhook_url);
    // A tracker URI is a URL the worker will call, like a webhook's: the same guard, at once.
    const integrations = await prepareIntegrations(input.integrations, (url) => this.d.webhooks.checkUrl(url));
    let fromModel: FromModel | null = null;
    if (input.from_model) {
      if (!trainer.supports_warm_start) throw new ValidationError('WARM_START_NOT_SUPPORTED', `${trainer.id} cannot start from an existing model`);
      const { name, version, alias } = input.from_model;
      if ((version === undefined) === (alias === undefined)) throw new ValidationError('FROM_MODEL_REF', 'from_model needs exactly one of version or alias');
      const m = await this.d.registry.resolve(ownerId, name);
      if (m.trainer !== trainer.id)
        throw new ValidationError('FROM_MODEL_TRAINER_MISMATCH', `model "${name}" was trained with ${m.trainer}, not ${trainer.id}`);
      const v = await this.d.registry.versionRow(m, String(version ?? alias));
      fromModel = { name, version: v.version, version_id: v.id };
    }
    const datasetRows = Number(ds.stats?.row_count ?? 0);
    const rate = await rateFor(this.d.db, trainer, JobsService.gpus(trainer));
    return {
      trainer,
      input,
      hyperparameters,
      fromModel,
      datasetId: ds.id,
      testDatasetId: input.test_dataset_id ?? null,
      output,
      datasetRows,
      baseModel,
      rate,
      cost: priceJob(trainer.pricing, hyperparameters, datasetRows),
      integrations,
    };
  }

  /** The price of `input` without creating anything (POST /v1/jobs/quote): the same checks and priceJob as create. */
  async quote(ownerId: string, input: CreateJobInput): Promise<{ trainer: string; hyperparameters: Record<string, unknown>; cost: number }> {
    const p = await this.prepare(ownerId, input);
    return { trainer: p.trainer.id, hyperparameters: p.hyperparameters, cost: p.cost };
  }

  /**
   * The base model a job trains from: the one asked for (checked against the trainer's list, as
   * always), else the trainer's default_base_model when this server has its files. A default
   * the deployment lacks counts as no default: a required base model is then asked for (400
   * BASE_MODEL_REQUIRED, saying why), rather than a job queued to fail at staging.
   */
  private baseModelFor(trainer: Trainer, requested: string | undefined): string | null {
    if (trainer.base_models === 'none') {
      if (requested) throw new ValidationError('BASE_MODEL_NOT_ALLOWED', `${trainer.id} trains from scratch and takes no base_model`);
      return null;
    }
    const offered = this.d.catalog.listBaseModels({ trainer: trainer.id });
    if (requested) {
      if (!offered.some((m) => m.id === requested))
        throw new ValidationError('BASE_MODEL_NOT_ALLOWED', `base model "${requested}" is not available for ${trainer.id}`);
      return requested;
    }
    const fallback = trainer.default_base_model ? offered.find((m) => m.id === trainer.default_base_model) : undefined;
    if (fallback?.available) return fallback.id;
    if (trainer.base_models === 'required') {
      const why = trainer.default_base_model ? ` (its default, "${trainer.default_base_model}", is not installed on this server)` : '';
      throw new ValidationError('BASE_MODEL_REQUIRED', `${trainer.id} needs a base_model${why}; GET /v1/base-models?trainer=${trainer.id}`);
    }
    return null;
  }

  /**
   * Another job like `base` that differs only in hyperparameters and metadata (a sweep's
   * children): only what changed is checked again, so a 200-job sweep makes one round of
   * dataset, model and catalog look-ups rather than 200.
   */
  prepareVariant(base: PreparedJob, input: CreateJobInput): PreparedJob {
    const hyperparameters = validateHyperparameters(base.trainer.hyperparameters, input.hyperparameters ?? {});
    return { ...base, input, hyperparameters, cost: priceJob(base.trainer.pricing, hyperparameters, base.datasetRows) };
  }

  /**
   * 429 before any work when `n` more queued jobs would pass the owner's quota. Advisory: the
   * insert checks again under the owner's lock, which is what makes the quota exact.
   */
  async checkQueueRoom(ownerId: string, n: number): Promise<void> {
    const { queued } = await q.countByStatus(this.d.db, ownerId);
    const max = this.d.limits.maxQueuedPerUser;
    if (queued + n > max)
      throw new TooManyRequestsError('QUEUE_QUOTA_EXCEEDED', `${n} more jobs would make ${queued + n} queued (limit ${max}); wait or cancel some`, 30);
  }

  /**
   * Inserts a job and places its credit hold in the caller's transaction. The owner's credit
   * row is locked first, so one user's concurrent creations are serialised: quotas and balances
   * are exact, not approximate. Returns null when the idempotency key already exists.
   */
  private async insert(
    tx: Queryable,
    ownerId: string,
    job: Omit<
      NewJob,
      'id' | 'owner_id' | 'labels' | 'max_attempts' | 'max_runtime_seconds' | 'idempotency_key' | 'request_hash' | 'sweep_id' | 'sweep_point' | 'sweep_repeat'
    >,
    o: InsertOptions,
    extra: { uniqueName?: string | undefined; estimate?: ReturnType<typeof estimate> } = {},
  ): Promise<JobRow | null> {
    await this.d.credits.lockAccount(tx, ownerId);
    // Under the owner's lock, so two creations asking for the same new name cannot both see it free.
    if (extra.uniqueName !== undefined) {
      const taken = await q.modelNameTaken(tx, ownerId, extra.uniqueName);
      if (taken) {
        // The same Idempotency-Key racing itself: the other request's job is the answer.
        if (o.idempotencyKey && (await q.jobByIdempotencyKey(tx, ownerId, o.idempotencyKey))) return null;
        throw new ConflictError(
          'MODEL_NAME_EXISTS',
          taken === 'model'
            ? `you already have a model named "${extra.uniqueName}" (output.if_exists is "fail")`
            : `a queued or running job of yours is already training "${extra.uniqueName}" (output.if_exists is "fail")`,
          { model_name: extra.uniqueName, taken_by: taken },
        );
      }
    }
    const counts = await q.countByStatus(tx, ownerId);
    if (counts.queued >= this.d.limits.maxQueuedPerUser) {
      throw new TooManyRequestsError(
        'QUEUE_QUOTA_EXCEEDED',
        `you already have ${counts.queued} queued jobs (limit ${this.d.limits.maxQueuedPerUser}); wait or cancel some`,
        30,
      );
    }
    const row = await this.enqueue(tx, {
      ...job,
      id: newId('job'),
      owner_id: ownerId,
      labels: [],
      max_attempts: this.d.limits.maxAttempts,
      max_runtime_seconds: this.d.limits.maxRuntimeSeconds,
      idempotency_key: o.idempotencyKey ?? null,
      request_hash: o.requestHash ?? null,
      sweep_id: o.sweep?.id ?? null,
      sweep_point: o.sweep?.point ?? null,
      sweep_repeat: o.sweep?.repeat ?? null,
    });
    return row && extra.estimate ? q.setEstimate(tx, row.id, extra.estimate.seconds, extra.estimate.source) : row;
  }

  /**
   * The insert, with a dataset deleted after the checks said it was there (the delete held the
   * dataset's row, so this insert's foreign key check waited for it) answered as a conflict.
   */
  private async enqueue(tx: Queryable, job: NewJob): Promise<JobRow | null> {
    try {
      return await this.d.lifecycle.enqueue(tx, job);
    } catch (err) {
      const constraint = (err as { constraint?: string }).constraint ?? '';
      if (isForeignKeyViolation(err) && constraint.includes('dataset'))
        throw new ConflictError('DATASET_DELETED', 'a dataset of this job was deleted while the job was being created', { constraint });
      throw err;
    }
  }

  /** A GPU-optional trainer queues for no GPU: a worker gives it one when it has one free. */
  private static gpus(t: Trainer): number {
    return t.resources.gpu_optional ? 0 : t.resources.gpus;
  }

  async insertPrepared(tx: Queryable, ownerId: string, p: PreparedJob, o: InsertOptions = {}): Promise<JobRow | null> {
    return this.insert(
      tx,
      ownerId,
      {
        kind: 'training',
        trainer: p.trainer.id,
        priority: p.input.priority ?? 0,
        dataset_id: p.datasetId,
        validation_dataset_id: p.input.validation_dataset_id ?? null,
        test_dataset_id: p.testDatasetId,
        base_model: p.baseModel,
        hyperparameters: p.hyperparameters,
        output: p.output,
        metadata: p.input.metadata ?? {},
        from_model: p.fromModel,
        webhook_url: p.input.webhook_url ?? null,
        integrations: p.integrations,
        gpus: JobsService.gpus(p.trainer),
        cost: p.cost,
      },
      o,
      { uniqueName: p.output.if_exists === 'fail' ? p.output.model_name : undefined, estimate: estimate(p.rate, p.hyperparameters) },
    );
  }

  async insertInference(tx: Queryable, ownerId: string, p: InferenceJob, o: InsertOptions = {}): Promise<JobRow | null> {
    return this.insert(
      tx,
      ownerId,
      {
        kind: 'inference',
        trainer: p.trainer.id,
        priority: p.priority ?? 0,
        dataset_id: null,
        validation_dataset_id: null,
        test_dataset_id: null,
        base_model: p.baseModel,
        hyperparameters: p.hyperparameters,
        output: null,
        metadata: {},
        from_model: p.fromModel,
        webhook_url: null,
        integrations: [],
        gpus: JobsService.gpus(p.trainer),
        cost: p.cost,
      },
      o,
    );
  }

  /** Creates under an optional Idempotency-Key (see idempotency.ts); every job-creating endpoint goes through it. */
  idempotent<T>(
    ownerId: string,
    key: string | undefined,
    hash: string,
    insert: () => Promise<JobRow | null>,
    shape: (row: JobRow) => T,
  ): Promise<Idempotent<T>> {
    return idempotentCreate(this.d.db, { ownerId, key, hash }, insert, shape);
  }

  async create(ownerId: string, input: CreateJobInput, idempotencyKey?: string): Promise<{ job: PublicJob; replayed: boolean }> {
    const hash = requestHash(input);
    const r = await this.idempotent(
      ownerId,
      idempotencyKey,
      hash,
      async () => {
        const prepared = await this.prepare(ownerId, input);
        return this.d.db.transaction((tx) => this.insertPrepared(tx, ownerId, prepared, { idempotencyKey, requestHash: hash }));
      },
      (row) => row,
    );
    return { job: await this.shapeOne(r.value), replayed: r.replayed };
  }

  /** One job as the API shows it, with its place in the queue while it waits. */
  private async shapeOne(row: JobRow): Promise<PublicJob> {
    return publicJob(row, { queuePosition: row.status === JOB_STATES.QUEUED ? await q.queuePosition(this.d.db, row) : null });
  }

  /** Cancels in the caller's transaction (sweeps cancel their children this way). */
  async cancelIn(tx: Queryable, job: JobRow): Promise<JobRow> {
    if (job.status === JOB_STATES.QUEUED) return (await this.d.lifecycle.cancelQueued(tx, job.id)) ?? job;
    if (job.status === JOB_STATES.RUNNING) return (await this.d.lifecycle.requestCancel(tx, job.id)) ?? job;
    return job;
  }

  /** `asAdmin` is the explicit path for admins reading any job; everyone else sees only their own. */
  async get(callerId: string, id: string, asAdmin = false): Promise<PublicJob> {
    const job = await this.cache.read(id, callerId, asAdmin, async () => {
      const row = await q.publicJobById(this.d.db, asAdmin ? null : callerId, id);
      return row && { ownerId: row.owner_id, job: publicJob(row, { queuePosition: row.queue_position }) };
    });
    if (!job) throw new NotFoundError('job', id);
    return job;
  }

  async row(callerId: string, id: string, asAdmin = false): Promise<JobRow> {
    const row = await q.jobById(this.d.db, asAdmin ? null : callerId, id);
    if (!row) throw new NotFoundError('job', id);
    return row;
  }

  async list(callerId: string | null, limit: number, cursor: string | undefined, f: JobsFilterInput) {
    return this.listAs(callerId, limit, cursor, { ...f, kind: undefined }, (j) => publicJob(j));
  }

  /** A page of jobs in another module's shape (generations list their inference jobs this way). */
  async listAs<T>(
    callerId: string | null,
    limit: number,
    cursor: string | undefined,
    f: { status?: JobState | undefined; trainer?: string | undefined; kind?: JobRow['kind'] | undefined; model_name?: string | undefined },
    shape: (j: JobRow) => T,
  ) {
    const filter = Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined));
    return toPage(await q.listJobs(this.d.db, callerId, limit, decodeCursor(cursor), filter), limit, shape);
  }

  /**
   * Queued: cancelled at once, hold released. Running: cancel_requested, and the worker that
   * holds the lease is told (NOTIFY; its heartbeat also sees the state); it stops the trainer
   * and finishes the cancel. Final states: 409.
   */
  async cancel(callerId: string, id: string, asAdmin = false) {
    const row = await this.d.db.transaction(async (tx) => {
      const job = await q.jobById(tx, asAdmin ? null : callerId, id, true);
      if (!job) throw new NotFoundError('job', id);
      if (isFinal(job.status)) throw new ConflictError('JOB_FINISHED', `job is already ${job.status}`, { status: job.status });
      return this.cancelIn(tx, job);
    });
    return publicJob(row);
  }

  async delete(callerId: string, id: string, asAdmin = false): Promise<void> {
    const job = await q.jobById(this.d.db, asAdmin ? null : callerId, id);
    if (!job) throw new NotFoundError('job', id);
    if (!isFinal(job.status)) throw new ConflictError('JOB_ACTIVE', `job is ${job.status}; cancel it first`, { status: job.status });
    await q.deleteJob(this.d.db, id);
  }

  async events(callerId: string, id: string, after: number, limit: number, asAdmin = false) {
    await this.row(callerId, id, asAdmin);
    return this.eventsSince(id, after, limit);
  }

  /** Unscoped: for the live-event hub, which checks the caller when the stream opens. */
  async eventsSince(id: string, after: number, limit: number) {
    return (await q.listEvents(this.d.db, id, after, limit)).map((e) => ({ seq: e.seq, type: e.type, data: e.data, created_at: e.created_at.toISOString() }));
  }

  /** Why a dataset cannot be deleted now (an open job uses it), or null. */
  async datasetInUse(db: Queryable, datasetId: string): Promise<string | null> {
    return q.datasetInUse(db, datasetId);
  }

  async logs(callerId: string, id: string, tail: number, since: Date | null, asAdmin = false) {
    await this.row(callerId, id, asAdmin);
    return (await q.tailLogs(this.d.db, id, tail, since)).map((e) => ({
      seq: e.seq,
      at: e.created_at.toISOString(),
      ...(e.data as { level: string; message: string; stream?: string }),
    }));
  }

  /**
   * One time series per metric: [{step, epoch?, value, at}], from at most MAX_METRIC_EVENTS
   * metrics events (a longer run is evenly thinned, its last report always kept).
   */
  async metrics(callerId: string, id: string, asAdmin = false) {
    await this.row(callerId, id, asAdmin);
    const series: Record<string, Array<{ step: number; epoch?: number; value: number; at: string }>> = {};
    for (const e of await q.metricEvents(this.d.db, id, MAX_METRIC_EVENTS)) {
      const d = e.data as { step: number; epoch?: number; values: Record<string, number> };
      for (const [k, v] of Object.entries(d.values))
        (series[k] ??= []).push({ step: d.step, ...(d.epoch !== undefined ? { epoch: d.epoch } : {}), value: v, at: e.created_at.toISOString() });
    }
    return { metrics: series };
  }
}
