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

/** Inputs copied out of the store at once: enough to overlap their round trips, few enough for file handles and S3 sockets. */
const FETCHES_AT_ONCE = 4;

/** Runs `fn` over `items`, at most `limit` at a time; after a failure none is started, and it is thrown once the started ones end. */
async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let stop = false;
  const lane = async () => {
    try {
      while (!stop && next < items.length) await fn(items[next++]!);
    } catch (err) {
      stop = true; // the other lanes finish what they hold and take nothing more
      throw err;
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, lane));
  const failed = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (failed) throw failed.reason;
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
  // Staging is on the pickup path (issue #15): the folders at once, the inputs a few at a time.
  const folders = [path.join(dir, 'tmp'), spec.output_dir, spec.checkpoint_dir, ...(spec.init_from ? [spec.init_from] : [])];
  for (const id of [job.dataset_id, job.validation_dataset_id, job.test_dataset_id]) if (id) folders.push(path.join(dir, 'inputs', id));
  await mkdir(path.join(dir, 'inputs'), { recursive: true });
  await Promise.all(folders.map((p) => mkdir(p, { recursive: true })));
  await inParallel(blobs, FETCHES_AT_ONCE, (b) => fetchBlob(d.store, b));
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
