import type { TrainerDef } from './types.js';

/** Model attributes taken from a finished job's hyperparameters, as the registry records them. */
export interface VersionAttributes {
  triggerWord: string | null;
}

/**
 * What a trainer's catalog entry says to record on the model (`version_fields`), read from the
 * job's validated hyperparameters. The worker stays generic: it knows no trainer's parameters.
 */
export function versionAttributes(def: Pick<TrainerDef, 'version_fields'>, hyperparameters: Record<string, unknown>): VersionAttributes {
  const key = def.version_fields?.trigger_word;
  const value = key === undefined ? undefined : hyperparameters[key];
  return { triggerWord: typeof value === 'string' ? value : null };
}
