import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../db/db.js';
import * as dq from '../dispatch/queries.js';
import type { CatalogService } from '../domain/catalog/service.js';
import { versionAttributes } from '../domain/catalog/version-fields.js';
import type { CreditsService } from '../domain/credits/service.js';
import { appendEvents } from '../domain/jobs/events.js';
import type { JobRow } from '../domain/jobs/queries.js';
import { publicJob } from '../domain/jobs/shape.js';
import type { NewArtifact, RegistryService } from '../domain/registry/service.js';
import type { WebhooksService } from '../domain/webhooks/service.js';
import { AppError } from '../errors.js';
import type { BlobStore } from '../storage/blob-store.js';

export interface FinishDeps { db: Db; store: BlobStore; catalog: CatalogService; credits: CreditsService; registry: RegistryService; webhooks: WebhooksService; maxArtifactBytes: number }

const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/**
 * Copies the artifacts a trainer announced into storage. Paths must resolve (symlinks too)
 * inside the output folder: a trainer cannot make the worker upload /etc/shadow.
 */
export async function uploadArtifacts(d: FinishDeps, job: JobRow, outputDir: string, list: Array<{ name: string; path: string; format: string }>): Promise<NewArtifact[]> {
  const root = await realpath(outputDir);
  const seen = new Set<string>();
  const out: NewArtifact[] = [];
  let total = 0;
  for (const a of list) {
    if (!ARTIFACT_NAME.test(a.name) || seen.has(a.name)) throw new AppError('ARTIFACT_INVALID', `artifact name "${a.name}" is invalid or repeated`);
    seen.add(a.name);
    const file = await realpath(path.resolve(outputDir, a.path)).catch(() => null);
    if (!file || !file.startsWith(root + path.sep)) throw new AppError('ARTIFACT_INVALID', `artifact "${a.name}" (${a.path}) is missing or outside the output folder`);
    const s = await stat(file);
    if (!s.isFile()) throw new AppError('ARTIFACT_INVALID', `artifact "${a.name}" is not a file`);
    total += s.size;
    if (total > d.maxArtifactBytes) throw new AppError('ARTIFACT_TOO_LARGE', `artifacts exceed ${d.maxArtifactBytes} bytes in total`);
    const key = `artifacts/${job.owner_id}/${job.id}/a${job.attempt}/${a.name}`;
    const put = await d.store.put(key, createReadStream(file), { maxBytes: d.maxArtifactBytes });
    out.push({ name: a.name, format: a.format.slice(0, 100), storage_key: key, bytes: put.bytes, sha256: put.sha256 });
  }
  return out;
}

/**
 * The success transaction: fenced on the claim, it registers the model version, captures the
 * hold, marks the job succeeded and queues the webhook — all or nothing. A trainer that
 * exited 0 wins over a cancel requested meanwhile: the work is done and already paid for.
 */
export async function finishSucceeded(d: FinishDeps, fence: dq.Fence, result: { metrics: Record<string, number>; details?: Record<string, unknown> }, artifacts: NewArtifact[]): Promise<JobRow | null> {
  return d.db.transaction(async (tx) => {
    const job = await dq.lockClaim(tx, fence);
    if (!job) return null;
    const trainer = d.catalog.trainer(job.trainer);
    const v = await d.registry.register(tx, {
      ownerId: job.owner_id,
      modelName: job.output.model_name,
      description: job.output.description ?? null,
      triggerWord: versionAttributes(trainer, job.hyperparameters).triggerWord,
      trainer: job.trainer,
      primaryMetric: trainer.primary_metric,
      jobId: job.id,
      datasetId: job.dataset_id,
      baseModel: job.base_model,
      hyperparameters: job.hyperparameters,
      metrics: result.metrics,
      parentVersionId: job.from_model?.version_id ?? null,
      artifacts,
    });
    await d.credits.capture(tx, job.id);
    const done = (await dq.markSucceeded(tx, fence, { result: { metrics: result.metrics, ...(result.details ? { details: result.details } : {}) }, model_version_id: v.id }))!;
    await appendEvents(tx, job.id, [{ type: 'status', data: { status: 'succeeded', model: { name: job.output.model_name, version: v.version } } }]);
    await d.webhooks.enqueueJobEvent(tx, done, 'job.succeeded', { job: publicJob(done), model: { name: job.output.model_name, version: v.version } });
    return done;
  });
}

/**
 * Success of an inference job (a generation): its outputs stay on the job (result.outputs with
 * their storage keys) instead of becoming a model version; the hold is captured the same way.
 */
export async function finishInference(d: FinishDeps, fence: dq.Fence, result: { metrics: Record<string, number>; details?: Record<string, unknown> }, artifacts: NewArtifact[]): Promise<JobRow | null> {
  return d.db.transaction(async (tx) => {
    const job = await dq.lockClaim(tx, fence);
    if (!job) return null;
    await d.credits.capture(tx, job.id);
    const outputs = artifacts.map((a) => ({ name: a.name, format: a.format, bytes: a.bytes, sha256: a.sha256, storage_key: a.storage_key }));
    const done = (await dq.markSucceeded(tx, fence, { result: { metrics: result.metrics, ...(result.details ? { details: result.details } : {}), outputs }, model_version_id: null }))!;
    await appendEvents(tx, job.id, [{ type: 'status', data: { status: 'succeeded', outputs: outputs.map((o) => o.name) } }]);
    await d.webhooks.enqueueJobEvent(tx, done, 'job.succeeded', { job: publicJob(done) });
    return done;
  });
}

/** Failure or cancel, fenced: the hold goes back in the same transaction. */
export async function finishEnded(d: FinishDeps, fence: dq.Fence, status: 'failed' | 'cancelled', error: { code: string; message: string }): Promise<JobRow | null> {
  return d.db.transaction(async (tx) => {
    const done = await dq.markEnded(tx, fence, status, error);
    if (!done) return null;
    await d.credits.release(tx, done.id, status === 'failed' ? `failed: ${error.code}` : 'cancelled');
    await appendEvents(tx, done.id, [{ type: 'status', data: { status, error } }]);
    await d.webhooks.enqueueJobEvent(tx, done, status === 'failed' ? 'job.failed' : 'job.cancelled', { job: publicJob(done) });
    return done;
  });
}
