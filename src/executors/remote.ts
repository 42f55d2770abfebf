/**
 * What every cluster executor (Slurm, Kubernetes) shares: the attempt token the launcher gets,
 * the command line that starts it, and how the launcher's report (POST …/finish, read from the
 * database) becomes the worker's AttemptOutcome. The cluster-specific part is only: submit,
 * watch the scheduler's state, cancel, and say what a state without a report means.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../db/db.js';
import { readAttemptReport } from '../domain/attempts/service.js';
import type { FinishReport } from '../domain/attempts/schema.js';
import type { AttemptTokens } from '../domain/attempts/token.js';
import { JOB_STATES } from '../domain/jobs/states.js';
import type { Fence, JobRow } from '../domain/jobs/types.js';
import type { NewArtifact } from '../domain/registry/service.js';
import { AppError } from '../errors.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { AttemptOutcome } from './executor.js';

export interface RemoteConfig {
  /** Where launchers reach the API (a load balancer in front of the replicas). */
  apiUrl: string;
  /** The launcher's command on a node or in the image, e.g. ["trainyard"] or ["node", "/app/dist/main.js"]. */
  launcher: string[];
  /** The attempt folder's parent on the node. */
  workDir: string;
  /** The trainer environment's interpreter on the node. */
  python: string;
  /** How often the scheduler's state is read. */
  pollMs: number;
}

export interface RemoteDeps {
  db: Queryable;
  store: BlobStore;
  tokens: AttemptTokens;
  maxArtifactBytes: number;
}

/** The attempt's URL, and a token that outlives the attempt's own time limit but not by much. */
export function attemptCredentials(d: Pick<RemoteDeps, 'tokens'>, c: Pick<RemoteConfig, 'apiUrl'>, job: JobRow, fence: Fence) {
  const ttl = Math.min(7 * 86_400, job.max_runtime_seconds + 3600);
  return { url: `${c.apiUrl.replace(/\/+$/, '')}/v1/jobs/${job.id}/attempts/${job.attempt}`, token: d.tokens.issue(fence, ttl) };
}

/** The launcher's argv (the token travels in TRAINYARD_ATTEMPT_TOKEN, never on a command line). */
export function launcherArgv(c: RemoteConfig, url: string): string[] {
  return [...c.launcher, 'run-attempt', '--url', url, '--work-dir', c.workDir, '--python', c.python];
}

/** Single-quoted for a POSIX shell script. */
export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The artifacts the launcher uploaded, checked as the worker checks its own: each object is
 * there, the total is within the limit, and its size and sha256 are recorded from the stored
 * bytes (never from what the launcher claims).
 */
async function storedArtifacts(d: RemoteDeps, list: FinishReport['artifacts']): Promise<NewArtifact[]> {
  const out: NewArtifact[] = [];
  let total = 0;
  for (const a of list) {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of await d.store.get(a.key)) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    total += bytes;
    if (total > d.maxArtifactBytes) throw new AppError('ARTIFACT_TOO_LARGE', `artifacts exceed ${d.maxArtifactBytes} bytes in total`);
    out.push({ name: a.name, format: a.format, storage_key: a.key, bytes, sha256: hash.digest('hex') });
  }
  return out;
}

/**
 * The outcome of an attempt whose launcher reported, or null when it never did. A trainer
 * stopped by a SIGTERM that Trainyard did not send (`stopAsked` false) was stopped by the
 * cluster: a preemption, an eviction, a node drain. That is the machine's doing, not the
 * job's, so it is retried from the checkpoint the trainer just wrote.
 */
export async function reportedOutcome(d: RemoteDeps, fence: Fence, startedAt: number, stopAsked: boolean): Promise<AttemptOutcome | null> {
  const r = await readAttemptReport(d.db, fence);
  if (!r) return null;
  if (r.stopped && !stopAsked) {
    // A cancel reaches the launcher on its next batch of events, maybe before the worker's heartbeat sees it.
    const { rows } = await d.db.query<{ status: string }>('select status from jobs where id = $1', [fence.jobId]);
    if (rows[0]?.status !== JOB_STATES.CANCEL_REQUESTED)
      return { type: 'infrastructure', message: 'the cluster stopped the trainer (SIGTERM: a preemption, an eviction or a drain)' };
  }
  return {
    type: 'exited',
    exit: {
      code: r.exit_code,
      signal: (r.signal as NodeJS.Signals | null) ?? null,
      durationMs: Date.now() - startedAt,
      stopped: r.stopped,
      killed: r.killed,
      stderrTail: r.stderr_tail,
      lastError: r.last_error,
    },
    result: r.result,
    artifacts: () => storedArtifacts(d, r.artifacts),
  };
}
