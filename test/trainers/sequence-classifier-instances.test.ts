// sequence-classifier with instances (issue #18): recordings named by instance_column, split
// and scored per recording, k-fold by recording, a test set that never touches training, and
// predict on whole recordings of any length.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobSpec, ofType, runBuiltinTrainer, type TrainerRun } from '../helpers/trainer-run.js';
import { specHyperparameters } from '../../src/domain/jobs/hyperparameters.js';
import { Rng } from '../../src/trainers/builtin/runtime.js';
import { autoSequenceLength, chooseModelType } from '../../src/trainers/builtin/sequence-classifier/auto.js';
import { sequenceClassifier } from '../../src/trainers/builtin/sequence-classifier/catalog.js';
import { fitNormalization, loadSeries } from '../../src/trainers/builtin/sequence-classifier/data.js';
import { loadPredictor } from '../../src/trainers/builtin/sequence-classifier/predictor.js';
import { readHyper } from '../../src/trainers/builtin/sequence-classifier/prepare.js';
import type { TrainerEvent } from '../../src/trainers/protocol.js';
import { instanceUnits, instanceWindows, splitUnits, stratifiedFolds } from '../../src/trainers/builtin/sequence-classifier/units.js';

const CLASSES = ['1', '2', '3'];
const HP = {
  model_type: 'original',
  epochs: 12,
  learning_rate: 0.005,
  sequence_length: 'auto',
  patience: 4,
  min_epochs: 0,
  lr_schedule: 'constant',
  validation_split: 0.25,
  seed: 3,
};

interface Recording {
  id: string;
  label: string;
  rows: number[][];
}

/**
 * Recordings of 2 channels, 12-40 rows each: the class sets the level of channel a and the
 * frequency of channel b, with noise (sd 1) that a single row cannot see through. `t`
 * restarts at 0 in every recording, and the lines are written in scrambled order.
 */
function recordings(n: number, seed: number, lengths: [number, number] = [16, 40]): Recording[] {
  const rng = new Rng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  return Array.from({ length: n }, (_, i) => {
    const label = CLASSES[i % 3]!;
    const c = Number(label);
    const length = lengths[0] + rng.int(lengths[1] - lengths[0] + 1);
    const rows = Array.from({ length }, (_, t) => [t, 0.8 * c + gauss(), Math.sin((2 * Math.PI * c * t) / 12) + 0.5 * gauss()]);
    return { id: `r${seed}-${i}`, label, rows };
  });
}

function csvOf(recs: readonly Recording[], seed: number, labelOf = (r: Recording) => r.label): string {
  const lines = recs.flatMap((r) => r.rows.map(([t, a, b]) => `${r.id},${t},${a!.toFixed(4)},${b!.toFixed(4)},${labelOf(r)}`));
  new Rng(seed).shuffle(lines);
  return ['rec,t,a,b,label', ...lines].join('\n') + '\n';
}

let dir: string;
let seq = 0;
const file = (name: string): string => path.join(dir, name);
const OPTIONS = { label_column: 'label', instance_column: 'rec', order_column: 't' };

function train(
  hp: Record<string, unknown>,
  o: {
    data?: string;
    validation?: string;
    test?: string;
    options?: Record<string, unknown>;
    resumeFrom?: string;
    onEvent?: (e: TrainerEvent, child: ChildProcess) => void;
  } = {},
): Promise<TrainerRun> {
  const id = `job_${++seq}`;
  const ds = (name: string) => ({ kind: 'tabular-csv', options: o.options ?? OPTIONS, files: [file(name)] });
  const spec = jobSpec({
    job_id: id,
    trainer: 'sequence-classifier',
    hyperparameters: specHyperparameters(sequenceClassifier, { ...HP, ...hp }),
    dataset: ds(o.data ?? 'train.csv'),
    validation: o.validation ? ds(o.validation) : null,
    output_dir: path.join(dir, id, 'out'),
    checkpoint_dir: path.join(dir, id, 'ckpt'),
    resume_from: o.resumeFrom ?? null,
  });
  if (o.test)
    spec.inputs.test_dataset = {
      id: 'ds_test',
      kind: 'tabular-csv',
      options: OPTIONS,
      stats: null,
      files: [{ path: file(o.test), filename: o.test, content_type: 'text/csv' }],
    };
  return runBuiltinTrainer(spec, path.join(dir, `${id}.json`), { onEvent: o.onEvent });
}

const resultOf = (run: TrainerRun) => {
  const results = ofType(run, 'result');
  expect(results, `${run.stderr}\n${JSON.stringify(ofType(run, 'log'))}`).toHaveLength(1);
  return results[0]!;
};
const errorOf = (run: TrainerRun) => ofType(run, 'log').find((l) => l.level === 'error')?.message ?? '';
const json = (run: TrainerRun, name: string) => JSON.parse(readFileSync(path.join(run.out, name), 'utf8'));
const weights = (run: TrainerRun) => readFileSync(path.join(run.out, 'weights.bin'));

const trainRecs = recordings(48, 1);
const testRecs = recordings(30, 2, [10, 50]);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'trainer-sequence-instances-'));
  await writeFile(file('train.csv'), csvOf(trainRecs, 11));
  await writeFile(file('test.csv'), csvOf(testRecs, 12));
  // The same test recordings with their labels shuffled across recordings.
  const shuffled = new Rng(5).shuffle(testRecs.map((r) => r.label));
  await writeFile(
    file('test-shuffled.csv'),
    csvOf(testRecs, 12, (r) => shuffled[testRecs.indexOf(r)]!),
  );
  // One row of recording 7 with another label.
  await writeFile(file('mixed.csv'), csvOf(trainRecs, 11).replace(new RegExp(`^(${trainRecs[7]!.id},0,[^,]+,[^,]+),${trainRecs[7]!.label}$`, 'm'), '$1,9'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('instances in the data', () => {
  it('groups rows by instance in order of first appearance, sorted by order_column within each', async () => {
    const series = await loadSeries([{ path: file('train.csv') }], 'label', 'test', () => {}, { instanceColumn: 'rec', orderColumn: 't' });
    expect(series.features).toEqual(['a', 'b']);
    const firstSeen = [
      ...new Set(
        csvOf(trainRecs, 11)
          .split('\n')
          .slice(1, -1)
          .map((l) => l.split(',')[0]!),
      ),
    ];
    expect(series.instances!.map((i) => i.id)).toEqual(firstSeen);
    for (const inst of series.instances!) {
      const rec = trainRecs.find((r) => r.id === inst.id)!;
      expect(inst.end - inst.start).toBe(rec.rows.length);
      expect(inst.label).toBe(rec.label);
      // The rows are the recording's own, in time order: t restarts in each recording, and sorting it
      // over the whole file (what order_column alone did before instances) would interleave them.
      const a = Array.from({ length: inst.end - inst.start }, (_, t) => series.values[(inst.start + t) * 2]!);
      expect(a).toEqual(rec.rows.map((r) => Number(r[1]!.toFixed(4))));
    }
    const flat = await loadSeries([{ path: file('train.csv') }], 'label', 'test', () => {}, { orderColumn: 't' });
    expect(flat.labels.slice(0, 48)).not.toEqual(new Array(48).fill(flat.labels[0]));
  });

  it('refuses an instance whose label changes, naming it', async () => {
    await expect(loadSeries([{ path: file('mixed.csv') }], 'label', 'dataset', () => {}, { instanceColumn: 'rec', orderColumn: 't' })).rejects.toThrow(
      new RegExp(`dataset: instance "${trainRecs[7]!.id}" has more than one "label" value`),
    );
    const run = await train({}, { data: 'mixed.csv' });
    expect(run.code).toBe(1);
    expect(errorOf(run)).toContain(`instance "${trainRecs[7]!.id}"`);
  });

  it('splits and folds by recording, stratified, never one recording on both sides', async () => {
    const series = await loadSeries([{ path: file('train.csv') }], 'label', 'test', () => {}, { instanceColumn: 'rec', orderColumn: 't' });
    const units = instanceUnits(series.instances!, 16);
    const { train: tr, val } = splitUnits(units, 0.25, 3);
    expect(val).toHaveLength(12);
    expect(tr.filter((i) => val.includes(i))).toEqual([]);
    expect([...tr, ...val].sort((a, b) => a - b)).toEqual(units.map((_, i) => i));
    expect(new Set(val.map((i) => units[i]!.label)).size).toBe(3);
    // Every window of a unit lies inside its recording.
    units.forEach((u, i) => u.windows.forEach((w) => expect(w.start).toBeGreaterThanOrEqual(series.instances![i]!.start)));
    units.forEach((u, i) => u.windows.forEach((w) => expect(w.start + (w.length ?? 16)).toBeLessThanOrEqual(series.instances![i]!.end)));

    const folds = stratifiedFolds(units, 5, 3);
    expect(folds.flat().sort((a, b) => a - b)).toEqual(units.map((_, i) => i));
    for (const f of folds) {
      expect(f.length).toBeGreaterThanOrEqual(9);
      expect(f.length).toBeLessThanOrEqual(10);
      expect(new Set(f.map((i) => units[i]!.label)).size).toBe(3);
    }
  });

  it('cuts windows inside a recording, pads a short one, and resolves the auto settings', () => {
    expect(instanceWindows(100, 5, 8, 'x')).toEqual([{ start: 100, label: 'x', length: 5 }]);
    expect(instanceWindows(0, 8, 8, 'x')).toEqual([{ start: 0, label: 'x' }]);
    // Stride 4, and one more window that ends at the last row.
    expect(instanceWindows(0, 19, 8, 'x').map((w) => w.start)).toEqual([0, 4, 8, 11]);
    expect(autoSequenceLength([100, 100])).toBe(25);
    expect(autoSequenceLength([7, 15, 29])).toBe(7);
    expect(autoSequenceLength([150, 150])).toBe(38);
    expect(chooseModelType('auto', { instances: true, trainInstances: 40, longestInstance: 100 })).toBe('minirocket');
    expect(chooseModelType('auto', { instances: true, trainInstances: 2001, longestInstance: 100 })).toBe('enhanced_cnn_lstm');
    expect(chooseModelType('auto', { instances: true, trainInstances: 40, longestInstance: 8 })).toBe('enhanced_cnn_lstm');
    expect(chooseModelType('auto', { instances: false, trainInstances: 40, longestInstance: 100 })).toBe('enhanced_cnn_lstm');
    expect(chooseModelType('transformer', { instances: true, trainInstances: 40, longestInstance: 100 })).toBe('transformer');
    const hp = readHyper(specHyperparameters(sequenceClassifier, { validation: { folds: 3 } }));
    expect(hp).toMatchObject({ model_type: 'auto', sequence_length: 'auto', patience: 'auto', validation: { folds: 3 }, min_epochs: 10 });
    expect(() => readHyper({ ...hp, sequence_length: 'long' })).toThrow(/sequence_length must be an integer or "auto"/);
  });
});

describe('training on recordings', () => {
  const runs: Record<string, TrainerRun> = {};
  beforeAll(async () => {
    const [main, shuffledTest, cv, both] = await Promise.all([
      train({}, { test: 'test.csv' }),
      train({}, { test: 'test-shuffled.csv' }),
      train({ validation: { folds: 3 }, epochs: 8 }),
      train({ validation: { folds: 3 } }, { validation: 'train.csv' }),
    ]);
    Object.assign(runs, { main, shuffledTest, cv, both });
  }, 120_000);

  it('classifies whole recordings: per-recording validation and test figures, typed labels, auto length recorded', () => {
    const run = runs.main!;
    expect(run.code, run.stderr).toBe(0);
    const { metrics: m, details } = resultOf(run);
    expect(m.val_instances).toBe(12);
    expect(m.val_accuracy).toBeGreaterThanOrEqual(0.9);
    expect(m.test_accuracy).toBeGreaterThanOrEqual(0.9);
    expect(m.test_macro_f1).toBeGreaterThanOrEqual(0.9);
    expect(m.val_window_accuracy).toBeTypeOf('number');
    const test = (details as { test: { count: number; confusion_matrix: number[][]; labels: string[] } }).test;
    expect(test.count).toBe(testRecs.length);
    expect(test.confusion_matrix.flat().reduce((a, b) => a + b, 0)).toBe(testRecs.length);
    expect(test.labels).toEqual(CLASSES);
    expect(json(run, 'metrics.json').test).toEqual(test);
    // Shortest training recording 16, median ~28: a quarter of it, at least 16.
    expect(details).toMatchObject({ sequence_length: 16, resolved: { sequence_length: 16, auto: ['sequence_length'] }, instance_column: 'rec' });
    const prep = json(run, 'preprocessing.json');
    expect(prep).toMatchObject({
      version: 2,
      instance_column: 'rec',
      order_column: 't',
      label_type: 'integer',
      sequence_length: 16,
      auto: { sequence_length: 16 },
    });
    const card = readFileSync(path.join(run.out, 'README.md'), 'utf8');
    expect(card).toContain('soft vote');
    expect(card).toContain(`Test set (${testRecs.length} recordings`);
  });

  it('never trains on the test set: shuffled test labels give the same weights, other test figures', () => {
    const [a, b] = [runs.main!, runs.shuffledTest!];
    expect(b.code, b.stderr).toBe(0);
    expect(weights(b).equals(weights(a))).toBe(true);
    expect(json(b, 'preprocessing.json').normalization).toEqual(json(a, 'preprocessing.json').normalization);
    const [ma, mb] = [resultOf(a).metrics, resultOf(b).metrics];
    expect(mb.val_accuracy).toBe(ma.val_accuracy);
    expect(mb.test_accuracy).toBeLessThan(0.6);
    expect(mb.test_accuracy).not.toBe(ma.test_accuracy);
  });

  it('fits normalization on the training recordings of the split only', async () => {
    const series = await loadSeries([{ path: file('train.csv') }], 'label', 'test', () => {}, { instanceColumn: 'rec', orderColumn: 't' });
    const units = instanceUnits(series.instances!, 16);
    const { train: tr } = splitUnits(units, HP.validation_split, HP.seed);
    const fitted = fitNormalization(
      series,
      tr.flatMap((i) => units[i]!.windows),
      16,
    );
    json(runs.main!, 'preprocessing.json').normalization.mean.forEach((v: number, j: number) => expect(v).toBeCloseTo(fitted.mean[j]!, 9));
  });

  it('cross-validates by recording, then trains the returned model on all of them for the mean best epoch', async () => {
    const run = runs.cv!;
    expect(run.code, run.stderr).toBe(0);
    const { metrics: m, details } = resultOf(run);
    const folds = (details as { cv: { folds: { accuracy: number; best_epoch: number; val_units: number }[]; final_epochs: number } }).cv;
    expect(folds.folds).toHaveLength(3);
    expect(folds.folds.map((f) => f.val_units)).toEqual([16, 16, 16]);
    const mean = folds.folds.reduce((a, f) => a + f.accuracy, 0) / 3;
    expect(m.cv_accuracy).toBeCloseTo(mean, 12);
    expect(m.cv_folds).toBe(3);
    expect(m.cv_accuracy_std).toBeTypeOf('number');
    expect(m.cv_accuracy).toBeGreaterThanOrEqual(0.85);
    expect(m.val_accuracy).toBe(m.cv_accuracy);
    expect(folds.final_epochs).toBe(Math.round(folds.folds.reduce((a, f) => a + f.best_epoch, 0) / 3));
    expect(m.epochs_run).toBe(folds.final_epochs);
    const series = await loadSeries([{ path: file('train.csv') }], 'label', 'test', () => {}, { instanceColumn: 'rec', orderColumn: 't' });
    expect(m.train_windows).toBe(instanceUnits(series.instances!, 16).flatMap((u) => u.windows).length); // every recording
    expect(m.val_windows).toBe(0);
    const progress = ofType(run, 'progress');
    const steps = progress.map((p) => p.step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(new Set(progress.map((p) => p.total_steps)).size).toBe(1);
  });

  it('on SIGTERM during cross-validation checkpoints the fold; resuming repeats no fold and gives the uninterrupted model', async () => {
    const hp = { validation: { folds: 3 }, epochs: 8 };
    let killed = false;
    const stopped = await train(hp, {
      onEvent: (e, child) => {
        if (!killed && e.type === 'log' && e.message.startsWith('fold 1/3')) {
          killed = true;
          child.kill('SIGTERM');
        }
      },
    });
    expect(stopped.code, stopped.stderr).toBe(143);
    const [ckpt] = ofType(stopped, 'checkpoint');
    expect(ckpt).toBeDefined();
    const resumed = await train(hp, { resumeFrom: ckpt!.path });
    expect(resumed.code, resumed.stderr).toBe(0);
    // Fold 1 is not trained again: its figures come from the checkpoint.
    expect(ofType(resumed, 'log').some((l) => l.message.startsWith('fold 1/3'))).toBe(false);
    expect(weights(resumed).equals(weights(runs.cv!))).toBe(true);
    expect((resultOf(resumed).details as { cv: unknown }).cv).toEqual((resultOf(runs.cv!).details as { cv: unknown }).cv);
  }, 60_000);

  it('refuses a validation dataset together with folds', () => {
    expect(runs.both!.code).toBe(1);
    expect(errorOf(runs.both!)).toMatch(/both a validation dataset .* and validation\.folds \(3\) were given: pick one/);
  });

  it('predicts one recording of any length, typed label, filled values; old preprocessing still loads', async () => {
    const predictor = await loadPredictor(runs.main!.out);
    try {
      const asRows = (r: Recording) => r.rows.map(([t, a, b]) => ({ t, a: Number(a!.toFixed(4)), b: Number(b!.toFixed(4)) }));
      const predictions = await predictor.predict(testRecs.map(asRows));
      const correct = predictions.filter((p, i) => p.label === Number(testRecs[i]!.label)).length;
      expect(correct / testRecs.length).toBe(resultOf(runs.main!).metrics.test_accuracy);
      expect(typeof predictions[0]!.label).toBe('number');
      expect(Object.keys(predictions[0]!.probabilities)).toEqual(CLASSES);
      const rec = testRecs.find((r) => r.label === '3' && r.rows.length > 30)!;
      const [short, long, gap] = await predictor.predict([asRows(rec).slice(0, 5), asRows(rec), asRows(rec).map((r, t) => (t < 3 ? { ...r, a: null } : r))]);
      expect(Object.values(short!.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(long!.label).toBe(3);
      expect(gap!.filled).toBe(3);
      expect(long!.filled).toBeUndefined();
      await expect(predictor.predict([[]])).rejects.toThrow(/instance 0: expected at least 1 row/);
    } finally {
      predictor.dispose();
    }
    // A version 1 file (before instances and label types) loads as it did: string labels, fixed windows.
    const old = path.join(dir, 'old');
    await cp(runs.main!.out, old, { recursive: true });
    const { instance_column: _i, label_type: _l, padding: _p, aggregation: _a, auto: _u, ...v1 } = json(runs.main!, 'preprocessing.json');
    await writeFile(path.join(old, 'preprocessing.json'), JSON.stringify({ ...v1, version: 1 }));
    const oldPredictor = await loadPredictor(old);
    try {
      const window = testRecs[0]!.rows.slice(0, 16).map(([, a, b]) => [a, b]);
      const [p] = await oldPredictor.predict([window]);
      expect(typeof p!.label).toBe('string');
      await expect(oldPredictor.predict([window.slice(1)])).rejects.toThrow(/expected 16 rows \(sequence_length\) or more, got 15/);
    } finally {
      oldPredictor.dispose();
    }
  });
});

describe('MiniRocket through the trainer', () => {
  it('is what model_type auto picks on a small recording dataset: whole recordings, test figures, a predictor that answers per recording', async () => {
    const [run, shuffled] = await Promise.all([
      train({ model_type: 'auto', minirocket_features: 840 }, { test: 'test.csv' }),
      train({ model_type: 'auto', minirocket_features: 840 }, { test: 'test-shuffled.csv' }),
    ]);
    expect(run.code, run.stderr).toBe(0);
    const { metrics: m, details } = resultOf(run);
    // 48 training recordings of 16-40 rows: MiniRocket, one window per recording (the longest, 40).
    expect(details).toMatchObject({ model_type: 'minirocket', resolved: { model_type: 'minirocket', sequence_length: 40 } });
    expect(m.test_accuracy).toBeGreaterThanOrEqual(0.9);
    expect(m.val_accuracy).toBeGreaterThanOrEqual(0.8);
    const files = ofType(run, 'artifact').map((a) => a.name);
    expect(files).toEqual(expect.arrayContaining(['minirocket.json', 'minirocket.bin', 'preprocessing.json']));
    expect(files).not.toContain('weights.bin');
    // The test set never reaches the fit: same model bytes, other test figures.
    expect(readFileSync(path.join(shuffled.out, 'minirocket.bin')).equals(readFileSync(path.join(run.out, 'minirocket.bin')))).toBe(true);
    expect(resultOf(shuffled).metrics.test_accuracy).toBeLessThan(0.6);

    const predictor = await loadPredictor(run.out);
    const rec = testRecs[4]!;
    const [p] = await predictor.predict([rec.rows.map(([, a, b]) => ({ a, b }))]);
    expect(p!.label).toBe(Number(rec.label));
    expect(Object.keys(p!.probabilities).sort()).toEqual(CLASSES);
    predictor.dispose();
  }, 120_000);
});
