import type { Queryable } from '../../db/db.js';

export interface ModelRow {
  id: string;
  owner_id: string;
  name: string;
  visibility: 'private' | 'public';
  description: string | null;
  tags: string[];
  trigger_word: string | null;
  trainer: string;
  primary_metric: string | null;
  metric_goal: 'maximize' | 'minimize' | null;
  popularity: number;
  created_at: Date;
  updated_at: Date;
}

export interface VersionRow {
  id: string;
  model_id: string;
  version: number;
  job_id: string | null;
  dataset_id: string | null;
  base_model: string | null;
  hyperparameters: Record<string, unknown>;
  metrics: Record<string, number>;
  parent_version_id: string | null;
  /** The tracker runs this version was logged as ({mlflow: {run_id, …}}); set after the job ends. */
  integrations: Record<string, unknown>;
  created_at: Date;
}

export interface ArtifactRow {
  version_id: string;
  name: string;
  format: string;
  storage_key: string;
  bytes: number;
  sha256: string;
}

export async function modelByName(db: Queryable, ownerId: string, name: string, lock = false): Promise<ModelRow | null> {
  const { rows } = await db.query<ModelRow>(`select * from models where owner_id = $1 and name = $2${lock ? ' for update' : ''}`, [ownerId, name]);
  return rows[0] ?? null;
}

/** A public model of another owner, addressed as `owner/name`. */
export async function publicModel(db: Queryable, username: string, name: string): Promise<ModelRow | null> {
  const { rows } = await db.query<ModelRow>(
    `select m.* from models m join users u on u.id = m.owner_id where lower(u.username) = lower($1) and m.name = $2 and m.visibility = 'public'`,
    [username, name],
  );
  return rows[0] ?? null;
}

export async function insertModelIfAbsent(
  db: Queryable,
  m: Pick<ModelRow, 'id' | 'owner_id' | 'name' | 'description' | 'trigger_word' | 'trainer' | 'primary_metric' | 'metric_goal'>,
): Promise<void> {
  await db.query(
    `insert into models (id, owner_id, name, description, trigger_word, trainer, primary_metric, metric_goal)
     values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (owner_id, name) do nothing`,
    [m.id, m.owner_id, m.name, m.description, m.trigger_word, m.trainer, m.primary_metric, m.metric_goal],
  );
}

export async function nextVersionNumber(db: Queryable, modelId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('select coalesce(max(version), 0)::int + 1 as n from model_versions where model_id = $1', [modelId]);
  return rows[0]!.n;
}

export async function insertVersion(db: Queryable, v: Omit<VersionRow, 'created_at' | 'integrations'>): Promise<VersionRow> {
  const { rows } = await db.query<VersionRow>(
    `insert into model_versions (id, model_id, version, job_id, dataset_id, base_model, hyperparameters, metrics, parent_version_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning *`,
    [v.id, v.model_id, v.version, v.job_id, v.dataset_id, v.base_model, JSON.stringify(v.hyperparameters), JSON.stringify(v.metrics), v.parent_version_id],
  );
  return rows[0]!;
}

export async function insertArtifact(db: Queryable, a: ArtifactRow): Promise<void> {
  await db.query('insert into model_artifacts (version_id, name, format, storage_key, bytes, sha256) values ($1, $2, $3, $4, $5, $6)', [
    a.version_id,
    a.name,
    a.format,
    a.storage_key,
    a.bytes,
    a.sha256,
  ]);
}

/** Records one tracker's run on a version (`name`: mlflow), beside any other's. */
export async function setVersionIntegration(db: Queryable, versionId: string, name: string, value: Record<string, unknown>): Promise<void> {
  await db.query('update model_versions set integrations = integrations || jsonb_build_object($2::text, $3::jsonb) where id = $1', [
    versionId,
    name,
    JSON.stringify(value),
  ]);
}

export async function versions(db: Queryable, modelId: string): Promise<VersionRow[]> {
  const { rows } = await db.query<VersionRow>('select * from model_versions where model_id = $1 order by version desc', [modelId]);
  return rows;
}

export async function version(db: Queryable, modelId: string, number: number): Promise<VersionRow | null> {
  const { rows } = await db.query<VersionRow>('select * from model_versions where model_id = $1 and version = $2', [modelId, number]);
  return rows[0] ?? null;
}

export async function versionById(db: Queryable, id: string): Promise<VersionRow | null> {
  const { rows } = await db.query<VersionRow>('select * from model_versions where id = $1', [id]);
  return rows[0] ?? null;
}

export async function artifacts(db: Queryable, versionIds: string[]): Promise<ArtifactRow[]> {
  const { rows } = await db.query<ArtifactRow>('select * from model_artifacts where version_id = any($1::text[]) order by name', [versionIds]);
  return rows;
}

export async function aliases(db: Queryable, modelId: string): Promise<Array<{ alias: string; version_id: string; version: number; updated_at: Date }>> {
  const { rows } = await db.query<{ alias: string; version_id: string; version: number; updated_at: Date }>(
    `select a.alias, a.version_id, v.version, a.updated_at from model_aliases a join model_versions v on v.id = a.version_id
      where a.model_id = $1 order by a.alias`,
    [modelId],
  );
  return rows;
}

/** Points an alias at a version and records the move; a no-op move records nothing. */
export async function setAlias(db: Queryable, modelId: string, alias: string, versionId: string, changedBy: string | null): Promise<void> {
  const { rows } = await db.query<{ version_id: string }>('select version_id from model_aliases where model_id = $1 and alias = $2 for update', [
    modelId,
    alias,
  ]);
  const previous = rows[0]?.version_id ?? null;
  if (previous === versionId) return;
  await db.query(
    `insert into model_aliases (model_id, alias, version_id) values ($1, $2, $3)
     on conflict (model_id, alias) do update set version_id = excluded.version_id, updated_at = now()`,
    [modelId, alias, versionId],
  );
  await db.query('insert into model_alias_history (model_id, alias, version_id, previous_version_id, changed_by) values ($1, $2, $3, $4, $5)', [
    modelId,
    alias,
    versionId,
    previous,
    changedBy,
  ]);
}

export async function aliasHistory(db: Queryable, modelId: string, limit: number) {
  const { rows } = await db.query<{ alias: string; version_id: string; previous_version_id: string | null; changed_by: string | null; changed_at: Date }>(
    'select alias, version_id, previous_version_id, changed_by, changed_at from model_alias_history where model_id = $1 order by id desc limit $2',
    [modelId, limit],
  );
  return rows;
}

export async function listModels(
  db: Queryable,
  f: { ownerId: string | null; publicOnly: boolean; sort: 'newest' | 'popular'; limit: number; offset: number },
): Promise<Array<ModelRow & { owner_username: string }>> {
  const order = f.sort === 'popular' ? 'm.popularity desc, m.created_at desc, m.id desc' : 'm.created_at desc, m.id desc';
  const { rows } = await db.query<ModelRow & { owner_username: string }>(
    `select m.*, u.username as owner_username from models m join users u on u.id = m.owner_id
      where ($1::text is null or m.owner_id = $1) and (not $2 or m.visibility = 'public')
      order by ${order} limit $3 offset $4`,
    [f.ownerId, f.publicOnly, f.limit + 1, f.offset],
  );
  return rows;
}

export async function updateModel(
  db: Queryable,
  id: string,
  p: { visibility?: string; description?: string | null; tags?: string[]; trigger_word?: string | null },
): Promise<ModelRow> {
  const { rows } = await db.query<ModelRow>(
    `update models set
       visibility = coalesce($2, visibility),
       description = case when $3 then $4 else description end,
       tags = coalesce($5, tags),
       trigger_word = case when $6 then $7 else trigger_word end,
       updated_at = now()
     where id = $1 returning *`,
    [id, p.visibility ?? null, 'description' in p, p.description ?? null, p.tags ?? null, 'trigger_word' in p, p.trigger_word ?? null],
  );
  return rows[0]!;
}

/** The metric `best` is chosen by (the caller re-chooses `best` in the same transaction). */
export async function setPrimaryMetric(db: Queryable, id: string, metric: string, goal: 'maximize' | 'minimize'): Promise<ModelRow> {
  const { rows } = await db.query<ModelRow>('update models set primary_metric = $2, metric_goal = $3, updated_at = now() where id = $1 returning *', [
    id,
    metric,
    goal,
  ]);
  return rows[0]!;
}

export async function bumpPopularity(db: Queryable, modelId: string, by = 1): Promise<void> {
  await db.query('update models set popularity = popularity + $2 where id = $1', [modelId, by]);
}
