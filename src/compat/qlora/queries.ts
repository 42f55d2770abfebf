import type { Queryable } from '../../db/db.js';

// Every look-up takes the owner: another user's dataset or job is a 404, never its data.

/** How many records one listing returns at most (the document's lists have no paging). */
export const LIST_MAX = 500;

export interface DatasetRow {
  id: string;
  owner_id: string;
  name: string;
  description: string;
  s3_key: string;
  file_id: string | null;
  dataset_id: string | null;
  failure: string | null;
  upload_expires_at: Date;
  created_at: Date;
}

export async function insertDataset(db: Queryable, r: Omit<DatasetRow, 'dataset_id' | 'failure' | 'created_at'>): Promise<void> {
  await db.query(
    `insert into compat_qlora_datasets (id, owner_id, name, description, s3_key, file_id, upload_expires_at) values ($1, $2, $3, $4, $5, $6, $7)`,
    [r.id, r.owner_id, r.name, r.description, r.s3_key, r.file_id, r.upload_expires_at],
  );
}

export async function datasetById(db: Queryable, ownerId: string, id: string): Promise<DatasetRow | null> {
  const { rows } = await db.query<DatasetRow>('select * from compat_qlora_datasets where id = $1 and owner_id = $2', [id, ownerId]);
  return rows[0] ?? null;
}

/** The record behind a canonical dataset (a training names the document's id). */
export async function datasetByCanonical(db: Queryable, ownerId: string, datasetId: string): Promise<DatasetRow | null> {
  const { rows } = await db.query<DatasetRow>('select * from compat_qlora_datasets where dataset_id = $1 and owner_id = $2', [datasetId, ownerId]);
  return rows[0] ?? null;
}

export async function listDatasets(db: Queryable, ownerId: string): Promise<DatasetRow[]> {
  const { rows } = await db.query<DatasetRow>('select * from compat_qlora_datasets where owner_id = $1 order by created_at desc, id desc limit $2', [
    ownerId,
    LIST_MAX,
  ]);
  return rows;
}

/** Links the canonical dataset; false when the record is gone (deleted meanwhile) or already linked. */
export async function attachDataset(db: Queryable, ownerId: string, id: string, datasetId: string): Promise<boolean> {
  const { rowCount } = await db.query('update compat_qlora_datasets set dataset_id = $3 where id = $1 and owner_id = $2 and dataset_id is null', [
    id,
    ownerId,
    datasetId,
  ]);
  return rowCount === 1;
}

export async function recordFailure(db: Queryable, ownerId: string, id: string, failure: string): Promise<void> {
  await db.query('update compat_qlora_datasets set failure = $3 where id = $1 and owner_id = $2', [id, ownerId, failure.slice(0, 2000)]);
}

export async function deleteDataset(db: Queryable, ownerId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('delete from compat_qlora_datasets where id = $1 and owner_id = $2', [id, ownerId]);
  return rowCount === 1;
}

export interface TrainingRow {
  job_id: string;
  owner_id: string;
  model_id: string;
  dataset_id: string;
  stop_requested_at: Date | null;
  created_at: Date;
}

export async function insertTraining(db: Queryable, r: Pick<TrainingRow, 'job_id' | 'owner_id' | 'model_id' | 'dataset_id'>): Promise<void> {
  await db.query('insert into compat_qlora_trainings (job_id, owner_id, model_id, dataset_id) values ($1, $2, $3, $4)', [
    r.job_id,
    r.owner_id,
    r.model_id,
    r.dataset_id,
  ]);
}

export async function trainingById(db: Queryable, ownerId: string, jobId: string): Promise<TrainingRow | null> {
  const { rows } = await db.query<TrainingRow>('select * from compat_qlora_trainings where job_id = $1 and owner_id = $2', [jobId, ownerId]);
  return rows[0] ?? null;
}

export async function listTrainings(db: Queryable, ownerId: string): Promise<TrainingRow[]> {
  const { rows } = await db.query<TrainingRow>('select * from compat_qlora_trainings where owner_id = $1 order by created_at desc, job_id desc limit $2', [
    ownerId,
    LIST_MAX,
  ]);
  return rows;
}

/** The first stop request wins (true); a second, even a concurrent one, finds it taken. */
export async function claimStop(db: Queryable, ownerId: string, jobId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'update compat_qlora_trainings set stop_requested_at = now() where job_id = $1 and owner_id = $2 and stop_requested_at is null',
    [jobId, ownerId],
  );
  return rowCount === 1;
}

/** Undoes claimStop when the cancel it guarded failed. */
export async function releaseStop(db: Queryable, ownerId: string, jobId: string): Promise<void> {
  await db.query('update compat_qlora_trainings set stop_requested_at = null where job_id = $1 and owner_id = $2', [jobId, ownerId]);
}
