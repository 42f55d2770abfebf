import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../db/db.js';
import type { CatalogService } from '../domain/catalog/service.js';
import { isUri, storePrefixOf } from '../domain/catalog/stored-models.js';
import { fetchBlob } from '../domain/datasets/materialize.js';
import { planJob } from '../domain/jobs/plan.js';
import type { JobRow } from '../domain/jobs/types.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { StagedSpec } from '../trainers/protocol.js';
import type { BaseModelCache, CachedModel } from './model-cache.js';

export interface StagedJob {
  dir: string;
  spec: StagedSpec;
  specPath: string;
  /** Unpins the base model in the model cache: call once the trainer is done with it. */
  release(): void;
}

/**
 * Where this worker finds a job's base model: a store-backed one (source a URI the store
 * serves) in the model cache, a local folder resolved against this worker's own DATA_DIR (the
 * catalog here was built with it), never the API server's.
 */
async function stageBaseModel(
  d: { store: BlobStore; catalog: CatalogService; models: BaseModelCache },
  id: string,
  signal?: AbortSignal,
): Promise<CachedModel> {
  const m = d.catalog.baseModel(id);
  if (isUri(m.source)) {
    const prefix = storePrefixOf(d.store, m.source);
    if (!prefix) throw new Error(`base model ${id} is at ${m.source}, which the configured store does not serve`);
    return d.models.acquire(m.id, prefix, signal);
  }
  if (!m.local_path || !existsSync(m.local_path)) throw new Error(`base model ${id}: its folder ${m.local_path} is not on this worker`);
  return { path: m.local_path, release: () => {} };
}

/** Where an attempt's folder is: known before staging starts, so a failed staging is cleaned up too. */
export const attemptDir = (workDir: string, job: Pick<JobRow, 'id' | 'attempt'>): string => path.join(workDir, `${job.id}-a${job.attempt}`);

/**
 * Lays out one attempt's folder (planJob), copies its inputs out of storage, stages the base
 * model and writes job.json for the trainer. `signal` stops the base model's download (minutes
 * for a big one) when the attempt is called off.
 */
export async function stageJob(
  d: { db: Db; store: BlobStore; catalog: CatalogService; models: BaseModelCache; workDir: string },
  job: JobRow,
  signal?: AbortSignal,
): Promise<StagedJob> {
  const dir = attemptDir(d.workDir, job);
  const { spec, blobs } = await planJob(d, job, dir);
  for (const p of [path.join(dir, 'inputs'), spec.output_dir, spec.checkpoint_dir, path.join(dir, 'tmp')]) await mkdir(p, { recursive: true });
  for (const id of [job.dataset_id, job.validation_dataset_id, job.test_dataset_id]) if (id) await mkdir(path.join(dir, 'inputs', id), { recursive: true });
  if (spec.init_from) await mkdir(spec.init_from, { recursive: true });
  for (const b of blobs) await fetchBlob(d.store, b);
  // Last: a base model stays pinned in the cache from here until the attempt releases it.
  const base = job.base_model ? await stageBaseModel(d, job.base_model, signal) : null;
  if (base && spec.base_model) spec.base_model.path = base.path;
  const specPath = path.join(dir, 'job.json');
  try {
    await writeFile(specPath, JSON.stringify(spec, null, 2));
  } catch (err) {
    base?.release();
    throw err;
  }
  return { dir, spec, specPath, release: () => base?.release() };
}
