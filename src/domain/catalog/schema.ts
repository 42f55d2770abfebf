/** Trainers and base models: the shapes the API accepts and returns. */
import { FreeObject, Nullable, Out, StringEnum, Type, type Static } from '../schema-kit.js';
import { BASE_ARCHITECTURES, BASE_MODEL_TYPES } from './types.js';

const ID = '^[a-z0-9][a-z0-9._-]{0,99}$';

/** One of the values, or null (null listed in the enum too, so validation accepts it). */
const nullableEnum = <const T extends readonly string[]>(values: T, description: string) =>
  Type.Unsafe<T[number] | null>({ type: ['string', 'null'], enum: [...values, null], description });

export const Trainer = Out({
  id: Type.String(),
  title: Type.String(),
  task: Type.String(),
  description: Type.String(),
  dataset: FreeObject(),
  hyperparameters: FreeObject(),
  primary_metric: FreeObject(),
  resources: FreeObject(),
  pricing: FreeObject(),
  base_models: StringEnum(['none', 'required', 'optional']),
  supports_warm_start: Type.Boolean(),
  supports_test_set: Type.Boolean({ description: 'Jobs may name a test_dataset_id: the trainer scores it once at the end (test_accuracy, test_macro_f1)' }),
  kind: StringEnum(['training', 'inference']),
  runtime: FreeObject(),
  default_base_model: Nullable(Type.String({ description: 'The base model a job gets when it names none' })),
  estimate: Nullable(
    Out(
      {
        param: Type.String({ description: 'The hyperparameter that counts the work (steps, epochs)' }),
        seconds_per_unit: Type.Number({ description: 'Seconds per unit of param before this deployment has measured any' }),
      },
      { description: 'The figure a job duration estimate falls back on (GET /v1/jobs/{id}: estimated_duration_seconds)' },
    ),
  ),
  available: Type.Boolean(),
  unavailable_reason: Nullable(Type.String()),
});

export const BaseModel = Out({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  architecture: Type.String(),
  trainers: Type.Array(Type.String()),
  source: Type.String(),
  local_path: Nullable(Type.String()),
  available: Type.Boolean({ description: 'Whether the model files are present: in the store for a URI source, else on this server' }),
  registered: Type.Boolean({ description: 'Registered at run time by an admin (POST /v1/admin/base-models), not built in' }),
  version: Type.String(),
  supported_lora_params: Out({ min_rank: Type.Integer(), max_rank: Type.Integer(), default_alpha: Type.Integer() }),
  model_type: nullableEnum(BASE_MODEL_TYPES, 'What a video model does; null for other models'),
  base_architecture: nullableEnum(
    BASE_ARCHITECTURES,
    'How a video model reads frames: flamingo (cross-attention), video_llama (projector), videomae (encoder); null for other models',
  ),
});

/** POST /v1/admin/base-models: a folder on the server (copied into the store) or one already in the store (uri). */
export const RegisterBaseModelBody = Type.Object(
  {
    id: Type.String({ pattern: ID }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    architecture: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,49}$', description: 'stable-diffusion, llama, bert, …' }),
    trainers: Type.Array(Type.String({ pattern: ID }), { minItems: 1, maxItems: 20, uniqueItems: true }),
    path: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 4096,
        description: 'A folder on the server (absolute, or relative to DATA_DIR) saved with save_pretrained; copied into the store under models/{id}/',
      }),
    ),
    uri: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 4096,
        description: 'Instead of path: a folder already in the configured store (s3://bucket/models/x/, or file:///… with the filesystem store)',
      }),
    ),
    version: Type.Optional(Type.String({ maxLength: 100 })),
    model_type: Type.Optional(StringEnum(BASE_MODEL_TYPES, { description: 'For video models: what the model does (the qlora facade lists models by it)' })),
    base_architecture: Type.Optional(StringEnum(BASE_ARCHITECTURES, { description: 'For video models: how the model reads frames' })),
    supported_lora_params: Type.Optional(
      Type.Object(
        { min_rank: Type.Integer({ minimum: 1 }), max_rank: Type.Integer({ minimum: 1 }), default_alpha: Type.Integer({ minimum: 1 }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type RegisterBaseModelInput = Static<typeof RegisterBaseModelBody>;

export const CatalogCounts = Out({ trainers: Type.Integer(), base_models: Type.Integer() });
