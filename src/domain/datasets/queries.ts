import type { Queryable } from '../../db/db.js';
import { cursorTime } from '../../ids.js';

export interface DatasetRow {
  id: string;
  owner_id: string;
  name: string;
  kind: string;
  description: string | null;
  options: Record<string, unknown>;
  status: 'processing' | 'ready' | 'error';
  stats: Record<string, unknown> | null;
  errors: unknown[];
  error_count: number;
  file_count: number;
  total_bytes: number;
  created_at: Date;
  updated_at: Date;
}

const COLS = 'id, owner_id, name, kind, description, options, status, stats, errors, error_count, file_count, total_bytes, created_at, updated_at';

export async function insertDataset(
  db: Queryable,
  d: Pick<DatasetRow, 'id' | 'owner_id' | 'name' | 'kind' | 'description' | 'options' | 'file_count' | 'total_bytes'>,
): Promise<DatasetRow> {
  const { rows } = await db.query<DatasetRow>(
    `insert into datasets (id, owner_id, name, kind, description, options, status, file_count, total_bytes)
     values ($1, $2, $3, $4, $5, $6, 'processing', $7, $8) returning ${COLS}`,
    [d.id, d.owner_id, d.name, d.kind, d.description, JSON.stringify(d.options), d.file_count, d.total_bytes],
  );
  return rows[0]!;
}

export async function insertDatasetFiles(db: Queryable, datasetId: string, fileIds: string[]): Promise<void> {
  await db.query(
    `insert into dataset_files (dataset_id, file_id, position)
     select $1, f.id, f.ord::int - 1 from unnest($2::text[]) with ordinality as f(id, ord)`,
    [datasetId, fileIds],
  );
}

export async function datasetById(db: Queryable, ownerId: string, id: string): Promise<DatasetRow | null> {
  const { rows } = await db.query<DatasetRow>(`select ${COLS} from datasets where id = $1 and owner_id = $2`, [id, ownerId]);
  return rows[0] ?? null;
}

/**
 * The owner's dataset, locked until the transaction ends: a job being created that names it waits
 * for a delete to commit (its foreign key check takes a KEY SHARE lock), and a delete waits for a
 * job that already named it, then sees that job when it looks for open ones.
 */
export async function lockDataset(db: Queryable, ownerId: string, id: string): Promise<DatasetRow | null> {
  const { rows } = await db.query<DatasetRow>(`select ${COLS} from datasets where id = $1 and owner_id = $2 for update`, [id, ownerId]);
  return rows[0] ?? null;
}

/** For the validation runner, which acts for the owner already checked at creation. */
export async function datasetForValidation(db: Queryable, id: string): Promise<DatasetRow | null> {
  const { rows } = await db.query<DatasetRow>(`select ${COLS} from datasets where id = $1 and status = 'processing'`, [id]);
  return rows[0] ?? null;
}

export async function datasetFiles(db: Queryable, datasetId: string) {
  const { rows } = await db.query<{ id: string; filename: string; bytes: number; sha256: string; content_type: string; storage_key: string }>(
    `select f.id, f.filename, f.bytes, f.sha256, f.content_type, f.storage_key
       from dataset_files df join files f on f.id = df.file_id
      where df.dataset_id = $1 order by df.position`,
    [datasetId],
  );
  return rows;
}

export async function finishValidation(
  db: Queryable,
  id: string,
  r: { status: 'ready' | 'error'; stats: unknown; errors: unknown[]; error_count: number },
): Promise<void> {
  await db.query(
    `update datasets set status = $2, stats = $3, errors = $4, error_count = $5, updated_at = now()
      where id = $1 and status = 'processing'`,
    [id, r.status, JSON.stringify(r.stats), JSON.stringify(r.errors), r.error_count],
  );
}

export async function processingDatasetIds(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(`select id from datasets where status = 'processing' order by created_at`);
  return rows.map((r) => r.id);
}

export async function listDatasets(
  db: Queryable,
  ownerId: string,
  limit: number,
  after: { t: string; id: string } | null,
  filter: { kind?: string; status?: string },
): Promise<DatasetRow[]> {
  const { rows } = await db.query<DatasetRow>(
    `select ${COLS}, ${cursorTime()} from datasets
      where owner_id = $1
        and ($3::timestamptz is null or (created_at, id) < ($3::timestamptz, $4::text))
        and ($5::text is null or kind = $5) and ($6::text is null or status = $6)
      order by created_at desc, id desc limit $2`,
    [ownerId, limit + 1, after?.t ?? null, after?.id ?? null, filter.kind ?? null, filter.status ?? null],
  );
  return rows;
}

export async function deleteDataset(db: Queryable, ownerId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('delete from datasets where id = $1 and owner_id = $2', [id, ownerId]);
  return rowCount > 0;
}
