/** The job states, once. `cancel_requested` is a running job whose trainer is being stopped. */
export const JOB_STATES = Object.freeze({
  QUEUED: 'queued',
  RUNNING: 'running',
  CANCEL_REQUESTED: 'cancel_requested',
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
} as const);

export type JobState = (typeof JOB_STATES)[keyof typeof JOB_STATES];

export const ACTIVE_STATES: readonly JobState[] = Object.freeze(['running', 'cancel_requested']);
export const FINAL_STATES: readonly JobState[] = Object.freeze(['succeeded', 'failed', 'cancelled']);
export const ALL_STATES: readonly JobState[] = Object.freeze(Object.values(JOB_STATES));

export const isFinal = (s: string): boolean => (FINAL_STATES as readonly string[]).includes(s);

/** Error codes a job can end with; the message says more. */
export const JOB_ERROR_CODES = Object.freeze({
  TRAINER_FAILED: 'TRAINER_FAILED',
  TIMEOUT: 'TIMEOUT',
  WORKER_LOST: 'WORKER_LOST',
  STAGING_FAILED: 'STAGING_FAILED',
  ARTIFACT_TOO_LARGE: 'ARTIFACT_TOO_LARGE',
  ARTIFACT_INVALID: 'ARTIFACT_INVALID',
  TRAINER_UNAVAILABLE: 'TRAINER_UNAVAILABLE',
} as const);
