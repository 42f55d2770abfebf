import { AppError } from '../../errors.js';
import type { Services } from '../../services.js';
import type { ModelDetailShape, ModelType } from './schemas.js';

/** The video trainers, by the task a base model is for. */
export const TRAINER_FOR: Record<ModelType, string> = {
  video_classification: 'video-lora-classifier',
  video_captioning: 'video-lora-captioner',
};
export const VIDEO_TRAINERS = Object.values(TRAINER_FOR);

export const modelNotFound = (id: string) => new AppError('MODEL_NOT_FOUND', `Model ${id} not found`, { status: 404 });

type CatalogModel = ReturnType<Services['catalog']['listBaseModels']>[number];

/**
 * A base model's task: its catalog `model_type`, else the one video trainer it lists (entries
 * written before the field existed). Null when it is no video model or the two disagree.
 */
function modelType(m: CatalogModel): ModelType | null {
  const declared = (m as { model_type?: unknown }).model_type;
  if (declared === 'video_classification' || declared === 'video_captioning') return m.trainers.includes(TRAINER_FOR[declared]) ? declared : null;
  if (declared !== undefined && declared !== null) return null;
  const types = (Object.keys(TRAINER_FOR) as ModelType[]).filter((t) => m.trainers.includes(TRAINER_FOR[t]));
  return types.length === 1 ? types[0]! : null;
}

/** rank bounds and alpha from the catalog entry, else from the trainer's hyperparameter schema. */
function loraParams(s: Services, m: CatalogModel, trainer: string): ModelDetailShape['supported_lora_params'] {
  if (m.supported_lora_params) return m.supported_lora_params;
  const t = s.catalog.listTrainers().find((x) => x.id === trainer);
  const props = (t?.hyperparameters.properties ?? {}) as Record<string, { minimum?: number; maximum?: number; default?: number }>;
  const rank = props.lora_rank;
  const alpha = props.lora_alpha;
  if (rank?.minimum === undefined || rank.maximum === undefined || alpha?.default === undefined) return null;
  return { min_rank: rank.minimum, max_rank: rank.maximum, default_alpha: alpha.default };
}

export interface AllowedModel extends ModelDetailShape {
  trainer: string;
}

/**
 * The catalog's base models for the video trainers whose files this deployment has (in the
 * store or on disk): what the document calls allowed models. A built-in entry without its
 * files (idefics-9b before an operator provides it) could only fail a training, so it is not
 * offered; /v1/base-models still lists it, with available: false.
 */
export function allowedModels(s: Services): AllowedModel[] {
  const out: AllowedModel[] = [];
  for (const m of s.catalog.listBaseModels()) {
    const type = modelType(m);
    if (!type || !m.available) continue;
    const trainer = TRAINER_FOR[type];
    const arch = (m as { base_architecture?: unknown }).base_architecture;
    out.push({
      id: m.id,
      name: m.name,
      description: m.description,
      model_type: type,
      base_architecture: typeof arch === 'string' ? arch : null,
      version: m.version ?? null,
      supported_lora_params: loraParams(s, m, trainer),
      trainer,
    });
  }
  return out;
}

export function allowedModel(s: Services, id: string): AllowedModel {
  const m = allowedModels(s).find((x) => x.id === id);
  if (!m) throw modelNotFound(id);
  return m;
}

export const summary = ({ supported_lora_params: _p, trainer: _t, ...m }: AllowedModel) => m;
export const detail = ({ trainer: _t, ...m }: AllowedModel) => m;
