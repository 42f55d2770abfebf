import { AppError, ConflictError, NotFoundError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { PublicJob } from '../../domain/jobs/shape.js';
import { TRAINER, type Ctx } from './context.js';
import { checkCount, checkDeclared, importImages } from './images.js';
import * as q from './queries.js';
import type { StartInput, UploadInput } from './schemas.js';
import { duration } from './views.js';

const startError = (message: string, details?: unknown) => new AppError('TRAINING_START_ERROR', message, { status: 503, details });
const statusError = (id: string) => new AppError('TRAINING_STATUS_ERROR', `no training job ${id}`, { status: 404 });

/**
 * The trigger word the LoRA learns, from the model name: its letters, digits, "_" and "-" (the
 * trainer's alphabet), at most 50; "sks" if none is left. "my-custom-model" → "my-custom-model".
 */
export function triggerWord(modelName: string): string {
  return modelName.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 50) || 'sks';
}

/**
 * The name is free: no model of the user has it (if_exists "fail" semantics) and no queued or
 * running job of theirs is training it. Job creation checks both again, atomically.
 */
async function checkNameFree(c: Ctx, ownerId: string, name: string): Promise<void> {
  await c.s.registry.checkOutput(ownerId, name, TRAINER, 'fail');
  for (const status of ['queued', 'running', 'cancel_requested'] as const) {
    if ((await c.s.jobs.list(ownerId, 1, undefined, { model_name: name, status })).data.length)
      throw new ConflictError('MODEL_NAME_EXISTS', `a training of "${name}" is still in progress`, { model_name: name, taken_by: 'job' });
  }
}

/** POST /api/train/upload: validate, import, remember the files under a new session id. */
export async function upload(c: Ctx, ownerId: string, body: UploadInput) {
  checkCount(new Set(body.images.map((i) => i.url)).size);
  checkDeclared(body.images);
  await checkNameFree(c, ownerId, body.model_name);
  const images = await importImages(c.s, ownerId, body.images);
  let ms = Date.now();
  let id = `upload_${ownerId}_${ms}`;
  // Two uploads of one user in the same millisecond: the later takes the next free millisecond.
  while (!(await q.insertSession(c.s.db, { id, ownerId, modelName: body.model_name, images }))) id = `upload_${ownerId}_${++ms}`;
  return {
    status: 'uploaded' as const,
    sessionId: id,
    modelName: body.model_name,
    imageCount: images.length,
    images: images.map((i) => ({ url: i.url, filename: i.filename, size: i.bytes, format: i.format, fileId: i.file_id })),
    timestamp: new Date().toISOString(),
  };
}

/** The steps the trainer runs for a requested preset (COMPAT_LORA_CREDITS_STEP_PERCENT). */
export const trainerSteps = (c: Ctx, steps: number) => Math.max(1, Math.ceil((steps * c.settings.stepPercent) / 100));

/** The trainer and its base model are here, or TRAINING_START_ERROR (503). */
async function checkTrainer(c: Ctx): Promise<string> {
  await c.s.catalog.ready();
  const t = c.s.catalog.listTrainers().find((x) => x.id === TRAINER);
  if (!t?.available) throw startError(`the ${TRAINER} trainer is not available on this server: ${t?.unavailable_reason ?? 'not in the catalog'}`);
  const base = c.settings.baseModel ?? t.default_base_model ?? null;
  if (!base) throw startError(`no base model configured for ${TRAINER} (COMPAT_LORA_CREDITS_BASE_MODEL)`);
  if (!c.s.catalog.listBaseModels({ trainer: TRAINER }).find((m) => m.id === base)?.available)
    throw startError(`the base model ${base} is not installed on this server (nothing is downloaded)`);
  return base;
}

/**
 * The images as file ids: URLs of one of the user's recent upload sessions reuse its files
 * (no fetch); the rest are imported now. Returns the files imported here (deleted on failure).
 */
async function resolveImages(c: Ctx, ownerId: string, urls: string[]) {
  const known = new Map<string, { fileId: string; session: string }>();
  for (const s of (await q.recentSessionImages(c.s.db, ownerId)).reverse()) for (const i of s.images) known.set(i.url, { fileId: i.file_id, session: s.id });
  const present = new Set((await c.s.files.readyFiles(ownerId, [...new Set([...known.values()].map((k) => k.fileId))])).map((f) => f.id));
  const reuse = (u: string) => (known.has(u) && present.has(known.get(u)!.fileId) ? known.get(u)! : null);
  const missing = [...new Set(urls.filter((u) => !reuse(u)))];
  const fresh = missing.length
    ? await importImages(
        c.s,
        ownerId,
        missing.map((url) => ({ url })),
      )
    : [];
  const byUrl = new Map(fresh.map((f) => [f.url, f.file_id]));
  const fileIds = urls.map((u) => reuse(u)?.fileId ?? byUrl.get(u)!);
  const sessions = urls.map((u) => reuse(u)?.session).filter((x): x is string => !!x);
  return { fileIds, freshIds: fresh.map((f) => f.file_id), session: sessions[0] ?? null };
}

/**
 * POST /api/train/start: an ordinary lora-diffusion job on an image-set dataset of the files,
 * output.if_exists "fail", priced by the catalog's step tiers and charged by the ledger.
 */
export async function start(c: Ctx, ownerId: string, body: StartInput) {
  const steps = body.steps ?? 600;
  checkCount(new Set(body.training_images).size);
  checkDeclared(body.training_images.map((url) => ({ url })));
  await checkNameFree(c, ownerId, body.model_name);
  const baseModel = await checkTrainer(c);
  const trainingId = newId('training', 16);
  const { fileIds, freshIds, session } = await resolveImages(c, ownerId, body.training_images);
  let datasetId: string | null = null;
  try {
    const ds = await c.s.datasets.create(
      ownerId,
      { name: `lora-credits ${trainingId}`, kind: 'image-set', file_ids: fileIds, description: `lora-credits facade: images of ${body.model_name}` },
      { inline: true },
    );
    datasetId = ds.id;
    if (ds.status !== 'ready') throw startError(`the training images are not usable: ${JSON.stringify(ds.errors).slice(0, 300)}`, { errors: ds.errors });
    const { job } = await c.s.jobs.create(ownerId, {
      trainer: TRAINER,
      dataset_id: ds.id,
      base_model: baseModel,
      hyperparameters: { ...c.settings.hyperparameters, steps: trainerSteps(c, steps), trigger_word: triggerWord(body.model_name) },
      output: { model_name: body.model_name, if_exists: 'fail' },
      metadata: { compat: 'lora-credits', training_job_id: trainingId, session_id: session, ...(body.metadata ? { request: body.metadata } : {}) },
    });
    await q.insertTraining(c.s.db, { id: trainingId, owner_id: ownerId, job_id: job.id, model_name: body.model_name, steps, session_id: session });
    return {
      status: 'queued' as const,
      jobId: job.id,
      trainingJobId: trainingId,
      queue: 'training' as const,
      modelName: body.model_name,
      steps,
      cost: job.cost,
      estimatedDuration: duration(job.estimated_duration_seconds),
      timestamp: new Date().toISOString(),
    };
  } catch (err) {
    if (datasetId) await c.s.datasets.delete(ownerId, datasetId).catch(() => {});
    await Promise.all(freshIds.map((id) => c.s.files.delete(ownerId, id).catch(() => {})));
    const e = err as AppError;
    if (e instanceof AppError && ['TRAINER_UNAVAILABLE', 'BASE_MODEL_UNAVAILABLE', 'BASE_MODEL_REQUIRED'].includes(e.code))
      throw startError(e.message, e.details);
    throw err;
  }
}

/** A training of the caller by either id, with its job; TRAINING_STATUS_ERROR (404) otherwise. */
export async function trainingWithJob(c: Ctx, ownerId: string, id: string): Promise<{ t: q.TrainingRow; job: PublicJob }> {
  const t = await q.trainingOf(c.s.db, ownerId, id);
  if (!t) throw statusError(id);
  try {
    return { t, job: await c.s.jobs.get(ownerId, t.job_id) };
  } catch (err) {
    if (err instanceof NotFoundError) throw statusError(id);
    throw err;
  }
}

/** Every training of the caller, newest first, each with its job (the newest 500). */
export async function trainings(c: Ctx, ownerId: string) {
  const rows = await q.trainingsOf(c.s.db, ownerId, 500);
  const out: Array<{ t: q.TrainingRow; job: PublicJob }> = [];
  for (const t of rows) {
    const job = await c.s.jobs.get(ownerId, t.job_id).catch((err) => {
      if (err instanceof NotFoundError) return null;
      throw err;
    });
    if (job) out.push({ t, job });
  }
  return out;
}
