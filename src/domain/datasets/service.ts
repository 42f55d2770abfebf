import type { Db, Queryable } from '../../db/db.js';
import { ConflictError, isForeignKeyViolation, isUniqueViolation, NotFoundError, ValidationError } from '../../errors.js';
import { decodeCursor, newId, toPage } from '../../ids.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { FilesService } from '../files/service.js';
import * as q from './queries.js';
import type { CreateDatasetInput, DatasetsFilterInput } from './schema.js';
import { DATASET_KINDS, type DatasetKind, type DatasetOptions, type ValidationLimits } from './validate/types.js';
import { validateDataset } from './validate/index.js';
import { VIDEO_TYPES } from '../files/sniff.js';

export interface PublicDataset {
  id: string;
  name: string;
  kind: string;
  description: string | null;
  options: Record<string, unknown>;
  status: string;
  stats: Record<string, unknown> | null;
  errors: unknown[];
  error_count: number;
  file_count: number;
  total_bytes: number;
  file_ids?: string[];
  created_at: string;
  updated_at: string;
}

/** Later modules (jobs) answer "is this dataset in use?"; deleting one in use is a 409. */
export type InUseCheck = (db: Queryable, datasetId: string) => Promise<string | null>;

export interface DatasetsDeps {
  db: Db;
  store: BlobStore;
  files: Pick<FilesService, 'readyFiles'>;
  maxFiles: number;
  limits: ValidationLimits;
  inUseChecks?: InUseCheck[];
  onError?: (msg: string, err: unknown) => void;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}$/;

// Which sniffed types each kind can hold: refused at creation so the mistake shows at once.
const KIND_TYPES: Record<DatasetKind, string[]> = {
  'image-set': ['image/jpeg', 'image/png', 'image/webp'],
  'tabular-csv': ['text/csv', 'text/plain'],
  'text-classification-jsonl': ['application/x-ndjson', 'text/plain'],
  'chat-jsonl': ['application/x-ndjson', 'text/plain'],
  archive: ['application/zip'],
  // One zip, or videos plus a manifest (CSV or JSON Lines, which may sniff as any of these).
  'video-set': ['application/zip', ...VIDEO_TYPES, 'text/csv', 'text/plain', 'application/x-ndjson', 'application/json'],
};
const KIND_OPTIONS: Record<DatasetKind, (keyof DatasetOptions)[]> = {
  'image-set': [],
  'tabular-csv': ['label_column', 'instance_column', 'order_column'],
  'text-classification-jsonl': ['text_field', 'label_field'],
  'chat-jsonl': [],
  archive: [],
  'video-set': [],
};

export function publicDataset(d: q.DatasetRow, fileIds?: string[]): PublicDataset {
  return {
    id: d.id,
    name: d.name,
    kind: d.kind,
    description: d.description,
    options: d.options,
    status: d.status,
    stats: d.stats,
    errors: d.errors,
    error_count: d.error_count,
    file_count: d.file_count,
    total_bytes: d.total_bytes,
    ...(fileIds ? { file_ids: fileIds } : {}),
    created_at: d.created_at.toISOString(),
    updated_at: d.updated_at.toISOString(),
  };
}

/**
 * Validation runs in the background of the process that created the dataset, one at a
 * time (it is I/O- and parse-bound; two at once would only fight over 2 cores). Datasets
 * left `processing` by a crash are picked up again at start-up: validation is idempotent.
 */
export class DatasetsService {
  private readonly queue: string[] = [];
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly deps: DatasetsDeps) {}

  /**
   * `inline` validates in the caller instead of the background queue and returns the dataset
   * ready or in error: for a caller that must know at once whether the data is usable (a
   * facade that turns a request body into a dataset and then a job, src/compat/neurolab).
   */
  async create(ownerId: string, input: CreateDatasetInput, opts: { inline?: boolean } = {}): Promise<PublicDataset> {
    const name = input.name.trim();
    if (!NAME.test(name)) throw new ValidationError('INVALID_NAME', 'name: 1-100 letters, digits, spaces, "_", "." or "-", starting with a letter or digit');
    if (!(DATASET_KINDS as readonly string[]).includes(input.kind))
      throw new ValidationError('INVALID_KIND', `kind must be one of ${DATASET_KINDS.join(', ')}`);
    const kind = input.kind as DatasetKind;
    const options = input.options ?? {};
    const bad = Object.keys(options).filter((k) => !KIND_OPTIONS[kind].includes(k as keyof DatasetOptions));
    if (bad.length)
      throw new ValidationError('INVALID_OPTION', `option(s) ${bad.join(', ')} do not apply to ${kind}`, { options: bad, allowed: KIND_OPTIONS[kind] });
    const ids = [...new Set(input.file_ids)];
    if (ids.length === 0) throw new ValidationError('NO_FILES', 'file_ids must name at least one file');
    if (ids.length > this.deps.maxFiles) throw new ValidationError('TOO_MANY_FILES', `a dataset holds at most ${this.deps.maxFiles} files`);

    const files = await this.deps.files.readyFiles(ownerId, ids);
    const found = new Set(files.map((f) => f.id));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length) throw new ValidationError('FILE_NOT_FOUND', `unknown file id(s): ${missing.slice(0, 10).join(', ')}`, { file_ids: missing });
    const wrong = files.filter((f) => !KIND_TYPES[kind].includes(f.content_type ?? ''));
    if (wrong.length) {
      throw new ValidationError('FILE_KIND_MISMATCH', `${wrong.length} file(s) cannot be part of a ${kind} dataset`, {
        files: wrong.slice(0, 20).map((f) => ({ file_id: f.id, filename: f.filename, content_type: f.content_type })),
        accepted: KIND_TYPES[kind],
      });
    }
    const total = files.reduce((s, f) => s + (f.bytes ?? 0), 0);
    let row: q.DatasetRow;
    try {
      row = await this.deps.db.transaction(async (tx) => {
        const d = await q.insertDataset(tx, {
          id: newId('ds'),
          owner_id: ownerId,
          name,
          kind,
          description: input.description ?? null,
          options: { ...options },
          file_count: ids.length,
          total_bytes: total,
        });
        await q.insertDatasetFiles(tx, d.id, ids);
        return d;
      });
    } catch (err) {
      if (isUniqueViolation(err, 'datasets_owner_name_key')) throw new ConflictError('DATASET_NAME_EXISTS', `you already have a dataset named "${name}"`);
      if (isForeignKeyViolation(err)) throw new ValidationError('FILE_NOT_FOUND', 'a file was deleted while the dataset was being created');
      throw err;
    }
    if (opts.inline) {
      await this.validateOrRecord(row.id);
      return this.get(ownerId, row.id);
    }
    this.enqueue(row.id);
    return publicDataset(row, ids);
  }

  async get(ownerId: string, id: string): Promise<PublicDataset> {
    const row = await q.datasetById(this.deps.db, ownerId, id);
    if (!row) throw new NotFoundError('dataset', id);
    return publicDataset(
      row,
      (await q.datasetFiles(this.deps.db, id)).map((f) => f.id),
    );
  }

  async list(ownerId: string, limit: number, cursor?: string, filter: DatasetsFilterInput = {}) {
    return toPage(await q.listDatasets(this.deps.db, ownerId, limit, decodeCursor(cursor), filter), limit, (r) => publicDataset(r));
  }

  /**
   * Deletes a dataset no open job uses. The look for open jobs and the delete happen under the
   * dataset's row lock, in one transaction: checked and deleted apart, a job created in between
   * lost its dataset (ON DELETE SET NULL) and failed at staging after its credits were held.
   */
  async delete(ownerId: string, id: string): Promise<void> {
    await this.deps.db.transaction(async (tx) => {
      if (!(await q.lockDataset(tx, ownerId, id))) throw new NotFoundError('dataset', id);
      for (const check of this.deps.inUseChecks ?? []) {
        const reason = await check(tx, id);
        if (reason) throw new ConflictError('DATASET_IN_USE', `dataset is in use: ${reason}`);
      }
      await q.deleteDataset(tx, ownerId, id);
    });
  }

  /** Resume validations a previous process did not finish. */
  async resume(): Promise<void> {
    for (const id of await q.processingDatasetIds(this.deps.db)) this.enqueue(id);
  }

  enqueue(id: string): void {
    if (this.stopped) return;
    this.queue.push(id);
    this.running ??= this.drainQueue().finally(() => (this.running = null));
  }

  /** Waits for the queue to empty (tests, and shutdown after stop()). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    await this.idle();
  }

  private async drainQueue(): Promise<void> {
    for (let id = this.queue.shift(); id !== undefined; id = this.queue.shift()) await this.validateOrRecord(id);
  }

  /** Validates; a crash ends the dataset in error (logged) rather than leaving it processing. */
  private async validateOrRecord(id: string): Promise<void> {
    try {
      await this.validate(id);
    } catch (err) {
      this.deps.onError?.(`dataset ${id}: validation crashed`, err);
      await q
        .finishValidation(this.deps.db, id, {
          status: 'error',
          stats: null,
          errors: [{ message: 'internal error while validating; see server logs' }],
          error_count: 1,
        })
        .catch(() => {});
    }
  }

  private async validate(id: string): Promise<void> {
    const ds = await q.datasetForValidation(this.deps.db, id);
    if (!ds) return;
    const files = (await q.datasetFiles(this.deps.db, id)).map((f) => ({
      id: f.id,
      filename: f.filename,
      bytes: f.bytes,
      contentType: f.content_type,
      open: () => this.deps.store.get(f.storage_key),
    }));
    const result = await validateDataset(ds.kind as DatasetKind, files, ds.options as DatasetOptions, this.deps.limits);
    await q.finishValidation(this.deps.db, id, {
      status: result.errorCount === 0 ? 'ready' : 'error',
      stats: result.stats,
      errors: result.errors,
      error_count: result.errorCount,
    });
  }
}
