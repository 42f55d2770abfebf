import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { AppError, NotFoundError, PayloadTooLargeError, ValidationError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { PublicDataset } from '../../domain/datasets/service.js';
import type { Ctx } from './context.js';
import { resolveDataPath } from './paths.js';
import * as q from './queries.js';
import { DEFAULT_CONFIG, TRAINER, type TrainInput } from './schemas.js';

const KIND = 'text-classification-jsonl';

export const modelNotFound = (name: string) => new AppError('MODEL_NOT_FOUND', `Model ${name} not found`, { status: 404 });
const unavailable = (code: string, message: string) => new AppError(code, message, { status: 503 });

/** 503 unless the trainer's runtime is installed and the base model's files are on this server. */
export async function checkAvailable(c: Ctx, baseModel: string): Promise<void> {
  await c.s.catalog.ready();
  const t = c.s.catalog.listTrainers().find((x) => x.id === TRAINER);
  if (!t || !t.available)
    throw unavailable('TRAINER_UNAVAILABLE', `the ${TRAINER} trainer is not available on this server: ${t?.unavailable_reason ?? 'not in the catalog'}`);
  const bm = c.s.catalog.listBaseModels({ trainer: TRAINER }).find((m) => m.id === baseModel);
  if (!bm?.available) throw unavailable('BASE_MODEL_UNAVAILABLE', `base model ${baseModel} is not installed on this server (nothing is downloaded)`);
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A dataset's validation outcome: ready → its id; invalid → 400 with its first errors. */
function usable(ds: PublicDataset): string {
  if (ds.status === 'ready') return ds.id;
  if (ds.status === 'error') {
    const errors = (ds.errors as Array<{ message?: string }>).slice(0, 10);
    throw new ValidationError('INVALID_TRAINING_DATA', `the training data is not valid text-classification JSONL: ${errors[0]?.message ?? 'see details'}`, {
      errors,
    });
  }
  // Only a dataset whose validation a restart interrupted (the background queue resumes it).
  throw unavailable('DATASET_VALIDATION_PENDING', 'the training data is still being validated; try again shortly');
}

/**
 * The file becomes an ordinary Trainyard dataset of the service account (files + datasets
 * services), once per content: the same bytes train again from the dataset already made.
 */
export async function datasetFromFile(c: Ctx, file: string, shown: string): Promise<string> {
  const { size } = await stat(file);
  const max = c.s.config.uploads.maxFileBytes;
  if (size > max) throw new PayloadTooLargeError('FILE_TOO_LARGE', `training data exceeds the ${max}-byte limit`, { max_bytes: max });
  const owner = c.account.id;
  const hash = await sha256(file);
  const known = await q.datasetFor(c.s.db, owner, hash);
  if (known) {
    try {
      return usable(await c.s.datasets.get(owner, known));
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      await q.forgetDataset(c.s.db, owner, hash);
    }
  }
  const f = await c.s.files.ingest(owner, path.basename(file), createReadStream(file), 'upload');
  // Validated in the request (small files take milliseconds): the answer says at once whether
  // the data is usable, as the document's synchronous service does.
  const ds = await c.s.datasets.create(
    owner,
    { name: `training-service ${hash.slice(0, 12)} ${newId('d', 6).slice(2)}`, kind: KIND, file_ids: [f.id], description: `training-service facade: ${shown}` },
    { inline: true },
  );
  await q.rememberDataset(c.s.db, owner, hash, ds.id, shown);
  return usable(ds);
}

/**
 * POST /train and /retrain. `model_name` is both the base model and the output model (the
 * document has one name for both). Train starts from the base model; retrain warm-starts from
 * the model's latest version and makes the next one. The document's config defaults are sent
 * explicitly, so the job shows exactly what it trains with.
 */
export async function startTraining(c: Ctx, kind: 'train' | 'retrain', body: TrainInput) {
  const name = body.model_name;
  const config: Record<string, unknown> = { ...DEFAULT_CONFIG, ...(body.config ?? {}) };
  let baseModel = name;
  let fromModel: { name: string; version: number } | undefined;
  if (kind === 'retrain') {
    const m = await c.s.registry.resolve(c.account.id, name).catch(() => null);
    const latest = m && m.trainer === TRAINER ? (await c.s.registry.versionsOf(c.account.id, name)).data[0] : undefined;
    if (!latest) throw new AppError('MODEL_NOT_FOUND', `Model ${name} has no trained version to retrain; POST /train first`, { status: 404 });
    baseModel = latest.base_model ?? name;
    fromModel = { name, version: latest.version };
  } else if (!c.s.catalog.listBaseModels({ trainer: TRAINER }).some((m) => m.id === name)) throw modelNotFound(name);
  const data = await resolveDataPath(c.settings.dataRoot, c.settings.pathPrefix, body.training_data_path);
  await checkAvailable(c, baseModel);
  const dataset = await datasetFromFile(c, data.file, data.shown);
  const { job } = await c.s.jobs.create(c.account.id, {
    trainer: TRAINER,
    dataset_id: dataset,
    base_model: baseModel,
    hyperparameters: config,
    output: { model_name: name },
    ...(fromModel ? { from_model: fromModel } : {}),
    metadata: { compat: 'training-service', request: kind, training_data_path: data.shown },
  });
  return {
    message: kind === 'train' ? 'Training started' : 'Retraining started',
    model_name: name,
    job_id: job.id,
    config: { model_name: name, ...config },
  };
}
