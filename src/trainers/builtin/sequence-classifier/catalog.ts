import type { TrainerDef } from '../../../domain/catalog/types.js';
import { SEED, VALIDATION_SPLIT } from '../../catalog-schema.js';

/** This trainer's catalog entry; src/domain/catalog/builtin.ts lists it. main.ts reads exactly these hyperparameters. */
export const sequenceClassifier: TrainerDef = {
  id: 'sequence-classifier',
  title: 'Sequence classifier (EEG and other time series)',
  task: 'sequence-classification',
  description: 'Windows of consecutive CSV rows → class, with dense, CNN-LSTM, ResNet-LSTM and transformer architectures.',
  // Two rows of two classes at sequence_length 1 is the smallest set this trainer can learn
  // from; anything the trainer cannot window (too few rows for sequence_length, one class) it
  // refuses itself with a message that says why, which a row count here could not.
  dataset: { kinds: ['tabular-csv'], min_rows: 2, label_column_required: true },
  hyperparameters: {
    type: 'object',
    additionalProperties: false,
    properties: {
      // Issue #18: 'auto' picks MiniRocket on small data and a deep architecture on large (the
      // rule and its measurements: prepare.ts chooseModelType, bench/README.md).
      model_type: {
        type: 'string',
        enum: ['auto', 'minirocket', 'original', 'enhanced_cnn_lstm', 'resnet_lstm', 'transformer'],
        default: 'auto',
        description: 'auto: minirocket on small data, enhanced_cnn_lstm otherwise; minirocket: random convolutional features + ridge, no epochs',
      },
      epochs: { type: 'integer', minimum: 1, maximum: 500, default: 100, description: 'Upper bound: early stopping ends most runs sooner' },
      batch_size: { type: 'integer', minimum: 1, maximum: 256, default: 32 },
      learning_rate: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.001 },
      lr_schedule: {
        type: 'string',
        enum: ['constant', 'warmup_cosine'],
        default: 'warmup_cosine',
        description: 'warmup_cosine: linear warm-up over the first epochs, then cosine decay to 5% of learning_rate',
      },
      dropout_rate: { type: 'number', minimum: 0, maximum: 0.9, default: 0.3 },
      // Bounded (issue #10): past 1 the penalty swamps any loss and the weights collapse to zero.
      l1_reg: { type: 'number', minimum: 0, maximum: 1, default: 0.00001 },
      l2_reg: { type: 'number', minimum: 0, maximum: 1, default: 0.0001 },
      use_separable: { type: 'boolean', default: true },
      use_relative_pos: { type: 'boolean', default: true },
      sequence_length: {
        anyOf: [
          { type: 'integer', minimum: 1, maximum: 1024 },
          { type: 'string', enum: ['auto'] },
        ],
        default: 'auto',
        description: 'Rows per window; auto: chosen from the instance lengths (whole recordings or windows with voting), 32 without instances',
      },
      minirocket_features: {
        type: 'integer',
        minimum: 84,
        maximum: 50000,
        default: 10000,
        description: 'MiniRocket: number of features (rounded down to a multiple of 84)',
      },
      validation_split: VALIDATION_SPLIT,
      validation: {
        type: 'object',
        additionalProperties: false,
        required: ['folds'],
        properties: { folds: { type: 'integer', minimum: 2, maximum: 10 } },
        description: 'k-fold cross-validation by instance (recording): reports cv_accuracy ± cv_accuracy_std, then trains the final model on all data',
      },
      patience: {
        anyOf: [
          { type: 'integer', minimum: 0, maximum: 500 },
          { type: 'string', enum: ['auto'] },
        ],
        default: 'auto',
        description: 'Early stopping: epochs without val_loss improvement (0 = off); auto scales with epochs',
      },
      min_epochs: { type: 'integer', minimum: 0, maximum: 500, default: 10, description: 'Early stopping never ends a run before this many epochs' },
      // Issue #15: PyTorch runs the same loop 10–18× faster than tfjs on the CPU (bench/README.md).
      backend: {
        type: 'string',
        enum: ['auto', 'tfjs', 'torch'],
        default: 'auto',
        description:
          'Training loop of the deep architectures: torch (PyTorch, on the GPU when one is assigned), tfjs (TensorFlow.js), auto = torch when the Python trainer environment is set up. Either serves the same way.',
      },
      subject_id: { type: 'string', maxLength: 100 },
      session_id: { type: 'string', maxLength: 100 },
      seed: SEED,
    },
  },
  primary_metric: { name: 'val_accuracy', goal: 'maximize' },
  // gpu_optional (issue #15): queued as a CPU job, handed a GPU when the worker has one free,
  // which the torch backend then trains on (CUDA_VISIBLE_DEVICES). Not for minirocket or a tfjs
  // loop, which never use it (gpu_when); auto may still pick minirocket on small data.
  resources: {
    gpus: 1,
    gpu_optional: true,
    gpu_when: { model_type: ['auto', 'original', 'enhanced_cnn_lstm', 'resnet_lstm', 'transformer'], backend: ['auto', 'torch'] },
    memory_mb: 2048,
  },
  pricing: { type: 'linear', param: 'epochs', base: 1, per_unit: 0.1 },
  base_models: 'none',
  supports_warm_start: true,
  supports_test_set: true,
  runtime: { type: 'builtin', entry: 'sequence-classifier' },
};
