import type { RuntimeProbe, TrainerDef, TrainerRuntime } from '../../domain/catalog/types.js';
import type { PredictorModule } from '../predictor.js';
import { builtinRuntime } from './builtin.js';
import { commandRuntime } from './command.js';
import { pythonRuntime } from './python.js';
import type { Runtime, RuntimeContext, TrainerCommand } from './types.js';

export type { PackProbe, Runtime, RuntimeContext, TrainerCommand, WarmNode } from './types.js';

const RUNTIMES: Record<TrainerRuntime['type'], Runtime> = { builtin: builtinRuntime, python: pythonRuntime, command: commandRuntime };

/** A catalog entry (catalog.json can say anything) names a runtime type this build does not have. */
export class UnknownRuntimeError extends Error {
  readonly code = 'RUNTIME_UNKNOWN';
  constructor(def: TrainerDef) {
    super(`trainer ${def.id} has an unknown runtime type ${JSON.stringify(def.runtime?.type)}; one of ${Object.keys(RUNTIMES).join(', ')}`);
    this.name = 'UnknownRuntimeError';
  }
}

export function runtimeOf(def: TrainerDef): Runtime {
  const r = Object.hasOwn(RUNTIMES, def.runtime?.type) ? RUNTIMES[def.runtime.type] : undefined;
  if (!r) throw new UnknownRuntimeError(def);
  return r;
}

/** The argv and extra environment that start this trainer (the worker's one call). */
export function trainerCommand(def: TrainerDef, ctx: RuntimeContext): TrainerCommand {
  return runtimeOf(def).command(def, ctx);
}

/** How serving loads this trainer's models; null when they cannot be served (or the runtime is unknown). */
export function predictorModule(def: TrainerDef, ctx: RuntimeContext): PredictorModule | null {
  return Object.hasOwn(RUNTIMES, def.runtime?.type) ? runtimeOf(def).predictor(def, ctx) : null;
}

/** The catalog's availability probe over every runtime; services.ts passes it to CatalogService. */
export function runtimeProbe(ctx: RuntimeContext): RuntimeProbe {
  return {
    check: async (def) => {
      let r: Runtime;
      try {
        r = runtimeOf(def);
      } catch (err) {
        return (err as Error).message;
      }
      return r.probe(def, ctx);
    },
    refresh: () => ctx.packs?.refresh(),
    close: () => ctx.packs?.close(),
  };
}
