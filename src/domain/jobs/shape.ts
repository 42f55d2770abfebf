import { sampleImageUrl } from './samples.js';
import type { PublicJobRow } from './queries.js';
import type { JobRow } from './types.js';

/** Inference outputs keep their storage keys inside: clients get signed URLs from the generations API. */
function publicResult(r: JobRow['result']) {
  const outputs = (r as { outputs?: Array<Record<string, unknown>> } | null)?.outputs;
  if (!r || !Array.isArray(outputs)) return r;
  return { ...r, outputs: outputs.map(({ storage_key: _key, ...rest }) => rest) };
}

/**
 * The job as clients see it. Dispatch internals (lease, worker, checkpoint path) stay inside.
 * `queuePosition` is computed only where one job is asked for (GET and POST /v1/jobs); every
 * other answer (lists, webhooks, sweeps' children) says null. Map rows with
 * `(j) => publicJob(j)`, never `map(publicJob)`: an array index must not become a position.
 */
export function publicJob(j: PublicJobRow, o: { queuePosition?: number | null } = {}) {
  return {
    id: j.id,
    kind: j.kind,
    trainer: j.trainer,
    status: j.status,
    queue_position: j.status === 'queued' ? (o.queuePosition ?? null) : null,
    priority: j.priority,
    dataset_id: j.dataset_id,
    validation_dataset_id: j.validation_dataset_id,
    test_dataset_id: j.test_dataset_id,
    base_model: j.base_model,
    hyperparameters: j.hyperparameters,
    output: j.output,
    metadata: j.metadata,
    webhook_url: j.webhook_url,
    integrations: j.integrations ?? [],
    cost: j.cost,
    attempt: j.attempt,
    max_attempts: j.max_attempts,
    progress: { fraction: j.progress, step: j.step, total_steps: j.total_steps, epoch: j.epoch, eta_seconds: j.eta_seconds },
    /** The latest sample image (a stable URL that redirects to a signed one); null before the first. */
    preview_image_url: j.latest_sample ? sampleImageUrl(j.id, j.latest_sample) : null,
    error: j.error,
    result: publicResult(j.result),
    model_version_id: j.model_version_id,
    from_model: j.from_model ? { name: j.from_model.name, version: j.from_model.version } : null,
    sweep_id: j.sweep_id,
    estimated_duration_seconds: j.estimated_duration_seconds,
    estimate_source: j.estimate_source,
    created_at: j.created_at.toISOString(),
    started_at: j.started_at?.toISOString() ?? null,
    finished_at: j.finished_at?.toISOString() ?? null,
    updated_at: j.updated_at.toISOString(),
  };
}

export type PublicJob = ReturnType<typeof publicJob>;
