import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseEvent, type JobSpec, type SpecDataset, type TrainerEvent } from '../../src/trainers/protocol.js';

// The one way tests and benchmarks run a trainer outside the worker: write a job.json, start
// `<command> --spec job.json`, collect its protocol events. bench/ imports this too, so it
// must stay free of vitest.

export interface TrainerProcess {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Protocol events, in order; `eventsAtMs[i]` is when `events[i]` arrived, in ms from spawn. */
  events: TrainerEvent[];
  eventsAtMs: number[];
  /** stdout lines that are not protocol events. */
  junkLines: number;
  stdoutBytes: number;
  stderr: string;
  /** Wall time from spawn to exit, whole ms. */
  ms: number;
  /** Under `measure` only (GNU time): the child's peak resident set (MiB) and user + system CPU seconds. */
  peakRssMb?: number;
  cpuS?: number;
}

export interface StartOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Sees each event with the child, so a test can stop it mid-run. */
  onEvent?: (e: TrainerEvent, child: ChildProcess) => void;
  /**
   * Run under GNU time for peak RSS and CPU time (benchmarks). `child` is then `time`, which
   * a signal stops without passing it on: not for runs a test stops.
   */
  measure?: boolean;
}

const TIME_FORMAT = 'TRAINYARD_TIME PEAK_RSS_KB=%M CPU_S=%U+%S';

/** Starts `command --spec specPath` and collects what it says until it has exited and closed stdout. */
export function startTrainer(command: readonly string[], specPath: string, opts: StartOptions = {}): { child: ChildProcess; done: Promise<TrainerProcess> } {
  const argv = [...(opts.measure ? ['/usr/bin/time', '-f', TIME_FORMAT] : []), ...command, '--spec', specPath];
  const started = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const run: TrainerProcess = { code: null, signal: null, events: [], eventsAtMs: [], junkLines: 0, stdoutBytes: 0, stderr: '', ms: 0 };
  child.stdout!.on('data', (c: Buffer) => (run.stdoutBytes += c.length));
  child.stderr!.on('data', (c: Buffer) => (run.stderr += c.toString()));
  // Lines are split as the chunks arrive and this process is otherwise idle, so an arrival
  // time is within a millisecond or so of the trainer's write (the benchmarks time epochs by it).
  const lines = createInterface({ input: child.stdout!, crlfDelay: Infinity });
  lines.on('line', (line) => {
    const e = parseEvent(line);
    if (!e) return void run.junkLines++;
    run.events.push(e);
    run.eventsAtMs.push(performance.now() - started);
    opts.onEvent?.(e, child);
  });
  const done = new Promise<TrainerProcess>((resolve, reject) => {
    let pending = 2;
    const finish = (): void => {
      if (--pending > 0) return;
      run.ms = Math.round(performance.now() - started);
      if (opts.measure) measured(run);
      resolve(run);
    };
    lines.on('close', finish);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      run.code = code;
      run.signal = signal;
      finish();
    });
  });
  return { child, done };
}

/** Moves GNU time's closing line out of stderr and into the run. */
function measured(run: TrainerProcess): void {
  const at = run.stderr.lastIndexOf('TRAINYARD_TIME ');
  if (at < 0) return;
  const line = run.stderr.slice(at);
  run.stderr = run.stderr.slice(0, at);
  run.peakRssMb = Number(/PEAK_RSS_KB=(\d+)/.exec(line)?.[1] ?? 0) / 1024;
  const cpu = /CPU_S=([\d.]+)\+([\d.]+)/.exec(line);
  run.cpuS = cpu ? Number(cpu[1]) + Number(cpu[2]) : NaN;
}

/** How the worker starts a built-in trainer, from source. */
export const builtinTrainerCommand = (trainer: string): string[] => [
  process.execPath,
  '--import',
  'tsx',
  path.resolve(`src/trainers/builtin/${trainer}/main.ts`),
];

export interface TrainerRun extends TrainerProcess {
  /** The spec's output_dir and checkpoint_dir. */
  out: string;
  ckpt: string;
}

/** Writes `spec` to `specPath` and runs the built-in trainer it names until it exits. */
export async function runBuiltinTrainer(spec: JobSpec, specPath: string, opts: StartOptions = {}): Promise<TrainerRun> {
  await writeFile(specPath, JSON.stringify(spec));
  const run = await startTrainer(builtinTrainerCommand(spec.trainer), specPath, opts).done;
  return { ...run, out: spec.output_dir, ckpt: spec.checkpoint_dir };
}

export const ofType = <T extends TrainerEvent['type']>(run: { events: TrainerEvent[] }, type: T) =>
  run.events.filter((e): e is Extract<TrainerEvent, { type: T }> => e.type === type);

/** A dataset input by its files' paths; `id` defaults to the role (ds_train, ds_val). */
export interface SpecData {
  id?: string;
  kind: string;
  options?: Record<string, unknown>;
  files: string[];
}

const CONTENT_TYPES: Record<string, string> = { '.csv': 'text/csv', '.jsonl': 'application/x-ndjson' };

function specDataset(d: SpecData, id: string): SpecDataset {
  const files = d.files.map((f) => ({ path: f, filename: path.basename(f), content_type: CONTENT_TYPES[path.extname(f)] ?? 'application/octet-stream' }));
  return { id: d.id ?? id, kind: d.kind, options: d.options ?? {}, stats: null, files };
}

/** A job.json as the worker would write it for a first attempt. */
export function jobSpec(o: {
  job_id: string;
  trainer: string;
  hyperparameters?: Record<string, unknown>;
  dataset: SpecData;
  validation?: SpecData | null;
  /** The held-out test set (issue #18); absent: none. */
  test?: SpecData | null;
  output_dir: string;
  checkpoint_dir: string;
  resume_from?: string | null;
  init_from?: string | null;
}): JobSpec {
  return {
    protocol: 1,
    job_id: o.job_id,
    attempt: 1,
    trainer: o.trainer,
    base_model: null,
    hyperparameters: o.hyperparameters ?? {},
    inputs: {
      dataset: specDataset(o.dataset, 'ds_train'),
      validation_dataset: o.validation ? specDataset(o.validation, 'ds_val') : null,
      ...(o.test ? { test_dataset: specDataset(o.test, 'ds_test') } : {}),
    },
    output_dir: o.output_dir,
    checkpoint_dir: o.checkpoint_dir,
    resume_from: o.resume_from ?? null,
    init_from: o.init_from ?? null,
  };
}
