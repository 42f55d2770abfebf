import { latestSample, MAX_SAMPLE_BYTES, sniffSampleImage, type NewSample } from '../domain/jobs/samples.js';
import type { JobRow } from '../domain/jobs/types.js';
import type { NewArtifact } from '../domain/registry/service.js';
import type { Queryable } from '../db/db.js';
import type { BlobStore } from '../storage/blob-store.js';
import { openJobFile } from './job-file.js';

export { MAX_SAMPLE_BYTES };

/**
 * Uploads one sample image a trainer announced. Like artifacts, the path must resolve (symlinks
 * too) inside the job's output or checkpoint folder, and the bytes must be an image: a trainer
 * cannot make the worker publish arbitrary files. Throws a message for the job's log otherwise.
 */
export async function uploadSample(
  store: BlobStore,
  ctx: { ownerId: string; jobId: string; attempt: number; outputDir: string; checkpointDir: string },
  e: { step: number; prompt: string; path: string },
  index: number,
): Promise<NewSample> {
  const found = await openJobFile(ctx.outputDir, e.path, [ctx.outputDir, ctx.checkpointDir]);
  if (!found) throw new Error(`sample ${e.path} is missing, not a file, or outside the job folder`);
  const { handle } = found;
  let put;
  try {
    if (found.bytes > MAX_SAMPLE_BYTES) throw new Error(`sample ${e.path} is larger than ${MAX_SAMPLE_BYTES} bytes`);
    const head = Buffer.alloc(12);
    await handle.read(head, 0, 12, 0);
    const kind = sniffSampleImage(head);
    if (!kind) throw new Error(`sample ${e.path} is not a PNG, JPEG or WebP image`);
    const key = `samples/${ctx.ownerId}/${ctx.jobId}/a${ctx.attempt}-${index}.${kind.ext}`;
    // Read from the start of the file opened and checked above (the stream closes it).
    put = { key, kind, ...(await store.put(key, handle.createReadStream({ start: 0, autoClose: true }), { maxBytes: MAX_SAMPLE_BYTES })) };
  } finally {
    await handle.close().catch(() => {});
  }
  const { key, kind } = put;
  return { step: e.step, prompt: e.prompt.slice(0, 2000), storage_key: key, format: kind.format, bytes: put.bytes, sha256: put.sha256 };
}

/**
 * The version's preview: a job that rendered samples gets its latest one as `preview.<ext>`
 * (copied, so the version and the job's samples can be deleted apart), replacing a preview the
 * trainer made itself; without samples the trainer's artifacts stand as they are.
 */
export async function withSamplePreview(db: Queryable, store: BlobStore, job: JobRow, artifacts: NewArtifact[]): Promise<NewArtifact[]> {
  const last = await latestSample(db, job.id);
  if (!last) return artifacts;
  const ext = last.storage_key.slice(last.storage_key.lastIndexOf('.') + 1);
  const name = `preview.${ext}`;
  const key = `artifacts/${job.owner_id}/${job.id}/a${job.attempt}/${name}`;
  const put = await store.put(key, await store.get(last.storage_key));
  return [
    ...artifacts.filter((a) => !/^preview\.(png|jpe?g|webp)$/.test(a.name)),
    { name, format: last.format, storage_key: key, bytes: put.bytes, sha256: put.sha256 },
  ];
}
