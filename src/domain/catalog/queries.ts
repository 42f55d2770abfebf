import type { Queryable } from '../../db/db.js';
import type { BaseModel } from './types.js';

interface BaseModelRow {
  id: string;
  name: string;
  description: string;
  architecture: string;
  trainers: string[];
  source: string;
  version: string | null;
  supported_lora_params: BaseModel['supported_lora_params'] | null;
  model_type: BaseModel['model_type'];
  base_architecture: BaseModel['base_architecture'];
}

const toModel = (r: BaseModelRow): BaseModel => ({
  id: r.id,
  name: r.name,
  description: r.description,
  architecture: r.architecture,
  trainers: r.trainers,
  source: r.source,
  ...(r.version ? { version: r.version } : {}),
  ...(r.supported_lora_params ? { supported_lora_params: r.supported_lora_params } : {}),
  model_type: r.model_type ?? null,
  base_architecture: r.base_architecture ?? null,
  registered: true,
});

export async function listBaseModels(db: Queryable): Promise<BaseModel[]> {
  const { rows } = await db.query<BaseModelRow>('select * from base_models order by id');
  return rows.map(toModel);
}

/** Null when the id is taken. */
export async function insertBaseModel(db: Queryable, m: BaseModel, createdBy: string): Promise<BaseModel | null> {
  const { rows } = await db.query<BaseModelRow>(
    `insert into base_models (id, name, description, architecture, trainers, source, version, supported_lora_params, model_type, base_architecture, created_by)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) on conflict (id) do nothing returning *`,
    [
      m.id,
      m.name,
      m.description,
      m.architecture,
      m.trainers,
      m.source,
      m.version ?? null,
      m.supported_lora_params ? JSON.stringify(m.supported_lora_params) : null,
      m.model_type ?? null,
      m.base_architecture ?? null,
      createdBy,
    ],
  );
  return rows[0] ? toModel(rows[0]) : null;
}

export async function deleteBaseModel(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('delete from base_models where id = $1', [id]);
  return (rowCount ?? 0) > 0;
}
