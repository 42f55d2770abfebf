import type { TrainerDef } from '../../../domain/catalog/types.js';
import { SEED, VALIDATION_SPLIT } from '../../catalog-schema.js';

/** This trainer's catalog entry; src/domain/catalog/builtin.ts lists it. main.ts reads exactly these hyperparameters. */
export const linearClassifier: TrainerDef = {
  id: 'linear-classifier',
  title: 'Linear classifier',
  task: 'tabular-classification',
  description: 'Multinomial logistic regression trained by mini-batch gradient descent on a CSV with a label column.',
  dataset: { kinds: ['tabular-csv'], min_rows: 2, label_column_required: true },
  hyperparameters: {
    type: 'object',
    additionalProperties: false,
    properties: {
      epochs: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 },
      learning_rate: { type: 'number', exclusiveMinimum: 0, maximum: 10, default: 0.1 },
      batch_size: { type: 'integer', minimum: 1, maximum: 65_536, default: 32 },
      l2: { type: 'number', minimum: 0, maximum: 10, default: 0 },
      validation_split: VALIDATION_SPLIT,
      validation: {
        type: 'object',
        additionalProperties: false,
        required: ['folds'],
        properties: { folds: { type: 'integer', minimum: 2, maximum: 10 } },
        description: 'Stratified k-fold cross-validation: reports cv_accuracy ± cv_accuracy_std, then trains the final model on all rows',
      },
      seed: SEED,
    },
  },
  primary_metric: { name: 'val_accuracy', goal: 'maximize' },
  resources: { gpus: 0, memory_mb: 256 },
  pricing: { type: 'linear', param: 'epochs', base: 1, per_unit: 0.01 },
  base_models: 'none',
  supports_test_set: true,
  runtime: { type: 'builtin', entry: 'linear-classifier' },
};
