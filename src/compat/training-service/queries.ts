import type { Queryable } from '../../db/db.js';

/** The facade's only table: which dataset a file's content already became (migration 0008). */
export async function datasetFor(db: Queryable, ownerId: string, sha256: string): Promise<string | null> {
  const { rows } = await db.query<{ dataset_id: string }>('select dataset_id from compat_training_service_datasets where owner_id = $1 and sha256 = $2', [
    ownerId,
    sha256,
  ]);
  return rows[0]?.dataset_id ?? null;
}

/** The first dataset recorded for a content wins; a concurrent second one stays an ordinary dataset. */
export async function rememberDataset(db: Queryable, ownerId: string, sha256: string, datasetId: string, sourcePath: string): Promise<void> {
  await db.query(
    `insert into compat_training_service_datasets (owner_id, sha256, dataset_id, source_path) values ($1, $2, $3, $4)
     on conflict (owner_id, sha256) do nothing`,
    [ownerId, sha256, datasetId, sourcePath],
  );
}

export async function forgetDataset(db: Queryable, ownerId: string, sha256: string): Promise<void> {
  await db.query('delete from compat_training_service_datasets where owner_id = $1 and sha256 = $2', [ownerId, sha256]);
}
