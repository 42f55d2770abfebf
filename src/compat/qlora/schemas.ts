/**
 * The QLoRA orchestration service's shapes (seed 004), declared once: the routes validate and
 * document /openapi.json with them, and the facade's code takes its types from them.
 */
import { BoundedInt, DateTime, Nullable, StringEnum, Type, type Static } from '../../domain/schema-kit.js';

/**
 * The document's error body (section 8): FastAPI's `{"detail": "..."}`, with Trainyard's
 * stable `code` beside it.
 */
export const QloraError = {
  $id: 'QloraError',
  type: 'object',
  required: ['detail', 'code'],
  properties: { detail: { type: 'string' }, code: { type: 'string' } },
} as const;
export const errorRef = 'QloraError#';
export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, { $ref: errorRef }]));

// --- auth -----------------------------------------------------------------------------------

export const LoginBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 320 }), password: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
export const LoginAnswer = Type.Object({
  access_token: Type.String(),
  token_type: StringEnum(['bearer']),
  expires_in: Type.Integer({ description: 'Seconds the token is valid (a Trainyard addition)' }),
});
export const SignupBody = Type.Object(
  { username: Type.String({ maxLength: 64 }), email: Type.String({ maxLength: 320 }), password: Type.String({ maxLength: 256 }) },
  { additionalProperties: false },
);
export const Message = Type.Object({ message: Type.String() });

// --- datasets -------------------------------------------------------------------------------

export const DATASET_STATUSES = ['processing', 'ready', 'error'] as const;
export type DatasetStatus = (typeof DATASET_STATUSES)[number];

export const InitiateBody = Type.Object(
  {
    file_name: Type.String({
      minLength: 1,
      maxLength: 200,
      description:
        'The object’s name in datasets/{dataset_id}/; characters other than letters, digits, ".", "_" and "-" become "_" (the answer’s s3_key is the key to PUT and to complete with)',
    }),
    file_type: Type.String({ minLength: 1, maxLength: 200, description: 'The MIME type the client reports (informational: the type is read from the bytes)' }),
    dataset_name: Type.String({ minLength: 1, maxLength: 200 }),
    dataset_description: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);
export type InitiateInput = Static<typeof InitiateBody>;

export const Initiated = Type.Object({
  upload_url: Type.String({ description: 'A pre-signed PUT URL from the store (S3’s own when S3 is the store); PUT the file’s bytes to it' }),
  dataset_id: Type.String(),
  s3_key: Type.String({ description: 'datasets/{dataset_id}/{file_name}' }),
  expires_at: DateTime({ description: 'When upload_url stops accepting bytes (a Trainyard addition)' }),
  max_bytes: Type.Integer({ description: 'The largest file accepted (checked at upload-complete; a Trainyard addition)' }),
});

export const CompleteBody = Type.Object(
  { dataset_id: Type.String({ minLength: 1, maxLength: 100 }), s3_key: Type.String({ minLength: 1, maxLength: 600 }) },
  { additionalProperties: false },
);
export type CompleteInput = Static<typeof CompleteBody>;
export const Completed = Type.Object({ message: Type.String(), dataset_id: Type.String() });

const datasetFields = {
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  s3_path: Type.String({ description: 'Where the uploaded object lives, as the store names it: s3://bucket/datasets/{dataset_id}/{file_name} on S3' }),
  status: StringEnum(DATASET_STATUSES),
  created_at: DateTime(),
};
export const DatasetSummary = Type.Object(datasetFields);
export const DatasetDetail = Type.Object({
  ...datasetFields,
  file_count: Type.Integer({ description: 'Videos found by validation; until then the objects stored (0 before upload-complete)' }),
  total_size_bytes: Type.Integer({ description: 'Bytes stored (0 before upload-complete)' }),
  error: Nullable(Type.String({ description: 'Why the status is error (a Trainyard addition); null otherwise' })),
});
export type DatasetDetailShape = Static<typeof DatasetDetail>;

export const DatasetParams = Type.Object({ dataset_id: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });

// --- models ---------------------------------------------------------------------------------

export const MODEL_TYPES = ['video_classification', 'video_captioning'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

export const LoraParams = Type.Object({ min_rank: Type.Integer(), max_rank: Type.Integer(), default_alpha: Type.Integer() });
const modelFields = {
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  model_type: StringEnum(MODEL_TYPES),
  base_architecture: Nullable(Type.String({ description: 'flamingo, video_llama or videomae; null when the catalog names none' })),
  version: Nullable(Type.String({ description: 'null when the catalog entry names no version' })),
};
export const ModelSummary = Type.Object(modelFields);
export const ModelDetail = Type.Object({
  ...modelFields,
  supported_lora_params: Nullable(LoraParams),
});
export type ModelDetailShape = Static<typeof ModelDetail>;
export const ModelParams = Type.Object({ model_id: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });

// --- trainings ------------------------------------------------------------------------------

/**
 * The document's training_params, each the trainer's hyperparameter of the same name (its
 * catalog schema checks the ranges); quantization, num_frames, frame_size and seed are the
 * video trainers' own, accepted as additions.
 */
export const TrainingParams = Type.Object(
  {
    epochs: Type.Optional(BoundedInt({ minimum: 1 })),
    learning_rate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10 })),
    batch_size: Type.Optional(BoundedInt({ minimum: 1 })),
    lora_rank: Type.Optional(BoundedInt({ minimum: 1, description: 'Within the model’s supported_lora_params' })),
    lora_alpha: Type.Optional(BoundedInt({ minimum: 1, description: 'Default: the model’s default_alpha' })),
    lora_dropout: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    target_modules: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: 50 })),
    quantization: Type.Optional(StringEnum(['none', '4bit'], { description: '4bit: QLoRA (CUDA; the trainer falls back to LoRA on a CPU and logs it)' })),
    num_frames: Type.Optional(BoundedInt({ minimum: 1 })),
    frame_size: Type.Optional(BoundedInt({ minimum: 1 })),
    seed: Type.Optional(BoundedInt()),
  },
  { additionalProperties: false },
);
export type TrainingParamsInput = Static<typeof TrainingParams>;

export const StartBody = Type.Object(
  {
    model_id: Type.String({ minLength: 1, maxLength: 100 }),
    dataset_id: Type.String({ minLength: 1, maxLength: 100 }),
    training_params: Type.Optional(TrainingParams),
    output_name: Type.String({ minLength: 1, maxLength: 100, description: 'The trained model’s name in Trainyard’s registry (one new version per job)' }),
  },
  { additionalProperties: false },
);
export type StartInput = Static<typeof StartBody>;
export const Started = Type.Object({ job_id: Type.String(), status: StringEnum(['queued']), message: Type.String() });

export const TRAINING_STATUSES = ['queued', 'running', 'completed', 'failed'] as const;
export type TrainingStatus = (typeof TRAINING_STATUSES)[number];
const trainingFields = {
  job_id: Type.String(),
  model_id: Type.String(),
  dataset_id: Type.String(),
  status: StringEnum(TRAINING_STATUSES, { description: 'A stopped job is failed (its logs say it was stopped)' }),
  progress: Type.Number({ minimum: 0, maximum: 1 }),
  started_at: DateTime({ description: 'When the job was accepted' }),
  completed_at: Nullable(DateTime({ description: 'When the job ended (completed, failed or stopped)' })),
  output_path: Nullable(Type.String({ description: 'The adapter’s URI in the store (s3://… on S3), once completed' })),
};
export const TrainingSummary = Type.Object(trainingFields);
export const TrainingDetail = Type.Object({ ...trainingFields, logs: Type.String({ description: 'Recent log lines, one per line' }) });
export type TrainingDetailShape = Static<typeof TrainingDetail>;
export const JobParams = Type.Object({ job_id: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });
