/** Hyperparameter schema parts several trainers' catalog entries share, so they read the same everywhere. */

export const SEED = { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1, default: 42, description: 'Random seed: same seed, same data, same model' };
export const VALIDATION_SPLIT = {
  type: 'number',
  minimum: 0,
  maximum: 0.5,
  default: 0.2,
  description: 'Share of the data held out for validation when no validation dataset is given',
};
