/**
 * Reading a job's hyperparameters in a built-in trainer. The server validated them against
 * the trainer's catalog schema and filled in its defaults (Ajv useDefaults), so the spec holds
 * every one: the catalog entry is the only place defaults live. A missing or mistyped value
 * means a spec the server did not write (or a catalog out of step with its trainer) and is an
 * error, never silently defaulted. Tests that write specs by hand fill them with
 * specHyperparameters() (src/domain/jobs/hyperparameters.ts).
 */
import { TrainerError } from './runtime.js';

/** A JSON type, or the allowed values of a string enum. */
export type HyperKind = 'number' | 'integer' | 'string' | 'boolean' | readonly string[];

export class HyperparameterError extends TrainerError {
  readonly code = 'HYPERPARAMETERS_INVALID';
  override name = 'HyperparameterError';
}

function fits(kind: HyperKind, v: unknown): boolean {
  if (Array.isArray(kind)) return typeof v === 'string' && kind.includes(v);
  switch (kind) {
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return Number.isInteger(v);
    default:
      return typeof v === kind;
  }
}

const describe = (kind: HyperKind): string => (Array.isArray(kind) ? `one of ${kind.join(', ')}` : `a ${kind}`);

/**
 * The hyperparameters a trainer reads, typed as T, checked against `shape` (one kind per key).
 * Keys in `optional` may be absent (schema properties without a default); keys not in
 * `shape` are ignored.
 */
export function readHyperparameters<T>(
  hp: Record<string, unknown> | undefined,
  shape: { readonly [K in keyof T]-?: HyperKind },
  optional: ReadonlyArray<keyof T & string> = [],
): T {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, kind] of Object.entries(shape) as Array<[string, HyperKind]>) {
    const v = hp?.[key];
    if (v === undefined) {
      if (!(optional as readonly string[]).includes(key)) problems.push(`${key} is missing`);
    } else if (!fits(kind, v)) {
      problems.push(`${key} must be ${describe(kind)}, got ${JSON.stringify(v)}`);
    } else {
      out[key] = v;
    }
  }
  if (problems.length > 0)
    throw new HyperparameterError(
      `hyperparameters: ${problems.join('; ')} (the server fills in defaults from the trainer's catalog schema; a hand-written spec must give every value)`,
    );
  return out as T;
}
