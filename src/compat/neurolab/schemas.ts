/**
 * The EEG training API's shapes (seed 001), declared once: the routes validate and document
 * /openapi.json with them, and the facade's code takes its types from them.
 */
import { sequenceClassifier } from '../../trainers/builtin/sequence-classifier/catalog.js';
import { DateTime, Nullable, StringEnum, Type, type Static } from '../../domain/schema-kit.js';

/**
 * FastAPI's error body, `{"detail": "..."}` (the document's server is a FastAPI app and shows
 * no error body of its own), with Trainyard's stable `code` beside it.
 */
export const NeurolabError = {
  $id: 'NeurolabError',
  type: 'object',
  required: ['detail', 'code'],
  properties: { detail: { type: 'string' }, code: { type: 'string' } },
} as const;
export const errorRef = 'NeurolabError#';
export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, { $ref: errorRef }]));

export const ARCHITECTURES = ['original', 'enhanced_cnn_lstm', 'resnet_lstm', 'transformer'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

// The documented configuration table is the sequence-classifier's own hyperparameters (same
// names, defaults and ranges): taken from its catalog entry, so the two cannot drift.
const hp = sequenceClassifier.hyperparameters.properties as Record<string, Record<string, unknown>>;
const from = <T = unknown>(name: string, description: string) => Type.Unsafe<T>({ ...hp[name], description });
const nullableText = (description: string) => Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 100, description });

const configProperties = {
  // The document's range, narrower than the trainer's (500 since issue #18).
  epochs: Type.Optional(Type.Unsafe({ ...hp.epochs, maximum: 200, description: 'Number of training epochs (1-200)' })),
  batch_size: Type.Optional(from('batch_size', 'Batch size (1-256)')),
  learning_rate: Type.Optional(from('learning_rate', 'Learning rate (above 0, at most 1)')),
  dropout_rate: Type.Optional(from('dropout_rate', 'Dropout rate (0-0.9)')),
  use_separable: Type.Optional(from('use_separable', 'Use separable convolutions')),
  use_relative_pos: Type.Optional(from('use_relative_pos', 'Use relative positional encoding')),
  l1_reg: Type.Optional(from('l1_reg', 'L1 regularization (0-1)')),
  l2_reg: Type.Optional(from('l2_reg', 'L2 regularization (0-1)')),
  subject_id: Type.Optional(nullableText('Subject identifier (recorded on the model)')),
  session_id: Type.Optional(nullableText('Session identifier (recorded on the model)')),
};

export const TrainConfig = Type.Object(
  {
    // The document's four architectures and its default, not the trainer's auto/minirocket.
    model_type: Type.Optional(
      Type.Unsafe<Architecture>({ type: 'string', enum: [...ARCHITECTURES], default: 'enhanced_cnn_lstm', description: 'Model architecture' }),
    ),
    ...configProperties,
  },
  { additionalProperties: false, description: 'Training configuration; every field optional, defaults as documented' },
);
export type TrainConfigInput = Static<typeof TrainConfig>;

/** A comparison trains every architecture, so its configuration has no model_type. */
export const CompareConfig = Type.Object(configProperties, { additionalProperties: false });

const Matrix = (description: string) =>
  Type.Array(Type.Array(Type.Number(), { minItems: 1, maxItems: 1024 }), {
    minItems: 1,
    description: `${description}: one row per sample, one number per feature`,
  });
const Labels = (description: string) => Type.Array(Type.Integer({ minimum: -(2 ** 31), maximum: 2 ** 31 - 1 }), { minItems: 1, description });

const data = {
  X_train: Matrix('Training samples'),
  y_train: Labels('The class of each training sample'),
};

export const TrainBody = Type.Object(
  {
    ...data,
    X_test: Type.Optional(Matrix('Test samples (the validation set)')),
    y_test: Type.Optional(Labels('The class of each test sample')),
    config: Type.Optional(TrainConfig),
  },
  { additionalProperties: false },
);
export type TrainInput = Static<typeof TrainBody>;

export const CompareBody = Type.Object(
  {
    ...data,
    X_test: Matrix('Test samples (required: every architecture is scored on them)'),
    y_test: Labels('The class of each test sample'),
    X_holdout: Type.Optional(
      Matrix('Held-out test samples (Trainyard addition, issue #18): never trained or early-stopped on (X_test is), scored once per run at the end'),
    ),
    y_holdout: Type.Optional(Labels('The class of each held-out sample (with X_holdout)')),
    n_repeats: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, default: 3, description: 'Training runs per architecture' })),
    config: Type.Optional(CompareConfig),
  },
  { additionalProperties: false },
);
export type CompareInput = Static<typeof CompareBody>;

export const LoginBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 320 }), password: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
export const LoginAnswer = Type.Object({ access_token: Type.String(), token_type: StringEnum(['bearer']), expires_in: Type.Integer() });

export const JobIdParams = Type.Object({ job_id: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });

export const Started = Type.Object({
  job_id: Type.String(),
  status: StringEnum(['queued']),
  message: Type.String(),
  started_at: DateTime(),
});

export const TrainMetrics = Type.Object(
  {
    final_train_accuracy: Nullable(Type.Number()),
    final_val_accuracy: Nullable(Type.Number({ description: 'On X_test when given, else on the held-out part of X_train; null when there was none' })),
    final_train_loss: Nullable(Type.Number()),
    final_val_loss: Nullable(Type.Number()),
  },
  { additionalProperties: false, description: 'Fractions (accuracy) and cross-entropy (loss) of the trained model' },
);

const Series = (description: string) => Type.Array(Type.Number(), { description });
const MeanStd = Nullable(Type.Object({ mean: Type.Number(), std: Type.Number(), n: Type.Integer() }));
export const ArchitectureResults = Type.Object({
  accuracy: Series('Accuracy on the test set (fraction 0-1), one value per repeat'),
  auc: Series('One-vs-rest ROC AUC on the test set (0-1), one value per repeat'),
  training_time: Series('Training time in seconds'),
  inference_time: Series('Prediction time in seconds per sample (batched)'),
  model_size: Series('Size of the weights in megabytes (MB, 10^6 bytes)'),
  test_accuracy: Type.Optional(Series('With X_holdout: accuracy on the held-out samples (fraction 0-1), one value per repeat')),
  test_macro_f1: Type.Optional(Series('With X_holdout: macro-averaged F1 on the held-out samples (0-1), one value per repeat')),
  test_summary: Type.Optional(
    Type.Object(
      { test_accuracy: MeanStd, test_macro_f1: MeanStd },
      { description: 'With X_holdout: mean and sample standard deviation over the repeats; null before any run has the figure' },
    ),
  ),
});
export const CompareResults = Type.Record(Type.String(), ArchitectureResults, {
  description: 'Per architecture, one value per finished repeat (in repeat order)',
});
export type CompareResultsShape = Static<typeof CompareResults>;

export const JobStatus = Type.Object({
  job_id: Type.String(),
  status: StringEnum(['queued', 'training', 'completed', 'failed']),
  progress: Type.Number({ minimum: 0, maximum: 1 }),
  message: Type.String(),
  started_at: DateTime(),
  completed_at: Nullable(DateTime()),
  metrics: Type.Union([TrainMetrics, CompareResults, Type.Null()], {
    description: 'Training jobs: the final metrics; comparisons: the per-architecture results. Null until completed',
  }),
  error: Nullable(Type.String()),
  model: Nullable(
    Type.Object(
      { name: Type.String(), version: Nullable(Type.Integer()), path: Type.String() },
      { description: 'Where the trained model is in Trainyard (/v1); a comparison names its model, whose "best" alias is the winner' },
    ),
  ),
  trainyard: Type.Object(
    { job_id: Nullable(Type.String()), sweep_id: Nullable(Type.String()) },
    { description: 'The ordinary Trainyard job (or sweep) behind this one, at /v1/jobs/{id} (/v1/sweeps/{id})' },
  ),
});
export type JobStatusShape = Static<typeof JobStatus>;

export const JobsQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10, description: 'Maximum number of jobs to return' })) },
  { additionalProperties: false },
);

export const Deleted = Type.Object({ status: StringEnum(['success']), message: Type.String() });
