import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Queryable } from '../../db/db.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { SpecDataset } from '../../trainers/protocol.js';
import * as q from './queries.js';

/** The dataset was deleted between the job's creation and its staging. */
export class DatasetGoneError extends Error {
  readonly code = 'DATASET_GONE';
  override name = 'DatasetGoneError';
}

/**
 * A file's stored bytes are not the ones its record describes (sha256 taken at upload):
 * something changed them in storage. A trainer must never see them.
 */
export class DatasetIntegrityError extends Error {
  readonly code = 'DATASET_INTEGRITY_ERROR';
  override name = 'DatasetIntegrityError';
  constructor(
    readonly datasetId: string,
    readonly fileId: string,
    readonly expectedSha256: string,
    readonly actualSha256: string,
  ) {
    super(`file ${fileId} of dataset ${datasetId} no longer matches its recorded sha256; re-upload it and create the dataset again`);
  }
}

/** Stored names are ours; on disk a file keeps its id, plus a cleaned name for humans. */
const diskName = (id: string, filename: string) => `${id}-${filename.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100)}`;

/** One stored object an attempt needs, and where it goes in the attempt's folder. */
export interface PlannedBlob {
  key: string;
  /** Where the file goes: under the `into` folder the plan was made for (relative when that is). */
  path: string;
  bytes: number;
  /** Checked after the copy when known: a dataset file must still be what was uploaded. */
  sha256?: string;
  /** Names the file in a DatasetIntegrityError. */
  datasetFile?: { datasetId: string; fileId: string };
}

/**
 * A dataset as the trainer protocol's spec describes it, with its files under `into/<dataset
 * id>/`, and the stored objects to copy there. The worker copies them itself (materializeDataset);
 * a remote launcher gets them as signed URLs.
 */
export async function planDataset(db: Queryable, ownerId: string, datasetId: string, into: string): Promise<{ dataset: SpecDataset; blobs: PlannedBlob[] }> {
  const ds = await q.datasetById(db, ownerId, datasetId);
  if (!ds) throw new DatasetGoneError(`dataset ${datasetId} no longer exists`);
  const folder = path.join(into, ds.id);
  const files = [];
  const blobs: PlannedBlob[] = [];
  for (const f of await q.datasetFiles(db, ds.id)) {
    const target = path.join(folder, diskName(f.id, f.filename));
    blobs.push({ key: f.storage_key, path: target, bytes: Number(f.bytes), sha256: f.sha256, datasetFile: { datasetId: ds.id, fileId: f.id } });
    files.push({ path: target, filename: f.filename, content_type: f.content_type });
  }
  return { dataset: { id: ds.id, kind: ds.kind, options: ds.options, stats: ds.stats, files }, blobs };
}

/**
 * Copies one planned object out of storage, hashing it on the way to disk (the check costs no
 * second read); a dataset file whose bytes changed since upload is removed and reported.
 */
export async function fetchBlob(store: BlobStore, b: PlannedBlob): Promise<void> {
  await mkdir(path.dirname(b.path), { recursive: true });
  const hash = createHash('sha256');
  await pipeline(
    await store.get(b.key),
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const c of chunks) {
        hash.update(c);
        yield c;
      }
    },
    createWriteStream(b.path),
  );
  if (!b.sha256) return;
  const actual = hash.digest('hex');
  if (actual === b.sha256) return;
  await rm(b.path, { force: true });
  if (b.datasetFile) throw new DatasetIntegrityError(b.datasetFile.datasetId, b.datasetFile.fileId, b.sha256, actual);
  throw new Error(`${b.key} no longer matches its recorded sha256`);
}

/**
 * Copies a dataset's files out of storage into `into/<dataset id>/` and describes them as the
 * trainer protocol's spec does (the worker's staging). Owned here, beside the dataset queries,
 * so the worker needs no knowledge of how datasets are stored.
 */
export async function materializeDataset(db: Queryable, store: BlobStore, ownerId: string, datasetId: string, into: string): Promise<SpecDataset> {
  const { dataset, blobs } = await planDataset(db, ownerId, datasetId, into);
  await mkdir(path.join(into, datasetId), { recursive: true });
  for (const b of blobs) await fetchBlob(store, b);
  return dataset;
}
