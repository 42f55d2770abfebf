import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Db } from '../db/db.js';
import type { CatalogService } from '../domain/catalog/service.js';
import * as dq from '../domain/datasets/queries.js';
import type { JobRow } from '../domain/jobs/queries.js';
import { materializeVersion } from '../domain/registry/materialize.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { SpecDataset, StagedSpec } from '../trainers/protocol.js';

export interface StagedJob { dir: string; spec: StagedSpec; specPath: string }

/** Stored names are ours; on disk a file keeps its id, plus a cleaned name for humans. */
const diskName = (id: string, filename: string) => `${id}-${filename.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100)}`;

async function stageDataset(db: Db, store: BlobStore, ownerId: string, datasetId: string, into: string): Promise<SpecDataset> {
  const ds = await dq.datasetById(db, ownerId, datasetId);
  if (!ds) throw new Error(`dataset ${datasetId} no longer exists`);
  const folder = path.join(into, ds.id);
  await mkdir(folder, { recursive: true });
  const files = [];
  for (const f of await dq.datasetFiles(db, ds.id)) {
    const target = path.join(folder, diskName(f.id, f.filename));
    await pipeline(await store.get(f.storage_key), createWriteStream(target));
    files.push({ path: target, filename: f.filename, content_type: f.content_type });
  }
  return { id: ds.id, kind: ds.kind, options: ds.options, stats: ds.stats, files };
}

/**
 * Lays out one attempt's folder — inputs/, output/, checkpoints/, tmp/ — copies the datasets
 * and the latest checkpoint out of storage, and writes job.json for the trainer.
 */
export async function stageJob(d: { db: Db; store: BlobStore; catalog: CatalogService; workDir: string }, job: JobRow): Promise<StagedJob> {
  const dir = path.join(d.workDir, `${job.id}-a${job.attempt}`);
  const inputs = path.join(dir, 'inputs');
  const output = path.join(dir, 'output');
  const checkpoints = path.join(dir, 'checkpoints');
  for (const p of [inputs, output, checkpoints, path.join(dir, 'tmp')]) await mkdir(p, { recursive: true });

  // Inference jobs (generations) have no dataset.
  const dataset = job.dataset_id ? await stageDataset(d.db, d.store, job.owner_id, job.dataset_id, inputs) : null;
  const validation = job.validation_dataset_id ? await stageDataset(d.db, d.store, job.owner_id, job.validation_dataset_id, inputs) : null;
  let resumeFrom: string | null = null;
  if (job.checkpoint) {
    const cp = job.checkpoint as unknown as { key: string; name: string };
    resumeFrom = path.join(dir, 'resume', cp.name);
    await mkdir(path.dirname(resumeFrom), { recursive: true });
    await pipeline(await d.store.get(cp.key), createWriteStream(resumeFrom));
  }
  let initFrom: string | null = null;
  if (job.from_model?.version_id) {
    initFrom = path.join(dir, 'init');
    await materializeVersion(d.db, d.store, job.from_model.version_id, initFrom);
  }
  const base = job.base_model ? d.catalog.baseModel(job.base_model) : null;
  const spec: StagedSpec = {
    protocol: 1,
    job_id: job.id,
    attempt: job.attempt,
    trainer: job.trainer,
    base_model: base ? { id: base.id, path: base.local_path } : null,
    hyperparameters: job.hyperparameters,
    inputs: { dataset, validation_dataset: validation },
    output_dir: output,
    checkpoint_dir: checkpoints,
    resume_from: resumeFrom,
    init_from: initFrom,
  };
  const specPath = path.join(dir, 'job.json');
  await writeFile(specPath, JSON.stringify(spec, null, 2));
  return { dir, spec, specPath };
}
