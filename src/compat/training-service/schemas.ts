/** Seed 002's shapes, once: each route's schema (validation, /openapi.json) and the handlers' types. */
import type { TSchema } from '@sinclair/typebox';
import { Nullable, Out, StringEnum, Type, type Static } from '../../domain/schema-kit.js';
import { PYTHON_TRAINERS } from '../../trainers/runtimes/python-catalog.js';

/** The trainer every job of this facade runs: the document's transformer text classifier. */
export const TRAINER = 'hf-sequence-classifier';

/** The document's error envelope: every error of the facade, validation included. */
export const ERROR_ID = 'TrainingServiceError';
export const errorEnvelope = {
  $id: ERROR_ID,
  type: 'object',
  required: ['status', 'error', 'code', 'timestamp'],
  properties: {
    status: { type: 'string', enum: ['error'] },
    error: { type: 'string' },
    code: { type: 'string' },
    timestamp: { type: 'string', format: 'date-time' },
    details: {},
  },
} as const;
export const errorRef = `${ERROR_ID}#`;
export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, { $ref: errorRef }]));

/** A JSON object keyed by model or job name. */
const Dict = <T extends TSchema>(item: T) => Type.Unsafe<Record<string, Static<T>>>({ type: 'object', additionalProperties: item });
const Num = () => Nullable(Type.Number());
const Str = () => Nullable(Type.String());

export const Health = Out({ status: Type.String(), service: Type.String() });

export const ModelConfig = Out({
  path: Type.String({ description: 'The local source of the base model (relative to DATA_DIR); nothing is downloaded' }),
  type: Type.String(),
  labels: Type.Array(Type.String()),
  available: Type.Boolean({ description: 'Whether its files are on this server' }),
});
export const Available = Out({ available_models: Type.Array(Type.String()), model_configs: Dict(ModelConfig) });

export const RegistryEntry = Out({
  model_name: Type.String(),
  version: Type.String({ description: 'v1.0.<N> for Trainyard version N' }),
  run_id: Type.String({ description: 'The Trainyard job that trained the version' }),
  f1_score: Num(),
  accuracy: Num(),
  timestamp: Type.String(),
  mlflow_uri: Type.String({ description: 'models:/<name>/<N|latest|best>: GET /v1/models/<name>/versions/<N|latest|best> with the service account’s key' }),
});
export const Registry = Out({ latest_models: Dict(RegistryEntry), best_models: Dict(RegistryEntry), versions: Dict(Type.Array(RegistryEntry)) });
export const Latest = Out({ latest_models: Dict(RegistryEntry) });
export const Best = Out({ best_models: Dict(RegistryEntry) });
export const Versions = Out({ model_name: Type.String(), versions: Type.Array(RegistryEntry) });

const Performance = Out({ accuracy: Num(), f1_score: Num(), precision: Num(), recall: Num() });
const modelFields = {
  name: Type.String(),
  type: Type.String(),
  trained: Type.Boolean(),
  path: Type.String(),
  status: Type.String(),
  performance: Nullable(Performance),
};
export const ModelSummary = Out(modelFields);
export const ModelsList = Out({ models: Dict(ModelSummary), available_models: Type.Array(Type.String()), model_info: Dict(ModelSummary) });
/** GET /models/{name}: the summary and how its last version was trained. */
export const ModelInfo = Out({
  ...modelFields,
  training_info: Nullable(Out({ last_trained: Type.String(), epochs: Type.Integer(), batch_size: Type.Integer(), learning_rate: Type.Number() })),
});

const JOB_STATUSES = ['queued', 'running', 'cancelling', 'completed', 'failed', 'cancelled'] as const;
const progressFields = {
  progress: Type.Number({ description: 'Percent, 0-100' }),
  current_epoch: Type.Integer(),
  total_epochs: Type.Integer(),
  current_loss: Num(),
  best_metric: Num(),
  start_time: Type.String(),
  estimated_completion: Str(),
};
export const TrainingStatus = Out({
  model_name: Type.String(),
  status: StringEnum(['not_trained', 'queued', 'training', 'cancelling', 'completed', 'failed', 'cancelled']),
  job_id: Str(),
  ...progressFields,
  start_time: Str(),
});
export const JobSummary = Out({
  job_id: Type.String(),
  model_name: Type.String(),
  status: StringEnum(JOB_STATUSES),
  progress: Type.Number(),
  start_time: Type.String(),
  estimated_completion: Str(),
});
export const JobsList = Out({
  jobs: Dict(JobSummary),
  total_jobs: Type.Integer(),
  running_jobs: Type.Integer(),
  completed_jobs: Type.Integer(),
});
export const JobStatus = Out({
  job_id: Type.String(),
  model_name: Type.String(),
  status: StringEnum(JOB_STATUSES),
  ...progressFields,
  result: Type.Unsafe<Record<string, unknown> | null>({ type: ['object', 'null'], additionalProperties: true }),
  error: Nullable(Out({ code: Type.String(), message: Type.String() })),
});

const LoadEntry = Out({ status: Type.String(), progress: Type.Number(), source: Type.String() });
export const LoadingStatus = Out({
  loading_in_progress: Type.Boolean(),
  loaded_models: Type.Integer(),
  total_models: Type.Integer(),
  progress: Type.Number(),
  models: Dict(LoadEntry),
});
export const LoadingStarted = Out({ message: Type.String(), total_models: Type.Integer(), loading_models: Type.Array(Type.String()) });
const ModelName = Type.String({ minLength: 1, maxLength: 100 });
export const LoadSpecificBody = Type.Object({ models: Type.Array(ModelName, { minItems: 1, maxItems: 50 }) }, { additionalProperties: false });
export type LoadSpecificInput = Static<typeof LoadSpecificBody>;
export const LoadSpecificStarted = Out({ message: Type.String(), models: Type.Array(Type.String()), status: Type.String() });
export const LoadSingleBody = Type.Object({ model_name: ModelName }, { additionalProperties: false });
export type LoadSingleInput = Static<typeof LoadSingleBody>;
export const LoadSingleStarted = Out({ message: Type.String(), model_name: Type.String(), status: Type.String() });

/**
 * The document's `config`: the trainer's own hyperparameters (its catalog entry, one place),
 * without the trainer's defaults: the facade fills in the document's (DEFAULT_CONFIG).
 */
const hfProperties = (PYTHON_TRAINERS.find((t) => t.id === TRAINER)!.hyperparameters as { properties: Record<string, Record<string, unknown>> }).properties;
const configProperties = Object.fromEntries(Object.entries(hfProperties).map(([k, { default: _d, ...rest }]) => [k, rest]));
export const TrainConfig = Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: false, properties: configProperties });

/** The document's defaults (batch_size 8, where the trainer's own is 16), sent explicitly with every job. */
export const DEFAULT_CONFIG = {
  max_length: 256,
  batch_size: 8,
  learning_rate: 2e-5,
  num_epochs: 2,
  warmup_steps: 100,
  weight_decay: 0.01,
  metric_for_best_model: 'f1',
  greater_is_better: true,
} as const;

export const TrainBody = Type.Object(
  {
    model_name: Type.String({ minLength: 1, maxLength: 100, description: 'The base model, and the name of the model trained from it' }),
    training_data_path: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description: 'Under /app/training_data/ (the data root), or relative to it; default: sample_training_data.jsonl',
      }),
    ),
    config: Type.Optional(TrainConfig),
  },
  { additionalProperties: false },
);
export type TrainInput = Static<typeof TrainBody>;
export const TrainStarted = Out({
  message: Type.String(),
  model_name: Type.String(),
  job_id: Type.String(),
  config: Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true }),
});

export const SampleData = Out({ message: Type.String(), path: Type.String(), count: Type.Integer(), categories: Dict(Type.Integer()) });

export const LogsQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) }, { additionalProperties: false });
export const Logs = Out({
  logs: Type.Array(Out({ timestamp: Type.String(), level: StringEnum(['INFO', 'WARNING', 'ERROR']), message: Type.String(), job_id: Type.String() })),
  total_logs: Type.Integer(),
});
