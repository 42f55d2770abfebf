/**
 * The metric a model's `best` alias is chosen by, and which way is better: one place for the
 * name's form and the inferred direction, used by PATCH /v1/models/{name} and by a job's
 * output.primary_metric alike.
 */
import { ValidationError } from '../../errors.js';
import { StringEnum, Type } from '../schema-kit.js';

export const METRIC_GOALS = ['maximize', 'minimize'] as const;
export type MetricGoal = (typeof METRIC_GOALS)[number];

export const MetricName = (description: string) => Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z][A-Za-z0-9_.-]*$', description });
export const MetricGoalField = (description: string) => StringEnum(METRIC_GOALS, { description });

/** Scores that are better high, and errors that are better low; anything else must say (cv_accuracy_std is neither). */
export function inferGoal(metric: string): MetricGoal | null {
  if (/(accuracy|f1|auc)$/i.test(metric)) return 'maximize';
  if (/loss$/i.test(metric)) return 'minimize';
  return null;
}

/** The goal given, else the inferred one; 400 METRIC_GOAL_REQUIRED when neither says. */
export function resolveGoal(metric: string, goal: MetricGoal | undefined, field: string): MetricGoal {
  const g = goal ?? inferGoal(metric);
  if (!g)
    throw new ValidationError(
      'METRIC_GOAL_REQUIRED',
      `which way is better for "${metric}" cannot be inferred (only *accuracy, *f1, *auc and *loss are); set ${field} to "maximize" or "minimize"`,
      { metric },
    );
  return g;
}

/** Whether `a` beats `b` on `goal` (a missing `a` never does; anything beats a missing `b`). */
export function isBetter(goal: MetricGoal | null, a: number | undefined, b: number | undefined): boolean {
  if (a === undefined || !Number.isFinite(a)) return false;
  if (b === undefined || !Number.isFinite(b)) return true;
  return goal === 'minimize' ? a < b : a > b;
}
