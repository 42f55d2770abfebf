import { randomUUID } from 'node:crypto';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import type { CreateDatasetInput } from '../../domain/datasets/schema.js';
import type { PublicDataset } from '../../domain/datasets/service.js';
import { cleanFilename } from '../../domain/files/service.js';
import type { Services } from '../../services.js';
import type { BlobStore } from '../../storage/blob-store.js';
import * as q from './queries.js';
import type { CompleteInput, DatasetDetailShape, DatasetStatus, InitiateInput } from './schemas.js';
import { VIDEO_TRAINERS } from './models.js';

/** The kind an uploaded object becomes when the video trainers' catalog entries name none. */
const DEFAULT_KIND = 'video-set';

export const datasetNotFound = (id: string) => new AppError('DATASET_NOT_FOUND', `Dataset ${id} not found`, { status: 404 });

/** The object's name inside datasets/{id}/: the seed keeps original names, within what a key may hold. */
export function objectName(fileName: string): string {
  const safe = cleanFilename(fileName).replace(/[^A-Za-z0-9._-]/g, '_');
  if (/^\.*$/.test(safe)) throw new ValidationError('INVALID_FILE_NAME', 'file_name must contain a letter or digit');
  return safe;
}

/**
 * Where an object is, as the facade shows it (s3_path, output_path): the store's URI on S3
 * (`s3://bucket/key`); on any other store the key itself, so that the filesystem store's
 * `file:///…` does not show the server's folders.
 */
export function objectPath(store: BlobStore, key: string): string {
  const uri = store.uri(key);
  return uri.startsWith('s3://') ? uri : key;
}

// Upload-complete refusals the document answers with 400 ("invalid input"): the upload is not
// in a state that can become a dataset, or not a video archive (Trainyard's 415 included).
// Too large stays 413.
const UPLOAD_REFUSALS = new Set(['UPLOAD_MISSING', 'UPLOAD_EXPIRED', 'UPLOAD_CHANGED', 'FILE_TYPE_MISMATCH', 'FILE_KIND_MISMATCH']);
/** Refusals of the bytes themselves: the dataset is in error for good (a new upload is needed). */
const CONTENT_REFUSALS = new Set(['FILE_TYPE_MISMATCH', 'FILE_KIND_MISMATCH']);

/**
 * Datasets as the document has them: one uploaded object under datasets/{id}/ that becomes an
 * ordinary dataset (of the kind the video trainers take) at upload-complete, validated in the
 * background. The record exists from upload-initiate on, so the id does too.
 */
export class QloraDatasets {
  constructor(private readonly s: Services) {}

  /** The dataset kind both video trainers accept (catalog), else video-set. */
  private kind(): string {
    const trainers = this.s.catalog.listTrainers().filter((t) => (VIDEO_TRAINERS as readonly string[]).includes(t.id));
    const kinds = trainers.map((t) => t.dataset.kinds);
    return kinds[0]?.find((k) => kinds.every((ks) => ks.includes(k))) ?? DEFAULT_KIND;
  }

  async initiate(ownerId: string, input: InitiateInput, baseUrl: string) {
    const id = randomUUID();
    const key = `datasets/${id}/${objectName(input.file_name)}`;
    const up = await this.s.files.createUploadAt(ownerId, { filename: input.file_name, key }, baseUrl);
    await q.insertDataset(this.s.db, {
      id,
      owner_id: ownerId,
      name: input.dataset_name,
      description: input.dataset_description ?? '',
      s3_key: key,
      file_id: up.file_id,
      upload_expires_at: up.expires_at,
    });
    return { upload_url: up.upload_url, dataset_id: id, s3_key: key, expires_at: up.expires_at.toISOString(), max_bytes: up.max_bytes };
  }

  /**
   * The object is checked (there, within the upload limit; its sha256 and type read from the
   * bytes) and becomes a dataset validated in the background. Completing again is harmless.
   */
  async complete(ownerId: string, input: CompleteInput): Promise<void> {
    const row = await q.datasetById(this.s.db, ownerId, input.dataset_id);
    if (!row) throw datasetNotFound(input.dataset_id);
    if (input.s3_key !== row.s3_key)
      throw new ValidationError('S3_KEY_MISMATCH', `s3_key does not match the dataset's key (${row.s3_key})`, { expected: row.s3_key });
    if (row.dataset_id) return;
    if (row.failure) throw new ValidationError('DATASET_FAILED', `the dataset could not be made: ${row.failure}`);
    if (!row.file_id) throw new ConflictError('UPLOAD_MISSING', 'this dataset has no upload');
    let ds: PublicDataset;
    try {
      const file = await this.s.files.completeUnsizedUpload(ownerId, row.file_id);
      ds = await this.s.datasets.create(ownerId, {
        // Unique per owner (canonical names are), whatever the document's name is.
        name: `qlora-${row.id}`,
        // The service checks the kind at run time; the type lists only the kinds of this build.
        kind: this.kind() as CreateDatasetInput['kind'],
        file_ids: [file.id],
        description: row.description ? `${row.name}: ${row.description}`.slice(0, 2000) : row.name.slice(0, 2000),
      });
    } catch (err) {
      if (err instanceof AppError && err.code === 'DATASET_NAME_EXISTS') return; // a concurrent completion made it
      if (err instanceof NotFoundError) throw new ValidationError('UPLOAD_EXPIRED', 'the upload expired and was removed; start a new upload');
      if (err instanceof AppError && CONTENT_REFUSALS.has(err.code)) await q.recordFailure(this.s.db, ownerId, row.id, err.message);
      if (err instanceof AppError && UPLOAD_REFUSALS.has(err.code)) throw new ValidationError(err.code, err.message, err.details);
      throw err;
    }
    if (!(await q.attachDataset(this.s.db, ownerId, row.id, ds.id))) {
      // Deleted while completing: leave nothing behind.
      await this.s.datasets.delete(ownerId, ds.id).catch(() => {});
      await this.s.files.delete(ownerId, row.file_id).catch(() => {});
      throw datasetNotFound(row.id);
    }
  }

  async list(ownerId: string) {
    const rows = await q.listDatasets(this.s.db, ownerId);
    return Promise.all(
      rows.map(async (r) => {
        const { file_count: _f, total_size_bytes: _b, error: _e, ...summary } = await this.view(r);
        return summary;
      }),
    );
  }

  async get(ownerId: string, id: string): Promise<DatasetDetailShape> {
    const row = await q.datasetById(this.s.db, ownerId, id);
    if (!row) throw datasetNotFound(id);
    return this.view(row);
  }

  private async canonical(r: q.DatasetRow): Promise<PublicDataset | null> {
    if (!r.dataset_id) return null;
    return this.s.datasets.get(r.owner_id, r.dataset_id).catch((err: unknown) => {
      if (err instanceof NotFoundError) return null;
      throw err;
    });
  }

  private async view(r: q.DatasetRow): Promise<DatasetDetailShape> {
    const ds = await this.canonical(r);
    let status: DatasetStatus = 'processing';
    let error: string | null = null;
    if (r.failure) [status, error] = ['error', r.failure];
    else if (ds) {
      status = ds.status === 'ready' ? 'ready' : ds.status === 'error' ? 'error' : 'processing';
      if (status === 'error') error = (ds.errors as Array<{ message?: string }>)[0]?.message ?? 'the dataset did not validate';
    } else if (r.dataset_id) [status, error] = ['error', 'the dataset was deleted through /v1'];
    else if (r.upload_expires_at.getTime() < Date.now()) [status, error] = ['error', 'the upload URL expired before upload-complete'];
    const videos = (ds?.stats as { videos?: unknown } | null | undefined)?.videos;
    return {
      id: r.id,
      name: r.name,
      description: r.description,
      s3_path: objectPath(this.s.store, r.s3_key),
      status,
      created_at: r.created_at.toISOString(),
      file_count: Array.isArray(videos) ? videos.length : (ds?.file_count ?? 0),
      total_size_bytes: ds?.total_bytes ?? 0,
      error,
    };
  }

  /**
   * The canonical dataset (409 while a job still uses it), its file, anything else stored under
   * datasets/{id}/, then the record: a 404 afterwards.
   */
  async delete(ownerId: string, id: string): Promise<void> {
    const row = await q.datasetById(this.s.db, ownerId, id);
    if (!row) throw datasetNotFound(id);
    if (row.dataset_id) {
      await this.s.datasets.delete(ownerId, row.dataset_id).catch((err: unknown) => {
        if (!(err instanceof NotFoundError)) throw err;
      });
    }
    if (row.file_id) {
      await this.s.files.delete(ownerId, row.file_id).catch((err: unknown) => {
        if (!(err instanceof NotFoundError)) throw err;
      });
    }
    for await (const o of this.s.store.list(`datasets/${row.id}/`)) await this.s.store.delete(o.key);
    await q.deleteDataset(this.s.db, ownerId, id);
  }
}
