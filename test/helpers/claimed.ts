/**
 * Jobs made and claimed by hand, as the API and a worker's loop make them, for tests that play a
 * worker or a launcher themselves: one definition of a queued job's row instead of one per file.
 */
import type { Db, Queryable } from '../../src/db/db.js';
import type { JobLifecycle } from '../../src/domain/jobs/lifecycle/index.js';
import type { Fence, JobRow, NewJob } from '../../src/domain/jobs/types.js';
import { newId } from '../../src/ids.js';

/** A training job of `ownerId` for the `echo` trainer, no dataset, carrying `label` only; `over` changes any field. */
export function newJob(ownerId: string, label: string, over: Partial<NewJob> = {}): NewJob {
  return {
    id: newId('job'),
    owner_id: ownerId,
    kind: 'training',
    trainer: 'echo',
    priority: 0,
    dataset_id: null,
    validation_dataset_id: null,
    test_dataset_id: null,
    base_model: null,
    hyperparameters: {},
    output: { model_name: `m-${label}` },
    metadata: {},
    from_model: null,
    webhook_url: null,
    gpus: 0,
    labels: [label],
    cost: 1,
    idempotency_key: null,
    request_hash: null,
    max_attempts: 3,
    max_runtime_seconds: 3600,
    sweep_id: null,
    sweep_point: null,
    sweep_repeat: null,
    ...over,
  };
}

/**
 * A queued job of `ownerId`, claimed by `workerId`. Its own label keeps every other queued job
 * out of the claim, so tests sharing a database never take each other's jobs.
 */
export async function claimedJob(
  db: Db,
  lifecycle: JobLifecycle,
  ownerId: string,
  workerId: string,
  over: Partial<NewJob> = {},
): Promise<{ job: JobRow; fence: Fence }> {
  const label = newId('lbl');
  const queued = await db.transaction((tx: Queryable) => lifecycle.enqueue(tx, newJob(ownerId, label, over)));
  const job = await db.transaction((tx: Queryable) =>
    lifecycle.claim(tx, { workerId, freeGpus: 0, labels: [label], leaseSeconds: 60, maxRunningPerUser: 1000 }),
  );
  if (!job || job.id !== queued?.id) throw new Error(`claimed ${job?.id ?? 'nothing'}, not the job just queued (${queued?.id})`);
  return { job, fence: { jobId: job.id, workerId, attempt: job.attempt } };
}
