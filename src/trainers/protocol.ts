/**
 * The trainer protocol: how the worker and a trainer program talk. A trainer is started as
 * `<command> --spec <job.json>`, writes one JSON object per line on stdout, puts artifacts in
 * `output_dir`, and exits 0 on success. SIGTERM asks it to stop (it may write a checkpoint
 * first); SIGKILL follows after a grace period. Any language can implement this.
 * A Node trainer may instead be imported by a pre-started host that got the same argv, env and
 * folder as one JSON line on its stdin (../executors/warm-host.ts, WARM_TRAINERS): the program
 * sees no difference.
 */

export interface SpecFile {
  /** Absolute path of the staged file. */
  path: string;
  filename: string;
  content_type: string;
}

export interface SpecDataset {
  id: string;
  kind: string;
  options: Record<string, unknown>;
  stats: Record<string, unknown> | null;
  files: SpecFile[];
}

export interface JobSpec {
  protocol: 1;
  job_id: string;
  attempt: number;
  trainer: string;
  base_model: { id: string; path: string | null } | null;
  /** Already validated against the trainer's schema, defaults filled in. */
  hyperparameters: Record<string, unknown>;
  /**
   * test_dataset (issue #18): held out, never used for training or early stopping; a trainer
   * that has a validation metric scores it at the end (src/trainers/builtin/evaluation.ts).
   * Optional in the type so specs written before it (and by hand in tests) stay valid.
   */
  inputs: { dataset: SpecDataset; validation_dataset: SpecDataset | null; test_dataset?: SpecDataset | null };
  /** Artifacts go here; the worker uploads what `artifact` events name. */
  output_dir: string;
  /** Checkpoints go here; the folder survives retries of the same job on the same worker only. */
  checkpoint_dir: string;
  /** A checkpoint path from an earlier attempt to resume from, or null. */
  resume_from: string | null;
  /** Warm start (retraining): the artifacts folder of a previous model version. */
  init_from: string | null;
}

/** What the worker writes: an inference job (a generation) has no dataset and reads only its hyperparameters. */
export type StagedSpec = Omit<JobSpec, 'inputs'> & {
  inputs: { dataset: SpecDataset | null; validation_dataset: SpecDataset | null; test_dataset?: SpecDataset | null };
};

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type TrainerEvent =
  | { type: 'progress'; step: number; total_steps: number; epoch?: number; total_epochs?: number }
  | { type: 'metrics'; step: number; epoch?: number; values: Record<string, number> }
  | { type: 'log'; level: LogLevel; message: string }
  | { type: 'checkpoint'; step: number; path: string }
  | { type: 'artifact'; name: string; path: string; format: string }
  /** A sample image (PNG, JPEG or WebP) rendered at `step` from `prompt`, in output_dir or checkpoint_dir. */
  | { type: 'sample'; step: number; prompt: string; path: string }
  | { type: 'result'; metrics: Record<string, number>; details?: Record<string, unknown> };

export type TrainerEventType = TrainerEvent['type'];

/** What the executor reports besides protocol events: everything else the process printed. */
export type OutputLine = { type: 'stdout' | 'stderr'; line: string };

const LEVELS = new Set(['debug', 'info', 'warn', 'error']);
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isStr = (x: unknown, max = 4096): x is string => typeof x === 'string' && x.length > 0 && x.length <= max;
const isNumRecord = (x: unknown): x is Record<string, number> =>
  !!x && typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length <= 200 && Object.values(x).every((v) => isNum(v));

// NUL is the point of these two patterns.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /[\u0000\uD800-\uDFFF]/;
// eslint-disable-next-line no-control-regex
const LONE_HALF_OR_NUL = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** A JSON escape of NUL or of a surrogate half (pairs too: whether a half stands alone is for storable() to say). */
const UNSTORABLE_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;

/**
 * Text Postgres can store, in a text or jsonb column: NUL and lone surrogate halves (a line cut
 * inside an emoji, a trainer printing `"\ud83d"`) are refused there, and one such string used to
 * fail the whole batch of events it came with. Both become U+FFFD, as an invalid UTF-8 byte does.
 */
export function storable(s: string): string {
  return UNSTORABLE.test(s) ? s.replace(LONE_HALF_OR_NUL, '\uFFFD') : s;
}

/** storable() over every string and key of a parsed JSON value. */
function storableDeep(v: unknown): unknown {
  if (typeof v === 'string') return storable(v);
  if (Array.isArray(v)) return v.map(storableDeep);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [storable(k), storableDeep(x)]));
  return v;
}

/**
 * Parses one stdout line. Returns null when the line is not a well-formed protocol event;
 * the caller then keeps it as a plain log line (the protocol says so), never fails the job.
 */
export function parseEvent(line: string): TrainerEvent | null {
  const s = line.trim();
  if (!s.startsWith('{')) return null;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(s) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (UNSTORABLE_ESCAPE.test(s) || UNSTORABLE.test(s)) o = storableDeep(o) as Record<string, unknown>;
  if (!o || typeof o !== 'object') return null;
  switch (o.type) {
    case 'progress':
      // Steps are whole and stored as such (bigint columns): a fractional step is rounded down,
      // a fractional total up; counts no integer column can hold are not progress.
      if (!isNum(o.step) || !isNum(o.total_steps) || o.step < 0 || o.total_steps <= 0) return null;
      if (o.step > Number.MAX_SAFE_INTEGER || o.total_steps > Number.MAX_SAFE_INTEGER) return null;
      return {
        type: 'progress',
        step: Math.floor(o.step),
        total_steps: Math.ceil(o.total_steps),
        ...(isNum(o.epoch) ? { epoch: o.epoch } : {}),
        ...(isNum(o.total_epochs) ? { total_epochs: o.total_epochs } : {}),
      };
    case 'metrics':
      if (!isNum(o.step) || !isNumRecord(o.values)) return null;
      return { type: 'metrics', step: o.step, ...(isNum(o.epoch) ? { epoch: o.epoch } : {}), values: o.values };
    case 'log':
      if (!isStr(o.message, 64 * 1024)) return null;
      return { type: 'log', level: (LEVELS.has(o.level as string) ? o.level : 'info') as LogLevel, message: o.message };
    case 'checkpoint':
      if (!isNum(o.step) || !isStr(o.path)) return null;
      return { type: 'checkpoint', step: o.step, path: o.path };
    case 'artifact':
      if (!isStr(o.name, 200) || !isStr(o.path) || !isStr(o.format, 100)) return null;
      return { type: 'artifact', name: o.name, path: o.path, format: o.format };
    case 'sample':
      if (!isNum(o.step) || o.step < 0 || !isStr(o.prompt, 2000) || !isStr(o.path)) return null;
      return { type: 'sample', step: Math.floor(o.step), prompt: o.prompt, path: o.path };
    case 'result':
      if (!isNumRecord(o.metrics)) return null;
      return { type: 'result', metrics: o.metrics, ...(o.details && typeof o.details === 'object' ? { details: o.details as Record<string, unknown> } : {}) };
    default:
      return null;
  }
}

/** For TypeScript trainers: write one event line. */
export function emit(event: TrainerEvent, out: NodeJS.WritableStream = process.stdout): void {
  out.write(JSON.stringify(event) + '\n');
}
