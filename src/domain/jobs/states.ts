/**
 * The job state machine, once. Every other place — the lifecycle's SQL guards, the route
 * schemas, the TypeScript types, the sweeps' roll-up — derives from these constants, so a
 * state or a transition is added here or nowhere. (Migrations spell the states in their CHECK
 * constraint and index predicates: those are history and are not rewritten.)
 */
export const JOB_STATES = Object.freeze({
  QUEUED: 'queued',
  RUNNING: 'running',
  /** A running job whose trainer is being stopped. */
  CANCEL_REQUESTED: 'cancel_requested',
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
} as const);

export type JobState = (typeof JOB_STATES)[keyof typeof JOB_STATES];

const S = JOB_STATES;
export const ALL_STATES: readonly JobState[] = Object.freeze(Object.values(S));
/** Held by a worker: the lease, heartbeat and every fenced write apply. */
export const ACTIVE_STATES: readonly JobState[] = Object.freeze([S.RUNNING, S.CANCEL_REQUESTED]);
export const FINAL_STATES: readonly JobState[] = Object.freeze([S.SUCCEEDED, S.FAILED, S.CANCELLED]);
/** Not final: the job still holds credits and its datasets. */
export const OPEN_STATES: readonly JobState[] = Object.freeze([S.QUEUED, ...ACTIVE_STATES]);

export const isFinal = (s: string): boolean => (FINAL_STATES as readonly string[]).includes(s);
export const isOpen = (s: string): boolean => (OPEN_STATES as readonly string[]).includes(s);

/** Error codes a job can end with; the message says more. */
export const JOB_ERROR_CODES = Object.freeze({
  TRAINER_FAILED: 'TRAINER_FAILED',
  TIMEOUT: 'TIMEOUT',
  WORKER_LOST: 'WORKER_LOST',
  STAGING_FAILED: 'STAGING_FAILED',
  /** A dataset file's bytes no longer match the sha256 recorded at upload (staging checks each one). */
  DATASET_INTEGRITY_ERROR: 'DATASET_INTEGRITY_ERROR',
  ARTIFACT_TOO_LARGE: 'ARTIFACT_TOO_LARGE',
  ARTIFACT_INVALID: 'ARTIFACT_INVALID',
  TRAINER_UNAVAILABLE: 'TRAINER_UNAVAILABLE',
  /** The machine under the trainer failed on every attempt (node failure, preemption, eviction). */
  INFRASTRUCTURE_FAILED: 'INFRASTRUCTURE_FAILED',
  CANCELLED: 'CANCELLED',
} as const);

export type CreditMove = 'hold' | 'capture' | 'release' | null;
export type JobWebhook = 'job.started' | 'job.succeeded' | 'job.failed' | 'job.cancelled' | null;
/** Who must hear of the transition at once: workers (`jobs`: a job to claim) or the worker holding it (`cancel`). */
export type Wake = 'jobs' | 'cancel' | null;

export interface Transition {
  readonly from: readonly JobState[];
  readonly to: JobState;
  /** Only the worker holding the claim may make it: guarded by (job, worker, attempt) too. */
  readonly fenced: boolean;
  readonly credits: CreditMove;
  readonly webhook: JobWebhook;
  readonly wake: Wake;
}

const t = (from: readonly JobState[], to: JobState, o: Partial<Omit<Transition, 'from' | 'to'>> = {}): Transition =>
  Object.freeze({ from: Object.freeze([...from]), to, fenced: false, credits: null, webhook: null, wake: null, ...o });

/**
 * Every way a job's state can change, with the side effects each one carries. The lifecycle
 * (lifecycle/) applies exactly these: its SQL refuses any other `from`, and the credit move,
 * status event, webhook and wake-up come from here, not from the caller.
 *
 * A trainer that exited 0 wins over a cancel requested meanwhile (succeed from
 * cancel_requested): the work is done and already paid for.
 */
export const TRANSITIONS = Object.freeze({
  /** A new job, its hold placed in the same transaction. */
  enqueue: t([], S.QUEUED, { credits: 'hold', wake: 'jobs' }),
  /** A worker takes the job: attempt + 1, a lease. */
  claim: t([S.QUEUED], S.RUNNING, { webhook: 'job.started' }),
  succeed: t(ACTIVE_STATES, S.SUCCEEDED, { fenced: true, credits: 'capture', webhook: 'job.succeeded' }),
  fail: t(ACTIVE_STATES, S.FAILED, { fenced: true, credits: 'release', webhook: 'job.failed' }),
  /** Ran past max_runtime_seconds: a failure with its own code. */
  timeOut: t(ACTIVE_STATES, S.FAILED, { fenced: true, credits: 'release', webhook: 'job.failed' }),
  requestCancel: t([S.RUNNING], S.CANCEL_REQUESTED, { wake: 'cancel' }),
  cancelQueued: t([S.QUEUED], S.CANCELLED, { credits: 'release', webhook: 'job.cancelled' }),
  /** The worker stopped the trainer after a cancel request. */
  cancelStopped: t(ACTIVE_STATES, S.CANCELLED, { fenced: true, credits: 'release', webhook: 'job.cancelled' }),
  /** A draining worker gives the job back; the attempt does not count. */
  handBack: t([S.RUNNING], S.QUEUED, { fenced: true, wake: 'jobs' }),
  /**
   * The executor saw the machine under the trainer fail (a cluster node lost, a pod evicted or
   * preempted): retried like a lost worker, resuming from the last checkpoint, by the worker
   * that still holds the claim.
   */
  requeueInfrastructure: t([S.RUNNING], S.QUEUED, { fenced: true, wake: 'jobs' }),
  /** The lease expired: retry on another worker (the reaper). */
  requeueLost: t([S.RUNNING], S.QUEUED, { wake: 'jobs' }),
  /** The lease expired with no attempts left. */
  failLost: t([S.RUNNING], S.FAILED, { credits: 'release', webhook: 'job.failed' }),
  /** The lease expired while the job was being cancelled. */
  cancelLost: t([S.CANCEL_REQUESTED], S.CANCELLED, { credits: 'release', webhook: 'job.cancelled' }),
} satisfies Record<string, Transition>);

export type TransitionName = keyof typeof TRANSITIONS;

/** `'a', 'b'` for an SQL `in (…)` list: built from the constants above, never typed by hand. */
export function sqlStates(states: readonly JobState[]): string {
  for (const s of states) if (!ALL_STATES.includes(s)) throw new Error(`not a job state: ${s}`);
  return states.map((s) => `'${s}'`).join(', ');
}
