/**
 * Sample images a trainer renders during training (issue #12): the worker stores each one in
 * the blob store and numbers it here (1, 2, … per job, across attempts). Clients reach an image
 * through `GET /v1/jobs/{id}/samples/{n}`, a stable URL that answers with a fresh signed blob
 * URL (302), so the URL in an event or on the job never expires.
 */
import type { Db, Queryable } from '../../db/db.js';
import { NotFoundError } from '../../errors.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { ACTIVE_STATES, sqlStates } from './states.js';
import type { Fence, JobRow } from './types.js';

export interface NewSample {
  step: number;
  prompt: string;
  storage_key: string;
  format: string;
  bytes: number;
  sha256: string;
}

/** A sample is a picture to look at, not a deliverable: anything larger is refused. */
export const MAX_SAMPLE_BYTES = 20 * 1024 * 1024;

const SAMPLE_FORMATS: Array<{ format: string; ext: string; test: (b: Buffer) => boolean }> = [
  { format: 'png', ext: 'png', test: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  { format: 'jpeg', ext: 'jpg', test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { format: 'webp', ext: 'webp', test: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP' },
];

/** The image format of a sample's first 12 bytes (PNG, JPEG or WebP), or null for anything else. */
export const sniffSampleImage = (head: Buffer): { format: string; ext: string } | null => SAMPLE_FORMATS.find((f) => f.test(head)) ?? null;

export interface SampleRow extends NewSample {
  job_id: string;
  n: number;
  owner_id: string;
  attempt: number;
  created_at: Date;
}

/** The stable URL of a sample (relative to the API's origin): owner-authenticated, redirects to a signed URL. */
export const sampleImageUrl = (jobId: string, n: number) => `/v1/jobs/${jobId}/samples/${n}`;

/** What events, webhooks and the listing say about a sample. */
export const sampleEventData = (s: Pick<SampleRow, 'job_id' | 'n' | 'step' | 'prompt'>) => ({
  n: s.n,
  step: s.step,
  prompt: s.prompt,
  image_url: sampleImageUrl(s.job_id, s.n),
});

const ACTIVE = sqlStates(ACTIVE_STATES);

/**
 * Numbers and records a stored sample, fenced on the worker's claim; null when the claim is
 * gone. The counter on the job row serialises concurrent writers and is the job's latest sample.
 */
export async function insertSample(tx: Queryable, f: Fence, s: NewSample): Promise<{ job: JobRow; sample: SampleRow } | null> {
  const { rows } = await tx.query<JobRow>(
    `update jobs set latest_sample = coalesce(latest_sample, 0) + 1, updated_at = now()
      where id = $1 and worker_id = $2 and attempt = $3 and status in (${ACTIVE}) returning *`,
    [f.jobId, f.workerId, f.attempt],
  );
  const job = rows[0];
  if (!job) return null;
  const ins = await tx.query<SampleRow>(
    `insert into job_samples (job_id, n, owner_id, attempt, step, prompt, storage_key, format, bytes, sha256)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning *`,
    [job.id, job.latest_sample, job.owner_id, f.attempt, s.step, s.prompt, s.storage_key, s.format, s.bytes, s.sha256],
  );
  return { job, sample: ins.rows[0]! };
}

export async function samplesOf(db: Queryable, jobId: string): Promise<SampleRow[]> {
  const { rows } = await db.query<SampleRow>(`select * from job_samples where job_id = $1 order by n`, [jobId]);
  return rows.map((r) => ({ ...r, bytes: Number(r.bytes) }));
}

export async function latestSample(db: Queryable, jobId: string): Promise<SampleRow | null> {
  const { rows } = await db.query<SampleRow>(`select * from job_samples where job_id = $1 order by n desc limit 1`, [jobId]);
  return rows[0] ? { ...rows[0], bytes: Number(rows[0].bytes) } : null;
}

async function sampleByNumber(db: Queryable, jobId: string, n: number): Promise<SampleRow | null> {
  const { rows } = await db.query<SampleRow>(`select * from job_samples where job_id = $1 and n = $2`, [jobId, n]);
  return rows[0] ? { ...rows[0], bytes: Number(rows[0].bytes) } : null;
}

export interface SamplesDeps {
  db: Db;
  store: BlobStore;
  signedUrlTtlSeconds: number;
  /** The owner check: throws NOT_FOUND for a job the caller may not see. */
  jobs: { row(callerId: string, id: string, asAdmin?: boolean): Promise<JobRow> };
}

/** Reading samples: always through the job's owner check, so another user's job is a 404. */
export class JobSamplesService {
  constructor(private readonly d: SamplesDeps) {}

  private async shape(s: SampleRow, baseUrl: string) {
    const signed = await this.d.store.signedUrl(s.storage_key, { method: 'GET', expiresInSeconds: this.d.signedUrlTtlSeconds, baseUrl });
    return {
      ...sampleEventData(s),
      attempt: s.attempt,
      format: s.format,
      bytes: s.bytes,
      sha256: s.sha256,
      url: signed.url,
      expires_at: signed.expiresAt.toISOString(),
      created_at: s.created_at.toISOString(),
    };
  }

  async list(callerId: string, jobId: string, baseUrl: string, asAdmin = false) {
    await this.d.jobs.row(callerId, jobId, asAdmin);
    return { data: await Promise.all((await samplesOf(this.d.db, jobId)).map((s) => this.shape(s, baseUrl))) };
  }

  async get(callerId: string, jobId: string, n: number, baseUrl: string, asAdmin = false) {
    await this.d.jobs.row(callerId, jobId, asAdmin);
    const s = await sampleByNumber(this.d.db, jobId, n);
    if (!s) throw new NotFoundError('sample', `${jobId}/${n}`);
    return this.shape(s, baseUrl);
  }
}
