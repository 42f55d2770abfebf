import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Db } from '../db/db.js';
import type { CatalogService } from '../domain/catalog/service.js';
import { isUri, storePrefixOf } from '../domain/catalog/stored-models.js';
import { materializeDataset } from '../domain/datasets/materialize.js';
import type { JobRow } from '../domain/jobs/types.js';
import { materializeVersion } from '../domain/registry/materialize.js';
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
 * Lays out one attempt's folder — inputs/, output/, checkpoints/, tmp/ — copies the datasets
 * and the latest checkpoint out of storage, and writes job.json for the trainer. `signal`
 * stops the base model's download (minutes for a big one) when the attempt is called off.
 */
export async function stageJob(
  d: { db: Db; store: BlobStore; catalog: CatalogService; models: BaseModelCache; workDir: string },
  job: JobRow,
  signal?: AbortSignal,
): Promise<StagedJob> {
  const dir = attemptDir(d.workDir, job);
  const inputs = path.join(dir, 'inputs');
  const output = path.join(dir, 'output');
  const checkpoints = path.join(dir, 'checkpoints');
  for (const p of [inputs, output, checkpoints, path.join(dir, 'tmp')]) await mkdir(p, { recursive: true });

  // Inference jobs (generations) have no dataset.
  const dataset = job.dataset_id ? await materializeDataset(d.db, d.store, job.owner_id, job.dataset_id, inputs) : null;
  const validation = job.validation_dataset_id ? await materializeDataset(d.db, d.store, job.owner_id, job.validation_dataset_id, inputs) : null;
  // Held out: the trainer scores it once at the end (protocol.ts); every attempt stages it again.
  const test = job.test_dataset_id ? await materializeDataset(d.db, d.store, job.owner_id, job.test_dataset_id, inputs) : null;
  let resumeFrom: string | null = null;
  if (job.checkpoint) {
    const cp = job.checkpoint;
    resumeFrom = path.join(dir, 'resume', cp.name);
    await mkdir(path.dirname(resumeFrom), { recursive: true });
    await pipeline(await d.store.get(cp.key), createWriteStream(resumeFrom));
  }
  let initFrom: string | null = null;
  if (job.from_model?.version_id) {
    initFrom = path.join(dir, 'init');
    await materializeVersion(d.db, d.store, job.from_model.version_id, initFrom);
  }
  // Last: a base model stays pinned in the cache from here until the attempt releases it.
  const base = job.base_model ? await stageBaseModel(d, job.base_model, signal) : null;
  const spec: StagedSpec = {
    protocol: 1,
    job_id: job.id,
    attempt: job.attempt,
    trainer: job.trainer,
    base_model: base && job.base_model ? { id: job.base_model, path: base.path } : null,
    hyperparameters: job.hyperparameters,
    inputs: { dataset, validation_dataset: validation, test_dataset: test },
    output_dir: output,
    checkpoint_dir: checkpoints,
    resume_from: resumeFrom,
    init_from: initFrom,
  };
  const specPath = path.join(dir, 'job.json');
  try {
    await writeFile(specPath, JSON.stringify(spec, null, 2));
  } catch (err) {
    base?.release();
    throw err;
  }
  return { dir, spec, specPath, release: () => base?.release() };
}
