/**
 * Running a built-in trainer the way the worker runs it (a child process reading a job.json),
 * and the EEG setting the trainer benchmarks share, so that bench/trainers.ts and
 * bench/eeg-torch-vs-ts.ts time the very same thing. The running itself is the tests' own
 * (test/helpers/trainer-run.ts): one way to run a trainer, measured here.
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { specHyperparameters } from '../../src/domain/jobs/hyperparameters.js';
import { sequenceClassifier } from '../../src/trainers/builtin/sequence-classifier/catalog.js';
import type { JobSpec } from '../../src/trainers/protocol.js';
import { jobSpec as spec, ofType, runBuiltinTrainer as run } from '../../test/helpers/trainer-run.js';

/** Windows form inside runs of one state with stride 16; 220k rows give ~10,000 windows of 32. */
export const EEG_ROWS = 220_000;
export const EEG_SEED = 42;

export interface BenchDataset {
  kind: string;
  file: string;
  options: Record<string, string>;
}

export const eegDataset = (file: string): BenchDataset => ({ kind: 'tabular-csv', file, options: { label_column: 'state' } });

/** Patience 0: every run does all its epochs, so time per epoch is comparable between runs. */
export function sequenceHyper(modelType: string, epochs: number): Record<string, unknown> {
  return specHyperparameters(sequenceClassifier, {
    model_type: modelType,
    epochs,
    batch_size: 32,
    learning_rate: 0.001,
    dropout_rate: 0.3,
    l1_reg: 0.00001,
    l2_reg: 0.0001,
    use_separable: true,
    use_relative_pos: true,
    sequence_length: 32,
    validation_split: 0.2,
    patience: 0,
    seed: 42,
  });
}

export function jobSpec(dir: string, trainer: string, name: string, dataset: BenchDataset, hp: Record<string, unknown>): JobSpec {
  return spec({
    job_id: `job_${name}`,
    trainer,
    hyperparameters: hp,
    dataset: { id: 'ds', kind: dataset.kind, options: dataset.options, files: [dataset.file] },
    output_dir: path.join(dir, 'out'),
    checkpoint_dir: path.join(dir, 'ckpt'),
  });
}

export interface TimedLine {
  /** Seconds from spawn to the line's arrival in this process. */
  atS: number;
  line: string;
}

export interface TimedProcess {
  code: number | null;
  wallS: number;
  /** The child's maximum resident set (GNU time), MiB. */
  peakRssMb: number;
  /** The child's user + system CPU seconds (GNU time). */
  cpuS: number;
  stdout: TimedLine[];
  stderr: string;
}

/**
 * Runs a command under GNU time and timestamps each stdout line on arrival: for what is not a
 * trainer (the PyTorch reference in bench/eeg_torch.py); trainers go through runBuiltinTrainer. Stdout is a pipe,
 * to which Node and Python writes are synchronous or line-flushed, and this process is idle
 * meanwhile, so an arrival time is within a millisecond or so of the write.
 */
export async function spawnTimed(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<TimedProcess> {
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-f', 'PEAK_RSS_KB=%M CPU_S=%U+%S', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  const lines: TimedLine[] = [];
  let partial = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    const atS = (performance.now() - t0) / 1000;
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    for (const line of parts) lines.push({ atS, line });
  });
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  const wallS = (performance.now() - t0) / 1000;
  if (partial !== '') lines.push({ atS: wallS, line: partial });
  const peakRssMb = Number(/PEAK_RSS_KB=(\d+)/.exec(stderr)?.[1] ?? 0) / 1024;
  const cpu = /CPU_S=([\d.]+)\+([\d.]+)/.exec(stderr);
  return { code, wallS, peakRssMb, cpuS: cpu ? Number(cpu[1]) + Number(cpu[2]) : NaN, stdout: lines, stderr };
}

export interface TrainerRun {
  wallS: number;
  peakRssMb: number;
  cpuS: number;
  result: Record<string, number>;
  out: string;
  /** The trainer's protocol events, in order, with their arrival times. */
  events: { atS: number; event: Record<string, unknown> }[];
}

/** Runs a built-in trainer as the tests do (test/helpers/trainer-run.ts), under GNU time. */
export async function runBuiltinTrainer(root: string, trainer: string, name: string, dataset: BenchDataset, hp: Record<string, unknown>): Promise<TrainerRun> {
  const dir = path.join(root, name);
  for (const d of ['out', 'ckpt']) await mkdir(path.join(dir, d), { recursive: true });
  const r = await run(jobSpec(dir, trainer, name, dataset, hp), path.join(dir, 'job.json'), { measure: true });
  const result = ofType(r, 'result')[0];
  if (r.code !== 0 || !result) throw new Error(`${name} failed (${r.code}): ${r.stderr.slice(-500)}`);
  const events = r.events.map((event, i) => ({ atS: r.eventsAtMs[i]! / 1000, event: event as Record<string, unknown> }));
  return { wallS: r.ms / 1000, peakRssMb: r.peakRssMb ?? NaN, cpuS: r.cpuS ?? NaN, result: result.metrics, out: r.out, events };
}
