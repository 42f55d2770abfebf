import type { StoredIntegration } from '../../tracking/integrations.js';
import type { JobState } from './states.js';

/** The latest checkpoint a worker uploaded: a retry on any worker stages it from storage. */
export interface StoredCheckpoint {
  step: number;
  /** Storage key of the checkpoint file. */
  key: string;
  /** Its file name, as the trainer wrote it (cleaned). */
  name: string;
}

/** A warm start: the version a job starts from (resolved at creation). */
export interface FromModel {
  name: string;
  version?: number;
  alias?: string;
  version_id?: string;
}

export type JobKind = 'training' | 'inference';

export interface JobRow {
  id: string;
  owner_id: string;
  kind: JobKind;
  trainer: string;
  status: JobState;
  priority: number;
  dataset_id: string | null;
  validation_dataset_id: string | null;
  /** Held out (issue #18): scored once at the end, never trained or early-stopped on. */
  test_dataset_id: string | null;
  base_model: string | null;
  hyperparameters: Record<string, unknown>;
  /** Training jobs: the model the version goes to. Inference jobs: null. */
  output: { model_name: string; description?: string; primary_metric?: string; metric_goal?: 'maximize' | 'minimize' } | null;
  metadata: Record<string, unknown>;
  from_model: FromModel | null;
  webhook_url: string | null;
  /** Experiment trackers logged to once the job ends (src/tracking), each with its outcome. */
  integrations: StoredIntegration[];
  gpus: number;
  labels: string[];
  cost: number;
  idempotency_key: string | null;
  request_hash: string | null;
  attempt: number;
  max_attempts: number;
  run_after: Date;
  worker_id: string | null;
  lease_expires_at: Date | null;
  attempt_started_at: Date | null;
  max_runtime_seconds: number;
  checkpoint: StoredCheckpoint | null;
  event_seq: number;
  progress: number;
  step: number | null;
  total_steps: number | null;
  epoch: number | null;
  eta_seconds: number | null;
  /** Number of the latest sample image (job_samples), null before the first. */
  latest_sample: number | null;
  error: JobError | null;
  result: Record<string, unknown> | null;
  model_version_id: string | null;
  sweep_id: string | null;
  sweep_point: Record<string, unknown> | null;
  sweep_repeat: number | null;
  /** Set at creation (estimate.ts); null with source 'none' when there was nothing to go on. */
  estimated_duration_seconds: number | null;
  estimate_source: 'history' | 'catalog' | 'none';
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  /** When events retention deleted this job's events (retention.ts); null while it has them. */
  events_pruned_at: Date | null;
  updated_at: Date;
}

export interface JobError {
  code: string;
  message: string;
}

/** Every write a worker makes names its claim: a stale worker's write matches no row. */
export interface Fence {
  jobId: string;
  workerId: string;
  attempt: number;
}

/** What enqueue inserts; everything else starts at its column default. */
export type NewJob = Pick<
  JobRow,
  | 'id'
  | 'owner_id'
  | 'kind'
  | 'trainer'
  | 'priority'
  | 'dataset_id'
  | 'validation_dataset_id'
  | 'test_dataset_id'
  | 'base_model'
  | 'hyperparameters'
  | 'output'
  | 'metadata'
  | 'from_model'
  | 'webhook_url'
  | 'gpus'
  | 'labels'
  | 'cost'
  | 'idempotency_key'
  | 'request_hash'
  | 'max_attempts'
  | 'max_runtime_seconds'
  | 'sweep_id'
  | 'sweep_point'
  | 'sweep_repeat'
> &
  /** None when absent. */
  Partial<Pick<JobRow, 'integrations'>>;
