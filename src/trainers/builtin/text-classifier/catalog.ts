import type { TrainerDef } from '../../../domain/catalog/types.js';
import { SEED, VALIDATION_SPLIT } from '../../catalog-schema.js';

/** This trainer's catalog entry; src/domain/catalog/builtin.ts lists it. main.ts reads exactly these hyperparameters. */
export const textClassifier: TrainerDef = {
  id: 'text-classifier',
  title: 'Text classifier (CPU)',
  task: 'text-classification',
  description: 'A tokenizer trained on your data and a small fastText-style or transformer encoder, on CPU.',
  dataset: { kinds: ['text-classification-jsonl'], min_rows: 10 },
  hyperparameters: {
    type: 'object',
    additionalProperties: false,
    properties: {
      architecture: { type: 'string', enum: ['fasttext', 'transformer'], default: 'fasttext' },
      epochs: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
      batch_size: { type: 'integer', minimum: 1, maximum: 1024, default: 32 },
      learning_rate: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.005 },
      max_length: { type: 'integer', minimum: 8, maximum: 1024, default: 128 },
      vocab_size: { type: 'integer', minimum: 256, maximum: 200_000, default: 20_000 },
      validation_split: VALIDATION_SPLIT,
      seed: SEED,
      // Issue #15: the tfjs transformer ran an epoch 87× slower than the same PyTorch loop (bench/README.md).
      backend: {
        type: 'string',
        enum: ['auto', 'tfjs', 'torch'],
        default: 'auto',
        description:
          'Training loop of the transformer: torch (PyTorch), tfjs (TensorFlow.js), auto = torch when the Python trainer environment is set up. Either serves the same way; fasttext always trains in TypeScript.',
      },
    },
  },
  primary_metric: { name: 'val_accuracy', goal: 'maximize' },
  // Not GPU-optional (yet): the transformer is small and fixed (dim 32, one layer), and a GPU
  // held by a job that runs no faster on it keeps a job that needs one waiting. bench/gpu.sh's
  // text-classifier row measures its PyTorch loop on CUDA against the CPU; if that pays, this
  // becomes { gpus: 1, gpu_optional: true, gpu_when: { architecture: ['transformer'], backend: ['auto', 'torch'] } }.
  resources: { gpus: 0, memory_mb: 2048 },
  pricing: { type: 'linear', param: 'epochs', base: 1, per_unit: 0.2 },
  base_models: 'none',
  supports_warm_start: true,
  supports_test_set: true,
  runtime: { type: 'builtin', entry: 'text-classifier' },
};
