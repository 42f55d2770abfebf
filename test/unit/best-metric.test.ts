import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { inferGoal, isBetter, resolveGoal } from '../../src/domain/registry/metric.js';
import { minirocketNotes } from '../../src/domain/sweeps/aggregate.js';

describe('the metric best is chosen by', () => {
  it('infers the goal only where the name says it; otherwise the caller must', () => {
    expect(['test_accuracy', 'cv_accuracy', 'val_f1', 'test_macro_f1', 'val_auc'].map(inferGoal)).toEqual(Array(5).fill('maximize'));
    expect(['val_loss', 'loss'].map(inferGoal)).toEqual(['minimize', 'minimize']);
    expect(['cv_accuracy_std', 'score', 'training_time_s'].map(inferGoal)).toEqual([null, null, null]);
    expect(resolveGoal('score', 'minimize', 'metric_goal')).toBe('minimize');
    expect(() => resolveGoal('cv_accuracy_std', undefined, 'metric_goal')).toThrow(ValidationError);
  });

  it('a missing or non-finite value never wins, and anything beats a missing incumbent', () => {
    expect(isBetter('maximize', undefined, 0.5)).toBe(false);
    expect(isBetter('maximize', Number.NaN, undefined)).toBe(false);
    expect(isBetter('maximize', 0.1, undefined)).toBe(true);
    expect(isBetter('minimize', 0.1, 0.2)).toBe(true);
    expect(isBetter('maximize', 0.2, 0.2)).toBe(false);
  });
});

describe('sweep notes against minirocket', () => {
  const point = (model_type: string, mean: number, std = 0.01) => ({ params: { model_type, lr: 0.1 }, mean, std });
  it('names each deep model_type whose best point is worse (either goal), never auto, nothing without minirocket', () => {
    const ranking = [point('minirocket', 0.95), point('resnet_lstm', 0.96), point('auto', 0.5), point('transformer', 0.71, 0.03), point('transformer', 0.6)];
    expect(minirocketNotes(ranking, 'test_accuracy', 'maximize')).toEqual([
      "transformer: test_accuracy 0.71 ± 0.03 is below minirocket's 0.95 ± 0.01 on this data",
    ]);
    const losses = [point('minirocket', 0.2), point('original', 0.4)];
    expect(minirocketNotes(losses, 'val_loss', 'minimize')).toEqual(["original: val_loss 0.4 ± 0.01 is above minirocket's 0.2 ± 0.01 on this data"]);
    expect(minirocketNotes([point('original', 0.1), point('transformer', 0.9)], 'test_accuracy', 'maximize')).toEqual([]);
  });
});
