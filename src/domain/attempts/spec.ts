/**
 * What a remote launcher needs to run an attempt (GET …/attempts/{n}/spec): the same plan the
 * local executor stages from (src/domain/jobs/plan.ts), with paths relative to the launcher's
 * own folder and every stored object as a signed GET URL, the trainer's catalog entry (the
 * launcher builds its command as the worker does) and the stop grace. Only while the token's
 * attempt is the job's live claim.
 */
import path from 'node:path';
import type { Queryable } from '../../db/db.js';
import { ConflictError } from '../../errors.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { CatalogService } from '../catalog/service.js';
import { isUri, storePrefixOf } from '../catalog/stored-models.js';
import { planJob } from '../jobs/plan.js';
import type { Fence } from '../jobs/types.js';
import * as q from './queries.js';

export interface SpecDeps {
  db: Queryable;
  store: BlobStore;
  catalog: Pick<CatalogService, 'trainer' | 'baseModel'>;
  signedUrlTtlSeconds: number;
  stopGraceMs: number;
  maxArtifactBytes: number;
}

const BASE_MODEL_DIR = 'base_model';

export async function attemptSpec(d: SpecDeps, f: Fence, baseUrl: string) {
  const job = await q.claimedJobRow(d.db, f);
  if (!job) throw new ConflictError('ATTEMPT_FENCED', 'this attempt no longer holds the job (reaped, taken over or concluded): stop the trainer');
  const sign = async (key: string) => (await d.store.signedUrl(key, { method: 'GET', expiresInSeconds: d.signedUrlTtlSeconds, baseUrl })).url;
  const { spec, blobs } = await planJob({ db: d.db }, job, '');
  const downloads = [];
  for (const b of blobs) downloads.push({ path: b.path, url: await sign(b.key), bytes: b.bytes, ...(b.sha256 ? { sha256: b.sha256 } : {}) });
  let baseModel = null;
  if (job.base_model) {
    // A launcher reaches the store, never a worker's disk: only a store-backed base model can go.
    const m = d.catalog.baseModel(job.base_model);
    const prefix = isUri(m.source) ? storePrefixOf(d.store, m.source) : null;
    if (prefix === null)
      throw new ConflictError(
        'BASE_MODEL_NOT_IN_STORE',
        `base model ${job.base_model} is a folder on the server (${m.source}); a remote attempt needs it in the store`,
      );
    const files = [];
    for await (const o of d.store.list(prefix)) {
      files.push({ path: path.join(BASE_MODEL_DIR, o.key.slice(prefix.length)), url: await sign(o.key), bytes: o.bytes });
    }
    baseModel = { id: job.base_model, files };
    spec.base_model = { id: job.base_model, path: BASE_MODEL_DIR };
  }
  return {
    spec,
    downloads,
    base_model: baseModel,
    trainer: d.catalog.trainer(job.trainer),
    stop_grace_ms: d.stopGraceMs,
    max_artifact_bytes: d.maxArtifactBytes,
  };
}
