import type { TrainerDef } from './types.js';

/**
 * Whether a worker hands a free GPU to a job of a `gpu_optional` trainer (queued with gpus 0,
 * run on the CPU when no GPU is free).
 *
 * `resources.gpu_when` narrows that to the hyperparameter values that train on a GPU: the
 * sequence-classifier's minirocket, or any tfjs loop, would hold a GPU it never touches while a
 * job that needs one waits. Each listed hyperparameter's value (its schema default when the job
 * does not say) must be among the listed values; no gpu_when means every job of the trainer.
 */
export function wantsOptionalGpu(t: Pick<TrainerDef, 'resources' | 'hyperparameters'>, hyperparameters: Record<string, unknown>): boolean {
  if (!t.resources.gpu_optional) return false;
  return Object.entries(t.resources.gpu_when ?? {}).every(([name, values]) => {
    const value = name in hyperparameters ? hyperparameters[name] : property(t, name)?.default;
    return values.some((v) => v === value);
  });
}

/**
 * What is wrong with a trainer's gpu_when, or null: a hyperparameter the trainer does not have,
 * or a value its enum does not allow, would silently keep every job off the GPU.
 */
export function gpuWhenProblem(t: Pick<TrainerDef, 'resources' | 'hyperparameters'>): string | null {
  const when: unknown = t.resources.gpu_when;
  if (when === undefined) return null;
  if (!when || typeof when !== 'object' || Array.isArray(when)) return 'resources.gpu_when must be an object of hyperparameter → allowed values';
  for (const [name, values] of Object.entries(when as Record<string, unknown>)) {
    const p = property(t, name);
    if (!p) return `resources.gpu_when names ${JSON.stringify(name)}, which is not one of the trainer's hyperparameters`;
    if (!Array.isArray(values) || values.length === 0 || !values.every((v) => ['string', 'number', 'boolean'].includes(typeof v)))
      return `resources.gpu_when.${name} must be a non-empty list of strings, numbers or booleans`;
    const allowed = Array.isArray(p.enum) ? (p.enum as unknown[]) : null;
    const stray = allowed ? values.findIndex((v) => !allowed.includes(v)) : -1;
    if (stray >= 0) return `resources.gpu_when.${name}: ${JSON.stringify(values[stray])} is not one of ${JSON.stringify(allowed)}`;
  }
  return null;
}

function property(t: Pick<TrainerDef, 'hyperparameters'>, name: string): Record<string, unknown> | null {
  const props = t.hyperparameters.properties as Record<string, Record<string, unknown>> | undefined;
  return props && Object.hasOwn(props, name) ? props[name]! : null;
}
