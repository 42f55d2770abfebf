import type { PublicJob } from '../../domain/jobs/shape.js';
import { AppError, NotFoundError } from '../../errors.js';
import type { Ctx } from './context.js';
import { DEFAULT_LABELS } from './sample-data.js';
import { TRAINER } from './schemas.js';
import { modelNotFound } from './training.js';

// How the document's views are made from Trainyard's: version strings, statuses, percentages.

/** Trainyard version N is the document's "v1.0.N". */
export const versionString = (n: number) => `v1.0.${n}`;
/** The document's MLflow-style reference; it resolves to GET /v1/models/<name>/versions/<ref>. */
export const modelUri = (name: string, ref: number | string) => `models:/${name}/${ref}`;

const JOB_STATUS: Record<string, string> = {
  queued: 'queued',
  running: 'running',
  cancel_requested: 'cancelling',
  succeeded: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
};
export const jobStatus = (s: string) => JOB_STATUS[s] ?? s;
/** /models/{name}/status says "training" where /jobs says "running" (both as the document writes them). */
export const modelStatus = (s: string) => (s === 'running' ? 'training' : jobStatus(s));
const percent = (fraction: number) => Math.round(fraction * 1000) / 10;
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

interface Version {
  version: number;
  job_id: string | null;
  base_model: string | null;
  hyperparameters: Record<string, unknown>;
  metrics: Record<string, unknown>;
  created_at: string;
}

export function registryEntry(name: string, v: Version, ref: number | string = v.version) {
  return {
    model_name: name,
    version: versionString(v.version),
    run_id: v.job_id ?? '',
    f1_score: num(v.metrics.val_f1),
    accuracy: num(v.metrics.val_accuracy),
    timestamp: v.created_at,
    mlflow_uri: modelUri(name, ref),
  };
}

export const performance = (v: Version) => ({
  accuracy: num(v.metrics.val_accuracy),
  f1_score: num(v.metrics.val_f1),
  precision: num(v.metrics.val_precision),
  recall: num(v.metrics.val_recall),
});

export interface TrainedModel {
  name: string;
  aliases: Record<string, number>;
  versions: Version[];
}

/** The service account's models of this facade's trainer, each with its versions (newest first). */
export async function trainedModels(c: Ctx): Promise<TrainedModel[]> {
  const out: TrainedModel[] = [];
  for (let page = 1; page <= 10; page++) {
    const list = await c.s.registry.list(c.account.id, { sort: 'newest', page, limit: 100 });
    for (const m of list.data.filter((x) => x.trainer === TRAINER))
      out.push({ name: m.name!, aliases: m.aliases ?? {}, versions: (await c.s.registry.versionsOf(c.account.id, m.name!)).data });
    if (!list.has_more) break;
  }
  return out;
}

export async function trainedModel(c: Ctx, name: string): Promise<TrainedModel | null> {
  // owner/name would reach someone else's public model: the facade knows only its own.
  if (name.includes('/')) return null;
  const m = await c.s.registry.resolve(c.account.id, name).catch((err) => {
    if (err instanceof NotFoundError) return null;
    throw err;
  });
  if (!m || m.trainer !== TRAINER) return null;
  const d = await c.s.registry.describe(m);
  return { name: m.name, aliases: d.aliases, versions: (await c.s.registry.versionsOf(c.account.id, m.name)).data };
}

export const byVersion = (m: TrainedModel, alias: string) => m.versions.find((v) => v.version === m.aliases[alias]) ?? m.versions[0];

/** The catalog's base models for the trainer, with where their files are expected. */
export function baseModels(c: Ctx) {
  return c.s.catalog.listBaseModels({ trainer: TRAINER }).map((m) => ({
    id: m.id,
    // The configured source (DATA_DIR-relative as the built-in list writes it); an absolute
    // one is a server path, which only admins see (README, "Errors").
    path: m.source.startsWith('/') || m.source.startsWith('file:') ? `local:${m.id}` : m.source,
    type: 'pytorch',
    labels: DEFAULT_LABELS,
    available: m.available,
  }));
}

/** A model the document can name: trained by this facade, or a base model it trains from. */
export async function knownModel(c: Ctx, name: string) {
  const trained = await trainedModel(c, name);
  const base = baseModels(c).find((b) => b.id === name) ?? null;
  if (!trained && !base) throw modelNotFound(name);
  return { trained, base };
}

/** The latest job for a model (GET /v1/jobs?model_name=), or null. */
export async function latestJob(c: Ctx, name: string): Promise<PublicJob | null> {
  return (await c.s.jobs.list(c.account.id, 1, undefined, { model_name: name })).data[0] ?? null;
}

/** Live figures from the job's metrics: the last training loss, the best validation metric so far. */
async function liveMetrics(c: Ctx, j: PublicJob) {
  const series = (await c.s.jobs.metrics(c.account.id, j.id)).metrics as Record<string, Array<{ value: number }>>;
  const loss = series.loss;
  const metric = String(j.hyperparameters.metric_for_best_model ?? 'f1');
  const higher = metric !== 'loss' && j.hyperparameters.greater_is_better !== false;
  const vals = (series[`val_${metric}`] ?? []).map((p) => p.value);
  return {
    current_loss: loss?.length ? loss[loss.length - 1]!.value : null,
    best_metric: vals.length ? (higher ? Math.max(...vals) : Math.min(...vals)) : null,
  };
}

export function jobSummary(j: PublicJob) {
  const running = j.status === 'running' || j.status === 'cancel_requested';
  const eta = running && j.progress.eta_seconds !== null ? new Date(Date.now() + j.progress.eta_seconds * 1000).toISOString() : null;
  return {
    job_id: j.id,
    model_name: (j.output as { model_name?: string } | null)?.model_name ?? '',
    status: jobStatus(j.status),
    progress: percent(j.status === 'succeeded' ? 1 : j.progress.fraction),
    start_time: j.started_at ?? j.created_at,
    estimated_completion: j.finished_at ?? eta,
  };
}

/** GET /jobs/{id}: the summary, epochs, live metrics, and the result once done. */
export async function jobDetail(c: Ctx, j: PublicJob) {
  const total = Number(j.hyperparameters.num_epochs ?? 0);
  const epoch = j.progress.epoch ?? 0;
  const live = await liveMetrics(c, j);
  let result: Record<string, unknown> | null = null;
  if (j.status === 'succeeded') {
    const name = (j.output as { model_name: string }).model_name;
    const v = (await trainedModel(c, name))?.versions.find((x) => x.job_id === j.id);
    if (v)
      result = { model_name: name, version: versionString(v.version), mlflow_uri: modelUri(name, v.version), performance: performance(v), metrics: v.metrics };
  }
  return {
    ...jobSummary(j),
    current_epoch: j.status === 'succeeded' ? total : Math.min(total, Math.ceil(epoch)),
    total_epochs: total,
    ...live,
    result,
    error: j.error,
  };
}

export async function jobOf(c: Ctx, id: string): Promise<PublicJob> {
  try {
    return await c.s.jobs.get(c.account.id, id);
  } catch (err) {
    if (err instanceof NotFoundError) throw new AppError('JOB_NOT_FOUND', `Job ${id} not found`, { status: 404 });
    throw err;
  }
}
