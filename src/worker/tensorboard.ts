import { Readable } from 'node:stream';
import type { Queryable } from '../db/db.js';
import { metricEvents } from '../domain/jobs/queries.js';
import { samplesOf } from '../domain/jobs/samples.js';
import type { JobRow } from '../domain/jobs/types.js';
import { EVENTS_FORMAT } from '../domain/registry/run-log.js';
import type { NewArtifact } from '../domain/registry/service.js';
import type { BlobStore } from '../storage/blob-store.js';
import { eventsFile, metricTag, type ImagePoint, type ScalarPoint } from '../tracking/tfevents.js';

/** Metric reports one file holds (evenly thinned beyond, the last kept), as GET /v1/jobs/{id}/metrics reads them. */
const MAX_METRIC_EVENTS = 20_000;
/** Sample images are the bulk of the file: the newest ones up to this many bytes go in. */
const MAX_IMAGE_BYTES = 64 * 1024 * 1024;

/** The events file's artifact name: TensorBoard finds files by the `events.out.tfevents.` prefix. */
export function eventsFileName(job: Pick<JobRow, 'created_at'>): string {
  return `events.out.tfevents.${Math.floor(job.created_at.getTime() / 1000)}.trainyard`;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The job's TensorBoard events file, from what the database already holds: every metric
 * report as scalars (tags from the metric names: train_loss → train/loss), the trainer's
 * final metrics as `result/<name>` at the last step, and its PNG samples as images, one tag
 * per prompt. Built by the worker for every training job, so any run can be opened with
 * `tensorboard --logdir` whatever trainer made it.
 */
export async function buildEventsFile(db: Queryable, store: BlobStore, job: JobRow, result: Record<string, number>): Promise<Buffer> {
  const scalars: ScalarPoint[] = [];
  let lastStep = 0;
  for (const e of await metricEvents(db, job.id, MAX_METRIC_EVENTS)) {
    const d = e.data as { step: number; values: Record<string, number> };
    const wallTime = e.created_at.getTime() / 1000;
    lastStep = Math.max(lastStep, d.step);
    for (const [name, value] of Object.entries(d.values)) scalars.push({ tag: metricTag(name), step: d.step, value, wallTime });
  }
  const now = Date.now() / 1000;
  for (const [name, value] of Object.entries(result))
    if (typeof value === 'number') scalars.push({ tag: `result/${name}`, step: lastStep, value, wallTime: now });
  const images: ImagePoint[] = [];
  const samples = (await samplesOf(db, job.id)).filter((s) => s.format === 'png');
  const prompts = [...new Set(samples.map((s) => s.prompt))];
  let bytes = 0;
  for (const s of [...samples].reverse()) {
    if ((bytes += s.bytes) > MAX_IMAGE_BYTES) break;
    const png = await readAll(await store.get(s.storage_key));
    images.push({ tag: `samples/${prompts.indexOf(s.prompt)}`, step: s.step, png, wallTime: s.created_at.getTime() / 1000 });
  }
  return eventsFile({ wallTime: (job.attempt_started_at ?? job.created_at).getTime() / 1000, scalars, images });
}

/** The artifacts with the job's events file added (format `tfevents`), replacing one of that name. */
export async function withEventsFile(
  db: Queryable,
  store: BlobStore,
  job: JobRow,
  artifacts: NewArtifact[],
  result: Record<string, number>,
): Promise<NewArtifact[]> {
  const name = eventsFileName(job);
  const key = `artifacts/${job.owner_id}/${job.id}/a${job.attempt}/${name}`;
  const put = await store.put(key, Readable.from([await buildEventsFile(db, store, job, result)]));
  return [...artifacts.filter((a) => a.name !== name), { name, format: EVENTS_FORMAT, storage_key: key, bytes: put.bytes, sha256: put.sha256 }];
}
