import { Ajv, type ValidateFunction } from 'ajv';
import { ValidationError } from '../../errors.js';
import type { JsonSchema } from '../catalog/types.js';

// Defaults are filled in, nothing is coerced, unknown keys are errors (trainer schemas say
// additionalProperties: false). Compiled validators are cached per schema object.
const ajv = new Ajv({ useDefaults: true, coerceTypes: false, removeAdditional: false, allErrors: true, strict: false });
const cache = new WeakMap<object, ValidateFunction>();

export function validateHyperparameters(schema: JsonSchema, input: Record<string, unknown>): Record<string, unknown> {
  let validate = cache.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    cache.set(schema, validate);
  }
  const value = structuredClone(input);
  if (!validate(value)) {
    const details = (validate.errors ?? []).map((e) => ({
      path: `hyperparameters${e.instancePath.replace(/\//g, '.')}`,
      message: e.message ?? 'invalid',
      ...(e.keyword === 'additionalProperties' ? { property: (e.params as { additionalProperty: string }).additionalProperty } : {}),
    }));
    const first = details[0]!;
    throw new ValidationError('INVALID_HYPERPARAMETERS', `${first.path}: ${first.message}${first.property ? ` (${first.property})` : ''}`, details);
  }
  return value;
}

/**
 * A trainer's complete hyperparameters from some of them, as the server puts them in a job
 * spec: validated against the catalog entry's schema, defaults filled in. For code that writes
 * specs itself (tests, benchmarks running a trainer directly).
 */
export function specHyperparameters(def: { hyperparameters: JsonSchema }, partial: Record<string, unknown> = {}): Record<string, unknown> {
  return validateHyperparameters(def.hyperparameters, partial);
}
