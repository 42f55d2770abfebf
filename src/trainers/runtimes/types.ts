import type { TrainerDef, TrainerRuntime } from '../../domain/catalog/types.js';
import type { PredictorModule } from '../predictor.js';

/**
 * Asks the Python trainer environment whether a pack imports (src/python/probe.ts). Answers
 * are cached, so `refresh` forgets them (admin catalog reload) and `close` stops a probe
 * still importing torch (shutdown).
 */
export interface PackProbe {
  check(entry: string): Promise<string | null>;
  refresh(): void;
  close(): void;
}

/**
 * What this machine offers the runtimes. Built by whoever owns the process (services.ts for
 * the API, the worker's context) and passed to every call: the runtimes keep no state.
 */
export interface RuntimeContext {
  /** The Python trainer environment's interpreter. */
  python: string;
  /** Only availability probing needs it; null or absent: no Python environment is configured. */
  packs?: PackProbe | null;
}

/** How to start a trainer: the executor appends `--spec <file>` to argv and adds env to its allowlist. */
export interface TrainerCommand {
  argv: string[];
  env: Record<string, string>;
  /** Set when the trainer can also run on a pre-started Node host (src/executors/warm-pool.ts). */
  warm?: WarmNode;
}

/** A Node trainer split for the warm host: argv is [...node, module, ...args] (then `--spec <file>`). */
export interface WarmNode {
  /** The interpreter and its own flags (a loader), which the host is started with. */
  node: string[];
  module: string;
  args: string[];
  /** Modules the host imports before its job arrives (tfjs): absolute paths or package names it resolves. */
  preload: string[];
}

/**
 * One kind of trainer runtime (TrainerDef.runtime.type): the only code that knows where a
 * trainer of that kind lives on disk and how it is started, probed and served. The worker,
 * the catalog's availability probe and serving reach trainers through this and nothing else.
 */
export interface Runtime {
  readonly type: TrainerRuntime['type'];
  /** Null when the trainer can run on this machine, else why not (the catalog's unavailable_reason). */
  probe(def: TrainerDef, ctx: RuntimeContext): Promise<string | null>;
  command(def: TrainerDef, ctx: RuntimeContext): TrainerCommand;
  /** How serving loads a model folder of this trainer; null when its models cannot be served. */
  predictor(def: TrainerDef, ctx: RuntimeContext): PredictorModule | null;
}
