/** JSON Schema (draft 2020-12 subset) for a trainer's hyperparameters: defaults and ranges live here. */
export type JsonSchema = Record<string, unknown>;

export type PricingRule =
  | { type: 'fixed'; credits: number }
  /** Seed 000: 600 / 1200 / 2000 steps cost 10 / 20 / 35 credits. */
  | { type: 'tiers'; param: string; tiers: Array<{ up_to: number; credits: number }> }
  /** base + per_unit × hyperparameters[param] (× dataset rows / per_rows when set), rounded up. */
  | { type: 'linear'; param: string; base: number; per_unit: number; per_rows?: number };

export interface DatasetRequirement {
  kinds: string[];
  min_images?: number;
  max_images?: number;
  min_rows?: number;
  /** tabular-csv trainers: the dataset must name its label column (options.label_column). */
  label_column_required?: boolean;
}

export interface TrainerRuntime {
  /** command: any executable speaking the trainer protocol (custom deployments, test trainers). */
  type: 'builtin' | 'python' | 'command';
  /** builtin: module name under trainers/builtin; python: the pack folder under trainers/python. */
  entry: string;
  /** command: argv; `--spec <file>` is appended. */
  command?: string[];
  /** command: a `[node, /abs/script.mjs, ...]` trainer may run on a pre-started process (WARM_TRAINERS). */
  warm?: boolean;
}

export interface TrainerDef {
  id: string;
  title: string;
  task: string;
  description: string;
  dataset: DatasetRequirement;
  hyperparameters: JsonSchema;
  /** Metric used to pick the `best` version, and whether higher is better. */
  primary_metric: { name: string; goal: 'maximize' | 'minimize' };
  /**
   * memory_mb and cpu_seconds are enforced on the trainer process (RLIMIT_DATA, RLIMIT_CPU);
   * network: true lets it reach the network (src/executors/sandbox.ts).
   */
  resources: {
    gpus: number;
    /** Queued for no GPU, handed a free one by the worker (gpu.ts), on the CPU otherwise. */
    gpu_optional?: boolean;
    /** gpu_optional only for these hyperparameter values (gpu.ts): hyperparameter → values. */
    gpu_when?: Record<string, Array<string | number | boolean>>;
    memory_mb: number;
    cpu_seconds?: number;
    network?: boolean;
  };
  pricing: PricingRule;
  base_models: 'none' | 'required' | 'optional';
  /** Can start from an existing model version's artifacts (spec.init_from): retraining. */
  supports_warm_start?: boolean;
  /** Scores a held-out test set (spec.inputs.test_dataset) once at the end: jobs may name test_dataset_id. */
  supports_test_set?: boolean;
  runtime: TrainerRuntime;
  /** inference: not trained through POST /v1/jobs but run by an API such as POST /v1/generations. */
  kind?: 'training' | 'inference';
  /** Model attributes recorded from a job's hyperparameters: attribute → hyperparameter name (version-fields.ts). */
  version_fields?: VersionFields;
  /** The base model a job gets when its request names none (checked like an explicit one). */
  default_base_model?: string | null;
  /** How long a job takes before this deployment has measured any (jobs/estimate.ts). */
  estimate?: TrainerEstimate | null;
}

/**
 * A job's duration is seconds_per_unit × hyperparameters[param]. `param` is the hyperparameter
 * counting the work (steps, epochs); when omitted, the first of ESTIMATE_PARAMS the trainer
 * takes. Measured history on this deployment replaces seconds_per_unit once there is some.
 */
export interface TrainerEstimate {
  param?: string;
  seconds_per_unit?: number;
}

/** Which hyperparameter, if any, becomes each model attribute when a version is registered. */
export interface VersionFields {
  /** The word that invokes the model in prompts (image LoRAs). */
  trigger_word?: string;
}

/** Work counters tried in order when an entry's estimate names no param. */
export const ESTIMATE_PARAMS = ['steps', 'max_steps', 'num_epochs', 'epochs'] as const;

/**
 * The entry's estimate with its param settled: the named one, else the first ESTIMATE_PARAMS
 * the trainer takes as an integer. Null when the trainer has no such counter (nothing to scale by).
 */
export function resolveEstimate(d: Pick<TrainerDef, 'estimate' | 'hyperparameters' | 'kind'>): { param: string; seconds_per_unit?: number } | null {
  const props = (d.hyperparameters.properties ?? {}) as Record<string, { type?: unknown }>;
  // An inference trainer's `steps` are denoising steps, not training work: only an explicit param counts.
  const guess = d.kind === 'inference' ? undefined : ESTIMATE_PARAMS.find((p) => props[p]?.type === 'integer' || props[p]?.type === 'number');
  const param = d.estimate?.param ?? guess;
  if (!param) return null;
  return { param, ...(d.estimate?.seconds_per_unit ? { seconds_per_unit: d.estimate.seconds_per_unit } : {}) };
}

export interface Trainer extends TrainerDef {
  available: boolean;
  unavailable_reason: string | null;
}

export const BASE_MODEL_TYPES = ['video_classification', 'video_captioning'] as const;
export type BaseModelType = (typeof BASE_MODEL_TYPES)[number];
export const BASE_ARCHITECTURES = ['flamingo', 'video_llama', 'videomae'] as const;
export type BaseArchitecture = (typeof BASE_ARCHITECTURES)[number];

export interface BaseModel {
  id: string;
  name: string;
  description: string;
  architecture: string;
  trainers: string[];
  /**
   * A local folder (absolute, or relative to DATA_DIR: each worker resolves it against its own)
   * or the URI of a folder in the configured store (s3://bucket/models/x/, file:///…/models/x/),
   * which workers fetch into their model cache. Nothing is downloaded from elsewhere.
   */
  source: string;
  version?: string;
  supported_lora_params?: { min_rank: number; max_rank: number; default_alpha: number };
  /** What the model does, for the video trainers (null for others). */
  model_type?: BaseModelType | null;
  /** How a video model reads frames: Flamingo-style cross-attention, a Video-LLaMA-style projector, or a VideoMAE encoder. */
  base_architecture?: BaseArchitecture | null;
  /** Registered at run time through POST /v1/admin/base-models (stored in the database). */
  registered?: boolean;
}

/** Null when the trainer's runtime is installed on this machine, else why it is not. */
export type AvailabilityProbe = (t: TrainerDef) => Promise<string | null>;

/**
 * How the catalog learns availability. services.ts builds it from the trainer runtimes
 * (src/trainers/runtimes) and passes it in, so the catalog knows no runtime itself. Answers
 * may be cached: `refresh` forgets them (reload with reprobe), `close` stops probes in flight.
 */
export interface RuntimeProbe {
  check: AvailabilityProbe;
  refresh(): void;
  close(): void;
}
