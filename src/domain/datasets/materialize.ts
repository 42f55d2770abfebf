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

/**
 * Copies a dataset's files out of storage into `into/<dataset id>/` and describes them as the
 * trainer protocol's spec does (the worker's staging). Owned here, beside the dataset queries,
 * so the worker needs no knowledge of how datasets are stored.
 */
export async function materializeDataset(db: Queryable, store: BlobStore, ownerId: string, datasetId: string, into: string): Promise<SpecDataset> {
  const ds = await q.datasetById(db, ownerId, datasetId);
  if (!ds) throw new DatasetGoneError(`dataset ${datasetId} no longer exists`);
  const folder = path.join(into, ds.id);
  await mkdir(folder, { recursive: true });
  const files = [];
  for (const f of await q.datasetFiles(db, ds.id)) {
    const target = path.join(folder, diskName(f.id, f.filename));
    // Hashed on the way to disk: the check costs no second read.
    const hash = createHash('sha256');
    await pipeline(
      await store.get(f.storage_key),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const c of chunks) {
          hash.update(c);
          yield c;
        }
      },
      createWriteStream(target),
    );
    const actual = hash.digest('hex');
    if (actual !== f.sha256) {
      await rm(target, { force: true });
      throw new DatasetIntegrityError(ds.id, f.id, f.sha256, actual);
    }
    files.push({ path: target, filename: f.filename, content_type: f.content_type });
  }
  return { id: ds.id, kind: ds.kind, options: ds.options, stats: ds.stats, files };
}
