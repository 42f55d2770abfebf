import path from 'node:path';
import type { Queryable } from '../../db/db.js';
import type { StagedSpec } from '../../trainers/protocol.js';
import { planDataset, type PlannedBlob } from '../datasets/materialize.js';
import { artifacts as versionArtifacts } from '../registry/queries.js';
import { isModelFile } from '../registry/run-log.js';
import type { JobRow } from './types.js';

/** What an attempt needs, before anything is copied: its spec and the stored objects behind it. */
export interface StagePlan {
  /** The spec, its paths under the `root` the plan was made for (relative when root is ''). */
  spec: StagedSpec;
  blobs: PlannedBlob[];
}

/**
 * Plans an attempt's folder under `root` — inputs/, output/, checkpoints/, tmp/ — and lists the
 * objects to copy into it: the datasets' files, the latest checkpoint, the version to start
 * from. The base model is left to the caller (the worker's model cache, or a launcher's own),
 * and `spec.base_model.path` is null here. One plan serves both the local executor (root: the
 * attempt's folder; copies from the store) and a remote launcher (root: ''; signed URLs).
 */
export async function planJob(d: { db: Queryable }, job: JobRow, root: string): Promise<StagePlan> {
  const inputs = path.join(root, 'inputs');
  const blobs: PlannedBlob[] = [];
  const dataset = async (id: string | null) => {
    if (!id) return null;
    const p = await planDataset(d.db, job.owner_id, id, inputs);
    blobs.push(...p.blobs);
    return p.dataset;
  };
  // Inference jobs (generations) have no dataset. The test set is held out: the trainer scores it
  // once at the end (protocol.ts); every attempt stages it again.
  const [ds, validation, test] = [await dataset(job.dataset_id), await dataset(job.validation_dataset_id), await dataset(job.test_dataset_id)];
  let resumeFrom: string | null = null;
  if (job.checkpoint) {
    resumeFrom = path.join(root, 'resume', job.checkpoint.name);
    blobs.push({ key: job.checkpoint.key, path: resumeFrom, bytes: 0 });
  }
  let initFrom: string | null = null;
  if (job.from_model?.version_id) {
    initFrom = path.join(root, 'init');
    for (const a of (await versionArtifacts(d.db, [job.from_model.version_id])).filter(isModelFile))
      blobs.push({ key: a.storage_key, path: path.join(initFrom, a.name), bytes: Number(a.bytes) });
  }
  const spec: StagedSpec = {
    protocol: 1,
    job_id: job.id,
    attempt: job.attempt,
    trainer: job.trainer,
    base_model: job.base_model ? { id: job.base_model, path: null } : null,
    hyperparameters: job.hyperparameters,
    inputs: { dataset: ds, validation_dataset: validation, test_dataset: test },
    output_dir: path.join(root, 'output'),
    checkpoint_dir: path.join(root, 'checkpoints'),
    resume_from: resumeFrom,
    init_from: initFrom,
  };
  return { spec, blobs };
}
