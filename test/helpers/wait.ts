import { inspect } from 'node:util';
import { FINAL_STATES, isFinal } from '../../src/domain/jobs/states.js';
import type { client } from './app.js';

// Tests wait on a state, never on the clock: every "until X" in test/ goes through here, so a
// timeout always says what was being waited for and what was last seen instead.

type Api = ReturnType<typeof client>;

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Pause between looks (default 25 ms). */
  intervalMs?: number;
  /** What is being waited for, for the timeout error. */
  message?: string;
}

/** The only sleep the helpers use: between two looks at a state. */
const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const show = (v: unknown): string => inspect(v, { depth: 4, breakLength: Infinity, maxStringLength: 500 });

/**
 * Calls `get` until `done(value)` holds and returns that value. On timeout it throws with
 * `message` and the last value seen. An exception from `get` or `done` ends the wait at once:
 * that is how a wait says "this can no longer happen" (a job that ended early, say).
 */
export async function waitFor<T>(get: () => T | Promise<T>, done: (value: T) => boolean, opts: WaitOptions = {}): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 25, message = 'condition' } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await get();
    if (done(value)) return value;
    // Looked at once more after the deadline, so a slow `get` still gets its last chance.
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}; last seen: ${show(value)}`);
    await pause(intervalMs);
  }
}

/** Polls `fn` until it returns something truthy, and returns that. */
export function until<T>(fn: () => T | Promise<T>, opts: WaitOptions = {}): Promise<T> {
  return waitFor(fn, Boolean, opts);
}

/** A job once its status is one of `statuses` (by default: once it has ended). */
export function waitForJob(api: Api, token: string, id: string, statuses: readonly string[] = FINAL_STATES, timeoutMs = 30_000) {
  return waitFor(
    async () => (await api.get(`/v1/jobs/${id}`, token)).body,
    (job) => statuses.includes(job.status),
    { timeoutMs, message: `job ${id} to be ${statuses.join('|')}` },
  );
}

/** A job once its trainer has reported `step`; a job that ends first fails the wait. */
export function waitForJobStep(api: Api, token: string, id: string, step: number, timeoutMs = 10_000) {
  return waitFor(
    async () => (await api.get(`/v1/jobs/${id}`, token)).body,
    (job) => {
      if ((job.progress.step ?? 0) >= step) return true;
      if (isFinal(job.status)) throw new Error(`job ${id} ended ${job.status} before step ${step}: ${show(job.error)}`);
      return false;
    },
    { timeoutMs, message: `job ${id} to reach step ${step}` },
  );
}

/** A dataset once it has left `processing` (ready or failed: the caller asserts which). */
export function waitForDataset(api: Api, token: string, id: string, timeoutMs = 20_000) {
  return waitFor(
    async () => (await api.get(`/v1/datasets/${id}`, token)).body,
    (ds) => ds.status !== 'processing',
    { timeoutMs, intervalMs: 50, message: `dataset ${id} to leave processing` },
  );
}

/** A dataset once it is ready; one that fails validation fails the wait with its errors. */
export async function waitForReadyDataset(api: Api, token: string, id: string, timeoutMs = 20_000) {
  const ds = await waitForDataset(api, token, id, timeoutMs);
  if (ds.status !== 'ready') throw new Error(`dataset ${ds.name ?? id} is ${ds.status}: ${JSON.stringify(ds.errors)}`);
  return ds;
}

/** A sweep once it has ended (succeeded, partial, failed, cancelled). */
export function waitForSweep(api: Api, token: string, id: string, timeoutMs = 30_000) {
  return waitFor(
    async () => (await api.get(`/v1/sweeps/${id}`, token)).body,
    (s) => !['running', 'cancelling'].includes(s.status),
    { timeoutMs, intervalMs: 100, message: `sweep ${id} to end` },
  );
}

/**
 * Until a worker has let go of a job (or of every job): a job's final status is written
 * before the worker cleans up its folder, so "ended" does not yet mean "cleaned up".
 */
export function waitForWorkerIdle(worker: { activeJobs: readonly string[] }, jobId?: string, timeoutMs = 5_000) {
  return waitFor(
    () => [...worker.activeJobs],
    (active) => (jobId === undefined ? active.length === 0 : !active.includes(jobId)),
    { timeoutMs, intervalMs: 20, message: jobId === undefined ? 'the worker to be idle' : `the worker to let go of ${jobId}` },
  );
}
