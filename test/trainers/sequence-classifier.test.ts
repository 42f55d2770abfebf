import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobSpec, ofType, runBuiltinTrainer, type TrainerRun } from '../helpers/trainer-run.js';
import { specHyperparameters } from '../../src/domain/jobs/hyperparameters.js';
import { sequenceClassifier } from '../../src/trainers/builtin/sequence-classifier/catalog.js';
import { Rng } from '../../src/trainers/builtin/runtime.js';
import { blocksOf, fitNormalization, loadSeries, splitWindows } from '../../src/trainers/builtin/sequence-classifier/data.js';
import type { Series, Window } from '../../src/trainers/builtin/sequence-classifier/data.js';
import { loadPredictor } from '../../src/trainers/builtin/sequence-classifier/predictor.js';
import type { TrainerEvent } from '../../src/trainers/protocol.js';

const STATES = ['drowsy', 'focused', 'relaxed'];
const FEATURES = ['alpha', 'beta', 'theta', 'delta', 'gamma'];
/** Mean band power per state: alpha up when relaxed, beta when focused, theta/delta when drowsy. */
const SIGNATURE: Record<string, number[]> = { relaxed: [12, 4, 6, 8, 2], focused: [5, 11, 5, 7, 4], drowsy: [5, 3, 11, 13, 1.5] };
const L = 8;
const BASE = {
  model_type: 'original',
  epochs: 8,
  batch_size: 32,
  learning_rate: 0.005,
  dropout_rate: 0.2,
  l1_reg: 0.00001,
  l2_reg: 0.0001,
  use_separable: true,
  use_relative_pos: true,
  sequence_length: L,
  validation_split: 0.2,
  patience: 3,
  // The defaults before issue #18, stated so these tests keep measuring what they measured:
  // constant learning rate, early stopping from the first epoch.
  lr_schedule: 'constant',
  min_epochs: 0,
  seed: 1,
};

interface GenOptions {
  shuffled?: boolean;
  episode?: [number, number];
  rename?: [string, string];
  extraState?: string;
}

/**
 * EEG-like band powers sampled every 0.25 s: episodes of one state (30-60 rows), each state with
 * its own band-power signature, plus per-sample noise (sd 3.5: a single row is right only
 * ~86% of the time) and a slow drift shared by all bands. `shuffled` permutes the episode
 * labels, so they say nothing about the signal. Rows are written in scrambled order: the
 * trainer has to sort by timestamp to find any window at all.
 */
function generate(rows: number, seed: number, o: GenOptions = {}): string {
  const rng = new Rng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const [minLen, maxLen] = o.episode ?? [30, 60];
  const episodes: { state: string; length: number }[] = [];
  for (let i = 0, prev = ''; i < rows;) {
    let state = STATES[rng.int(3)]!;
    while (state === prev) state = STATES[rng.int(3)]!;
    prev = state;
    const length = Math.min(rows - i, minLen + rng.int(maxLen - minLen + 1));
    episodes.push({ state, length });
    i += length;
  }
  const labels = episodes.map((e) => e.state);
  if (o.shuffled) rng.shuffle(labels);
  if (o.extraState) labels[labels.length - 1] = o.extraState;
  const lines: string[] = [];
  let t = 0;
  episodes.forEach((e, k) => {
    for (let r = 0; r < e.length; r++, t++) {
      const drift = 2.5 * Math.sin((2 * Math.PI * t) / 400);
      lines.push([(t * 0.25).toFixed(2), ...SIGNATURE[e.state]!.map((m) => (m + drift + 3.5 * gauss()).toFixed(3)), labels[k]].join(','));
    }
  });
  rng.shuffle(lines);
  const header = ['timestamp', ...FEATURES, 'state'].map((c) => (o.rename && c === o.rename[0] ? o.rename[1] : c));
  return [header.join(','), ...lines].join('\n') + '\n';
}

type Run = TrainerRun;

interface SpecOptions {
  files?: string[];
  validation?: string[];
  resumeFrom?: string;
  initFrom?: string;
}

let dir: string;
let seq = 0;
const csv = (name: string): string => path.join(dir, name);

function train(hyperparameters: Record<string, unknown>, o: SpecOptions = {}, onEvent?: (e: TrainerEvent, child: ChildProcess) => void): Promise<Run> {
  const id = `job_${++seq}`;
  const dataset = (files: string[]) => ({ kind: 'tabular-csv', options: { label_column: 'state' }, files: files.map(csv) });
  const spec = jobSpec({
    job_id: id,
    trainer: 'sequence-classifier',
    hyperparameters: specHyperparameters(sequenceClassifier, hyperparameters),
    dataset: dataset(o.files ?? ['signal.csv']),
    validation: o.validation ? dataset(o.validation) : null,
    output_dir: path.join(dir, id, 'out'),
    checkpoint_dir: path.join(dir, id, 'ckpt'),
    resume_from: o.resumeFrom ?? null,
    init_from: o.initFrom ?? null,
  });
  return runBuiltinTrainer(spec, path.join(dir, `${id}.json`), { onEvent });
}

/** At most a few trainers at once: enough to keep the cores busy without starving other test files. */
function limiter(max: number): <T>(job: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (job) => {
    while (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await job();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

const resultOf = (run: Run) => {
  const results = ofType(run, 'result');
  expect(results, `${run.stderr}\n${JSON.stringify(ofType(run, 'log'))}`).toHaveLength(1);
  return results[0]!;
};
const errorOf = (run: Run) => ofType(run, 'log').find((l) => l.level === 'error')?.message ?? '';
const json = (run: Run, file: string) => JSON.parse(readFileSync(path.join(run.out, file), 'utf8'));
/** The validation-independent part of the result: timings differ between runs. */
const scores = (run: Run) => {
  const { training_time_s: _t, inference_ms_per_sample: _i, ...rest } = resultOf(run).metrics;
  return rest;
};

/** The validation windows the trainer used, rebuilt from the same code and seed. */
async function validationWindows(file: string, seed: number): Promise<{ series: Series; val: Window[]; train: Window[] }> {
  const series = await loadSeries([{ path: csv(file) }], 'state', 'test', () => {});
  return { series, ...splitWindows(series.labels, L, BASE.validation_split, seed) };
}

const rowsOf = (series: Series, w: Window) =>
  Array.from({ length: L }, (_, t) => Object.fromEntries(series.features.map((f, j) => [f, series.values[(w.start + t) * series.features.length + j]!])));

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'trainer-sequence-'));
  const signal = generate(1200, 7);
  await writeFile(csv('signal.csv'), signal);
  await writeFile(csv('signal2.csv'), generate(1200, 8));
  // Short episodes: many independent ones in validation, so chance stays near 1/3 with little spread.
  await writeFile(csv('shuffled.csv'), generate(4000, 9, { shuffled: true, episode: [12, 24] }));
  await writeFile(csv('renamed.csv'), generate(600, 10, { rename: ['gamma', 'mu'] }));
  await writeFile(csv('new-state.csv'), generate(600, 11, { extraState: 'asleep' }));
  const [header, ...rows] = signal.trimEnd().split('\n');
  const byTime = rows.sort((a, b) => Number(a.split(',')[0]) - Number(b.split(',')[0]));
  await writeFile(csv('train.csv'), [header, ...byTime.slice(0, 960)].join('\n'));
  await writeFile(csv('val.csv'), [header, ...byTime.slice(960)].join('\n'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sequence-classifier trainer', () => {
  const runs: Record<string, Run> = {};
  beforeAll(async () => {
    // Independent trainings side by side: each is one single-threaded process.
    const run = limiter(4);
    const jobs: Record<string, Promise<Run>> = {
      base: run(() => train(BASE)),
      transformer: run(() => train({ ...BASE, model_type: 'transformer' })),
      resnet: run(() => train({ ...BASE, model_type: 'resnet_lstm' })),
      cnn: run(() => train({ ...BASE, model_type: 'enhanced_cnn_lstm' })),
      shuffled: run(() => train({ ...BASE, epochs: 10 }, { files: ['shuffled.csv'] })),
      again: run(() => train(BASE)),
      otherSeed: run(() => train({ ...BASE, seed: 2 })),
      single: run(() => train({ ...BASE, sequence_length: 1, epochs: 4 })),
      plainVariants: run(() => train({ ...BASE, model_type: 'enhanced_cnn_lstm', use_separable: false, epochs: 4 })),
      absoluteOnly: run(() => train({ ...BASE, model_type: 'transformer', use_relative_pos: false, epochs: 4 })),
      given: run(() => train(BASE, { files: ['train.csv'], validation: ['val.csv'] })),
    };
    const done = await Promise.all(Object.values(jobs));
    Object.keys(jobs).forEach((k, i) => (runs[k] = done[i]!));
  }, 240_000);

  it('learns the dense baseline: metrics, progress, artifacts named as their files', () => {
    const base = runs.base!;
    expect(base.code, base.stderr).toBe(0);
    const result = resultOf(base);
    const m = result.metrics;
    expect(m.val_accuracy).toBeGreaterThanOrEqual(0.9);
    for (const key of [
      'accuracy',
      'loss',
      'val_accuracy',
      'val_loss',
      'val_auc',
      'val_f1',
      'training_time_s',
      'inference_ms_per_sample',
      'model_size_bytes',
      'epochs_run',
    ])
      expect(m[key], key).toBeTypeOf('number');
    expect(m.val_auc).toBeGreaterThanOrEqual(0.9);
    expect(m.inference_ms_per_sample).toBeGreaterThan(0);

    const epochs = ofType(base, 'metrics');
    expect(epochs.map((e) => e.epoch)).toEqual(Array.from({ length: m.epochs_run! }, (_, i) => i + 1));
    expect(Object.keys(epochs[0]!.values).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_auc', 'val_f1', 'val_loss']);
    expect(epochs[0]!.values.loss).toBeGreaterThan(epochs.at(-1)!.values.loss!);
    const batches = Math.ceil(m.train_windows! / BASE.batch_size);
    expect(ofType(base, 'progress').at(-1)).toEqual({
      type: 'progress',
      step: m.epochs_run! * batches,
      total_steps: BASE.epochs * batches,
      epoch: m.epochs_run,
      total_epochs: BASE.epochs,
    });

    const details = result.details as { confusion_matrix: number[][]; labels: string[]; warm_start: boolean };
    expect(details.labels).toEqual(STATES);
    expect(details.warm_start).toBe(false);
    expect(details.confusion_matrix.flat().reduce((a, b) => a + b, 0)).toBe(m.val_windows);

    const names = ['model.json', 'weights.bin', 'preprocessing.json', 'README.md', 'metrics.json'];
    expect(ofType(base, 'artifact').map((a) => a.name)).toEqual(names);
    for (const a of ofType(base, 'artifact')) {
      expect(a.path).toBe(path.join(base.out, a.name));
      expect(existsSync(a.path)).toBe(true);
    }
    expect(readFileSync(path.join(base.out, 'weights.bin')).byteLength).toBe(m.model_size_bytes);
    const prep = json(base, 'preprocessing.json');
    expect(prep).toMatchObject({
      model_type: 'original',
      label_column: 'state',
      order_column: 'timestamp',
      features: FEATURES,
      sequence_length: L,
      stride: L / 2,
      classes: STATES,
    });
    expect(json(base, 'metrics.json').final).toEqual(m);
    const card = readFileSync(path.join(base.out, 'README.md'), 'utf8');
    expect(card).toContain(m.val_accuracy!.toFixed(4));
    expect(card).toContain('Confusion matrix');
  });

  it.each([
    ['enhanced_cnn_lstm', 'cnn'],
    ['resnet_lstm', 'resnet'],
    ['transformer', 'transformer'],
  ])('learns with %s', (modelType, key) => {
    const run = runs[key]!;
    expect(run.code, run.stderr).toBe(0);
    const result = resultOf(run);
    expect(result.metrics.val_accuracy, `${modelType} in ${run.ms} ms`).toBeGreaterThanOrEqual(0.9);
    expect(json(run, 'preprocessing.json').model_type).toBe(modelType);
  });

  it('builds the plain-convolution and absolute-position variants, and one-row windows', () => {
    for (const key of ['plainVariants', 'absoluteOnly', 'single']) {
      expect(runs[key]!.code, runs[key]!.stderr).toBe(0);
      expect(resultOf(runs[key]!).metrics.val_accuracy, key).toBeGreaterThanOrEqual(0.8);
    }
    // Windows of 8 rows average away noise that single rows cannot.
    expect(resultOf(runs.single!).metrics.val_accuracy).toBeLessThan(resultOf(runs.base!).metrics.val_accuracy!);
  });

  it('learns nothing from shuffled labels: val_accuracy near chance', () => {
    const run = runs.shuffled!;
    expect(run.code, run.stderr).toBe(0);
    const m = resultOf(run).metrics;
    expect(m.val_windows).toBeGreaterThan(100);
    expect(m.val_accuracy).toBeLessThanOrEqual(0.55);
  });

  it('splits by blocks: no validation window shares a row with a training window', async () => {
    const { train: trainWindows, val } = await validationWindows('signal.csv', BASE.seed);
    const trainRows = new Set(trainWindows.flatMap((w) => Array.from({ length: L }, (_, t) => w.start + t)));
    expect(val.length).toBeGreaterThan(0);
    expect(val.every((w) => Array.from({ length: L }, (_, t) => w.start + t).every((r) => !trainRows.has(r)))).toBe(true);
    // Stratified: every class is represented in validation.
    expect(new Set(val.map((w) => w.label)).size).toBe(3);
    // A block never spans two labels, and its windows all carry that label.
    const series = await loadSeries([{ path: csv('signal.csv') }], 'state', 'test', () => {});
    for (const block of blocksOf(series.labels, L))
      for (const w of block.windows) for (let t = 0; t < L; t++) expect(series.labels[w.start + t]).toBe(block.label);
  });

  it('fits normalization on the training windows only', async () => {
    const { series, train: trainWindows } = await validationWindows('signal.csv', BASE.seed);
    const saved = json(runs.base!, 'preprocessing.json').normalization;
    const fitted = fitNormalization(series, trainWindows, L);
    saved.mean.forEach((v: number, j: number) => expect(v).toBeCloseTo(fitted.mean[j]!, 9));
    saved.std.forEach((v: number, j: number) => expect(v).toBeCloseTo(fitted.std[j]!, 9));
    const everything = fitNormalization(
      series,
      blocksOf(series.labels, 1).flatMap((b) => b.windows),
      1,
    );
    expect(saved.mean).not.toEqual(everything.mean);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const weights = (run: Run) => readFileSync(path.join(run.out, 'weights.bin'));
    expect(weights(runs.again!).equals(weights(runs.base!))).toBe(true);
    expect(scores(runs.again!)).toEqual(scores(runs.base!));
    expect(ofType(runs.again!, 'metrics')).toEqual(ofType(runs.base!, 'metrics'));
    expect(weights(runs.otherSeed!).equals(weights(runs.base!))).toBe(false);
  });

  it('uses a given validation dataset instead of splitting', async () => {
    const run = runs.given!;
    expect(run.code, run.stderr).toBe(0);
    const m = resultOf(run).metrics;
    expect(m.val_accuracy).toBeGreaterThanOrEqual(0.9);
    // Every window of each file, and nothing else: train.csv is the first 960 rows by time, val.csv the rest.
    const windows = async (file: string) =>
      blocksOf((await loadSeries([{ path: csv(file) }], 'state', 'test', () => {})).labels, L).flatMap((b) => b.windows).length;
    expect(m.val_windows).toBe(await windows('val.csv'));
    expect(m.train_windows).toBe(await windows('train.csv'));
  });

  it('loads back through loadPredictor and reproduces val_accuracy; bad shapes are clear errors', async () => {
    const { series, val } = await validationWindows('signal.csv', BASE.seed);
    const predictor = await loadPredictor(runs.base!.out);
    try {
      expect(predictor.bytes).toBe(resultOf(runs.base!).metrics.model_size_bytes);
      const instances = val.map((w) => rowsOf(series, w));
      const predictions = await predictor.predict(instances);
      const correct = predictions.filter((p, i) => p.label === val[i]!.label).length;
      expect(correct / val.length).toBe(resultOf(runs.base!).metrics.val_accuracy);
      expect(Object.keys(predictions[0]!.probabilities)).toEqual(STATES);
      expect(Object.values(predictions[0]!.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      // Arrays in feature order (and numeric strings, as CSV cells arrive) mean the same.
      const asArrays = instances.slice(0, 5).map((rows) => rows.map((r) => FEATURES.map((f) => String(r[f]))));
      expect(await predictor.predict(asArrays)).toEqual(predictions.slice(0, 5));

      const one = instances[0]!;
      await expect(predictor.predict([one.slice(1)])).rejects.toThrow(/instance 0: expected 8 rows \(sequence_length\) or more, got 7/);
      // A missing value is filled with the training mean, as in training, and counted.
      const [, gapped] = await predictor.predict([one, one.map(({ gamma: _g, ...rest }, t) => (t === 2 ? { ...rest, gamma: null } : rest))]);
      expect(gapped!.filled).toBe(8);
      expect(predictions[0]!.filled).toBeUndefined();
      // A longer recording is windowed (stride 4) and the windows' probabilities averaged.
      const long = rowsOf(series, { start: val[0]!.start, label: val[0]!.label }).concat(
        rowsOf(series, { start: val[0]!.start + L / 2, label: '' }).slice(L / 2),
      );
      const [voted] = await predictor.predict([long]);
      const [a, b] = await predictor.predict([long.slice(0, L), long.slice(L / 2)]);
      for (const c of STATES) expect(voted!.probabilities[c]).toBeCloseTo((a!.probabilities[c]! + b!.probabilities[c]!) / 2, 6);
      await expect(predictor.predict([one.map((r, t) => (t === 3 ? { ...r, beta: 'high' } : r))])).rejects.toThrow(
        /instance 0, row 3: feature beta is not a finite number/,
      );
      await expect(predictor.predict([one.map(() => [1, 2, 3])])).rejects.toThrow(/expected 5 values/);
      await expect(predictor.predict([{ alpha: 1 }])).rejects.toThrow(/expected an array of 8 rows/);
    } finally {
      predictor.dispose();
    }

    // sequence_length 1 is tabular classification: a bare row works as well as [row] or an array.
    const single = await loadPredictor(runs.single!.out);
    try {
      const row = { alpha: 12, beta: 4, theta: 6, delta: 8, gamma: 2, timestamp: 3 };
      const [bare, wrapped, array] = await single.predict([row, [row], [12, 4, 6, 8, 2]]);
      expect(bare!.label).toBe('relaxed');
      expect(wrapped).toEqual(bare);
      expect(array).toEqual(bare);
    } finally {
      single.dispose();
    }
  });

  it('warm-starts from a previous version: keeps its normalization, refuses other features or classes', async () => {
    const base = runs.base!;
    // A near-zero learning rate makes the run an evaluation of the loaded model on new data:
    // high accuracy from the first epoch proves the weights came along.
    const [warm, renamed, newState] = await Promise.all([
      train({ ...BASE, epochs: 1, learning_rate: 1e-7, sequence_length: 4, model_type: 'transformer' }, { files: ['signal2.csv'], initFrom: base.out }),
      train(BASE, { files: ['renamed.csv'], initFrom: base.out }),
      train(BASE, { files: ['new-state.csv'], initFrom: base.out }),
    ]);
    expect(warm.code, warm.stderr).toBe(0);
    const result = resultOf(warm);
    expect(result.details).toMatchObject({ warm_start: true, model_type: 'original', sequence_length: L });
    expect(ofType(warm, 'metrics')[0]!.values.val_accuracy).toBeGreaterThanOrEqual(0.9);
    expect(json(warm, 'preprocessing.json').normalization).toEqual(json(base, 'preprocessing.json').normalization);
    const warnings = ofType(warm, 'log')
      .filter((l) => l.level === 'warn')
      .map((l) => l.message);
    expect(warnings).toContainEqual(expect.stringMatching(/keeping the previous version's sequence_length 8/));
    expect(warnings).toContainEqual(expect.stringMatching(/keeping the previous version's architecture original/));

    expect(renamed.code).toBe(1);
    expect(errorOf(renamed)).toMatch(
      /warm start: the dataset's feature columns do not match the previous version's \(missing "gamma"; not in the previous version "mu"\)/,
    );
    expect(newState.code).toBe(1);
    expect(errorOf(newState)).toMatch(/classes "asleep" are not among the previous version's classes/);
  }, 60_000);

  it('on SIGTERM saves a checkpoint and exits 143; resuming gives the uninterrupted model', async () => {
    // Small batches make epochs long enough for the stop to land mid-run.
    const long = { ...BASE, epochs: 6, batch_size: 4, patience: 2 };
    let killedAt = 0;
    const stopped = await train(long, {}, (e, child) => {
      if (e.type === 'metrics' && e.epoch === 2 && !killedAt) {
        killedAt = Date.now();
        child.kill('SIGTERM');
      }
    });
    expect(stopped.code).toBe(143);
    expect(Date.now() - killedAt).toBeLessThan(5000);
    const [ckpt] = ofType(stopped, 'checkpoint');
    expect(ckpt).toBeDefined();
    const epoch = ofType(stopped, 'metrics').length;
    expect(epoch).toBeGreaterThanOrEqual(2);
    expect(epoch).toBeLessThan(6);
    expect(ckpt!.path).toBe(path.join(stopped.ckpt, `ckpt-${epoch}.json`));
    expect(existsSync(ckpt!.path)).toBe(true);
    expect(existsSync(path.join(stopped.out, 'model.json'))).toBe(false);

    const [resumed, reference] = await Promise.all([train(long, { resumeFrom: ckpt!.path }), train(long)]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(ofType(resumed, 'log').some((l) => l.message.includes(`after epoch ${epoch}`))).toBe(true);
    expect(ofType(resumed, 'metrics')[0]!.epoch).toBe(epoch + 1);
    expect(readFileSync(path.join(resumed.out, 'weights.bin')).equals(readFileSync(path.join(reference.out, 'weights.bin')))).toBe(true);
    expect(scores(resumed)).toEqual(scores(reference));
    expect(json(resumed, 'metrics.json').epochs).toEqual(json(reference, 'metrics.json').epochs);
  }, 60_000);
});
