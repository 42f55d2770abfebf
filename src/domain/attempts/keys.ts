/**
 * Where a remote attempt's uploads go. Every key names the owner, the job and the attempt, so
 * a signed PUT URL (whose signature covers the key) is bound to one attempt: the filesystem
 * store's PUT route (src/app/routes/blobs.ts) reads the attempt back from the key and accepts
 * bytes only while that attempt is the job's live claim.
 *
 * Artifacts use the worker's own keys (src/worker/artifacts.ts). Checkpoints and samples get
 * an `a<attempt>/` folder that the worker's keys do not have: the worker writes them itself,
 * but a launcher's URL must not be able to overwrite what a later attempt stored.
 */
export type UploadKind = 'checkpoint' | 'artifact' | 'sample';

/** The artifact name rule of src/worker/artifacts.ts: one plain file name. */
export const UPLOAD_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
export const UPLOAD_NAME_PATTERN = UPLOAD_NAME.source;

const FOLDER: Record<UploadKind, string> = { checkpoint: 'checkpoints', artifact: 'artifacts', sample: 'samples' };

export interface AttemptScope {
  ownerId: string;
  jobId: string;
  attempt: number;
}

export const attemptPrefix = (kind: UploadKind, s: AttemptScope): string => `${FOLDER[kind]}/${s.ownerId}/${s.jobId}/a${s.attempt}/`;

export const attemptKey = (kind: UploadKind, s: AttemptScope, name: string): string => attemptPrefix(kind, s) + name;

const KEY = /^(checkpoints|artifacts|samples)\/([^/]{1,100})\/([^/]{1,100})\/a([1-9]\d{0,8})\/([^/]+)$/;

/** The attempt an upload key belongs to, or null when it is not an attempt's key. */
export function parseAttemptKey(key: string): (AttemptScope & { kind: UploadKind; name: string }) | null {
  const m = KEY.exec(key);
  if (!m || !UPLOAD_NAME.test(m[5]!)) return null;
  const kind = (Object.entries(FOLDER).find(([, f]) => f === m[1])![0] ?? 'artifact') as UploadKind;
  return { kind, ownerId: m[2]!, jobId: m[3]!, attempt: Number(m[4]), name: m[5]! };
}
