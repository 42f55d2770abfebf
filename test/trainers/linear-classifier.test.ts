import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobSpec, ofType, runBuiltinTrainer, type TrainerRun } from '../helpers/trainer-run.js';
import { specHyperparameters } from '../../src/domain/jobs/hyperparameters.js';
import { linearClassifier } from '../../src/trainers/builtin/linear-classifier/catalog.js';
import { readCsvTable, stratifiedSplit } from '../../src/trainers/builtin/linear-classifier/data.js';
import { predict } from '../../src/trainers/builtin/linear-classifier/model.js';
import type { LinearModel } from '../../src/trainers/builtin/linear-classifier/model.js';
import { Rng } from '../../src/trainers/builtin/runtime.js';
import type { TrainerEvent } from '../../src/trainers/protocol.js';

const CLASSES = ['alpha', 'beta', 'gamma'];
const BASE = { epochs: 15, learning_rate: 0.1, batch_size: 32, l2: 0, validation_split: 0.2, seed: 1 };

/**
 * 1500 rows, 500 per class: five numeric features whose class means differ (on wildly
 * different scales, with 2% of f1 missing), a color that agrees with the class 60% of the
 * time, and a per-row reference string a trainer must not one-hot. `shuffled` keeps the
 * features and permutes the labels, so nothing can be learned.
 */
function generate(shuffled = false): string {
  const rng = new Rng(2024);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const means = [
    [0, 0, 0, 1000, 5],
    [2, -1, 1, 1100, 5],
    [-1, 2, 2, 950, 5],
  ];
  const sds = [1, 1, 1, 50, 2];
  const colors = ['red', 'green', 'blue', 'gray'];
  const labels = Array.from({ length: 1500 }, (_, i) => CLASSES[i % 3]!);
  const targets = shuffled ? rng.shuffle([...labels]) : labels;
  const lines = ['f1,f2,f3,f4,f5,color,ref,label'];
  labels.forEach((label, i) => {
    const k = CLASSES.indexOf(label);
    const f = means[k]!.map((m, j) => (m + sds[j]! * gauss()).toFixed(4));
    if (rng.next() < 0.02) f[0] = '';
    const color = rng.next() < 0.6 ? colors[k]! : colors[rng.int(4)]!;
    lines.push([...f, color, `r${i}`, targets[i]].join(','));
  });
  return lines.join('\n') + '\n';
}

type Run = TrainerRun;

let dir: string;
let seq = 0;
const csv = (name: string) => path.join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'trainer-linear-'));
  const signal = generate();
  await writeFile(csv('signal.csv'), signal);
  await writeFile(csv('shuffled.csv'), generate(true));
  const [header, ...rows] = signal.trimEnd().split('\n');
  await writeFile(csv('train.csv'), [header, ...rows.slice(0, 1200)].join('\n'));
  await writeFile(csv('val.csv'), [header, ...rows.slice(1200)].join('\n'));
  // The same 300 held-out rows with their labels permuted, and with a class training never saw.
  const held = rows.slice(1200);
  const permuted = new Rng(5).shuffle(held.map((r) => r.slice(r.lastIndexOf(',') + 1)));
  await writeFile(csv('test-shuffled.csv'), [header, ...held.map((r, i) => r.slice(0, r.lastIndexOf(',') + 1) + permuted[i])].join('\n'));
  await writeFile(csv('test-unseen.csv'), [header, ...held, '1,1,1,1000,5,red,x,delta'].join('\n'));
  await writeFile(
    csv('test-nocolor.csv'),
    [
      'f1,f2,f3,f4,f5,ref,label',
      ...held.map((r) =>
        r
          .split(',')
          .filter((_, j) => j !== 5)
          .join(','),
      ),
    ].join('\n'),
  );
  // Integer classes 1/2/3 (as a user's CSV often has them), for typed labels.
  await writeFile(csv('numbered.csv'), [header, ...rows.map((r) => r.replace(/(alpha|beta|gamma)$/, (c) => String(CLASSES.indexOf(c) + 1)))].join('\n'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface SpecOptions {
  raw?: boolean;
  files?: string[];
  validation?: string[];
  test?: string[];
  options?: Record<string, unknown>;
  resumeFrom?: string;
  ckpt?: string;
}

function train(hyperparameters: Record<string, unknown>, o: SpecOptions = {}, onEvent?: (e: TrainerEvent, child: ChildProcess) => void): Promise<Run> {
  const id = `job_${++seq}`;
  const dataset = (files: string[]) => ({ kind: 'tabular-csv', options: o.options ?? { label_column: 'label' }, files: files.map(csv) });
  const spec = jobSpec({
    job_id: id,
    trainer: 'linear-classifier',
    // As the server writes it: defaults from the catalog entry filled in (raw: exactly as given).
    hyperparameters: o.raw ? hyperparameters : specHyperparameters(linearClassifier, hyperparameters),
    dataset: dataset(o.files ?? ['signal.csv']),
    validation: o.validation ? dataset(o.validation) : null,
    test: o.test ? dataset(o.test) : null,
    output_dir: path.join(dir, id, 'out'),
    checkpoint_dir: o.ckpt ?? path.join(dir, id, 'ckpt'),
    resume_from: o.resumeFrom ?? null,
  });
  return runBuiltinTrainer(spec, path.join(dir, `${id}.json`), { onEvent });
}

const resultOf = (run: Run) => {
  const results = ofType(run, 'result');
  expect(results, `${run.stderr}\n${JSON.stringify(ofType(run, 'log'))}`).toHaveLength(1);
  return results[0]!.metrics;
};
const modelOf = (run: Run): LinearModel => JSON.parse(readFileSync(path.join(run.out, 'model.json'), 'utf8')) as LinearModel;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('linear-classifier trainer', () => {
  let base: Run;
  beforeAll(async () => {
    base = await train(BASE);
  });

  it('learns a linear signal: high val_accuracy, falling loss, artifacts and events', () => {
    expect(base.code).toBe(0);
    const result = resultOf(base);
    expect(result.val_accuracy).toBeGreaterThanOrEqual(0.9);
    expect(result).toMatchObject({ train_rows: 1200, val_rows: 300, classes: 3 });

    const epochs = ofType(base, 'metrics');
    expect(epochs.map((m) => m.epoch)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(epochs[0]!.values.loss).toBeGreaterThan(epochs.at(-1)!.values.loss!);
    expect(Object.keys(epochs[0]!.values).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);

    // Throttled, but the last one always comes: 38 batches × 15 epochs finish well within a second.
    const progress = ofType(base, 'progress');
    expect(progress.length).toBeLessThan(570 / 4);
    expect(progress.at(-1)).toEqual({ type: 'progress', step: 570, total_steps: 570, epoch: 15, total_epochs: 15 });

    const artifacts = ofType(base, 'artifact');
    expect(artifacts).toContainEqual({ type: 'artifact', name: 'model', path: path.join(base.out, 'model.json'), format: 'json' });
    expect(artifacts).toContainEqual({ type: 'artifact', name: 'model_card', path: path.join(base.out, 'README.md'), format: 'markdown' });
    const card = readFileSync(path.join(base.out, 'README.md'), 'utf8');
    expect(card).toContain(result.val_accuracy!.toFixed(4));
    expect(card).toContain('`alpha`, `beta`, `gamma`');
    const metrics = JSON.parse(readFileSync(path.join(base.out, 'metrics.json'), 'utf8'));
    expect(metrics.final).toEqual(result);
    expect(metrics.epochs).toHaveLength(15);

    // The per-row reference is a category with 1200 values: skipped, and said so.
    const model = modelOf(base);
    expect(model.feature_names).toEqual(['f1', 'f2', 'f3', 'f4', 'f5', 'color=blue', 'color=gray', 'color=green', 'color=red']);
    expect(ofType(base, 'log').some((l) => l.level === 'warn' && l.message.includes('"ref"'))).toBe(true);
  });

  it('learns nothing from shuffled labels: val_accuracy near chance', async () => {
    const run = await train(BASE, { files: ['shuffled.csv'] });
    expect(run.code).toBe(0);
    expect(resultOf(run).val_accuracy).toBeLessThan(0.5);
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const again = await train(BASE);
    expect(readFileSync(path.join(again.out, 'model.json'), 'utf8')).toBe(readFileSync(path.join(base.out, 'model.json'), 'utf8'));
    expect(resultOf(again)).toEqual(resultOf(base));
    const other = await train({ ...BASE, seed: 2 });
    expect(modelOf(other).weights).not.toEqual(modelOf(base).weights);
  });

  it('fits normalization on the training split only', async () => {
    const table = await readCsvTable([{ path: csv('signal.csv') }]);
    const labels = table.rows.map((r) => r[7]!);
    const { train: trainRows, val } = stratifiedSplit(labels, BASE.validation_split, BASE.seed);
    expect(trainRows).toHaveLength(1200);
    const model = modelOf(base);
    for (const [j, name] of ['f1', 'f2', 'f3', 'f4', 'f5'].entries()) {
      const values = trainRows
        .map((i) => table.rows[i]![j]!)
        .filter((v) => v !== '')
        .map(Number);
      const at = model.feature_names.indexOf(name);
      expect(model.normalization.mean[at]).toBeCloseTo(mean(values), 9);
    }

    // The proof: blow up every validation row's features. The split depends on the labels and
    // the seed only, so training sees the same rows, and no statistic may move.
    const [header, ...lines] = readFileSync(csv('signal.csv'), 'utf8').trimEnd().split('\n');
    const valSet = new Set(val);
    const poisoned = lines.map((line, i) => (valSet.has(i) ? line.replace(/^[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*/, '1e6,1e6,1e6,1e6,1e6,purple') : line));
    await writeFile(csv('poisoned.csv'), [header, ...poisoned].join('\n'));
    const run = await train({ ...BASE, epochs: 1 }, { files: ['poisoned.csv'] });
    expect(run.code).toBe(0);
    expect(modelOf(run).normalization).toEqual(model.normalization);
    expect(modelOf(run).feature_names).toEqual(model.feature_names); // "purple" only in validation: not a feature
  });

  it('predict() on the saved model reproduces the reported val_accuracy', async () => {
    const table = await readCsvTable([{ path: csv('signal.csv') }]);
    const labels = table.rows.map((r) => r[7]!);
    const { val } = stratifiedSplit(labels, BASE.validation_split, BASE.seed);
    const rows = val.map((i) => Object.fromEntries(table.header.map((h, c) => [h, table.rows[i]![c]])));
    const predictions = predict(modelOf(base), rows);
    const correct = predictions.filter((p, r) => p.label === labels[val[r]!]).length;
    expect(correct / val.length).toBe(resultOf(base).val_accuracy);
    const p0 = predictions[0]!.probabilities;
    expect(Object.keys(p0)).toEqual(CLASSES);
    expect(Object.values(p0).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // JSON numbers and absent columns are accepted too.
    expect(predict(modelOf(base), [{ f1: 2, f2: -1, f3: 1, f4: 1100, f5: 5, color: 'green' }, {}])[0]!.label).toBe('beta');
  });

  it('uses a given validation dataset instead of splitting', async () => {
    const run = await train(BASE, { files: ['train.csv'], validation: ['val.csv'] });
    expect(run.code).toBe(0);
    const result = resultOf(run);
    expect(result).toMatchObject({ train_rows: 1200, val_rows: 300 });
    expect(result.val_accuracy).toBeGreaterThanOrEqual(0.9);
  });

  it('fails with exit 1 and a clear error without a usable label_column', async () => {
    const missing = await train(BASE, { options: {} });
    expect(missing.code).toBe(1);
    expect(
      ofType(missing, 'log')
        .filter((l) => l.level === 'error')
        .map((l) => l.message),
    ).toEqual([expect.stringMatching(/no label_column option/)]);
    expect(ofType(missing, 'result')).toEqual([]);

    const wrong = await train(BASE, { options: { label_column: 'species' } });
    expect(wrong.code).toBe(1);
    expect(ofType(wrong, 'log').find((l) => l.level === 'error')?.message).toMatch(/label column "species" not found.*f1, f2/);
  });

  it('fails with exit 1 and a clear error when the spec lacks a hyperparameter: defaults live in the catalog only', async () => {
    const run = await train({ epochs: 2, learning_rate: 0.1, batch_size: 32, seed: 1 }, { raw: true });
    expect(run.code).toBe(1);
    expect(
      ofType(run, 'log')
        .filter((l) => l.level === 'error')
        .map((l) => l.message),
    ).toEqual([expect.stringMatching(/^hyperparameters: l2 is missing; validation_split is missing/)]);
    expect(ofType(run, 'result')).toEqual([]);
  });

  it('on SIGTERM saves a checkpoint and exits 143; resuming gives the uninterrupted model', async () => {
    // One row per batch: the stop nearly always lands mid-epoch, where the partial epoch
    // must be rolled back for the checkpoint to mean "after epoch N".
    const long = { epochs: 200, learning_rate: 0.02, batch_size: 1, l2: 0.001, validation_split: 0.2, seed: 7 };
    let killedAt = 0;
    const stopped = await train(long, {}, (e, child) => {
      if (e.type === 'metrics' && e.epoch === 2 && !killedAt) {
        killedAt = Date.now();
        child.kill('SIGTERM');
      }
    });
    expect(stopped.code).toBe(143);
    expect(Date.now() - killedAt).toBeLessThan(3000);
    const [ckpt] = ofType(stopped, 'checkpoint');
    expect(ckpt).toBeDefined();
    const epoch = ofType(stopped, 'metrics').length;
    expect(epoch).toBeGreaterThanOrEqual(2);
    expect(epoch).toBeLessThan(200);
    expect(ckpt!.path).toBe(path.join(stopped.ckpt, `ckpt-${epoch}.json`));
    expect(ckpt!.step).toBe(epoch * 1200);
    expect(existsSync(path.join(stopped.out, 'model.json'))).toBe(false);

    const [resumed, reference, shortRun] = await Promise.all([train(long, { resumeFrom: ckpt!.path }), train(long), train({ ...long, epochs: epoch })]);
    const saved = JSON.parse(readFileSync(ckpt!.path, 'utf8'));
    expect(saved.weights).toEqual(modelOf(shortRun).weights.flat());
    expect(resumed.code).toBe(0);
    expect(ofType(resumed, 'log').some((l) => l.message.includes(`after epoch ${epoch}`))).toBe(true);
    expect(ofType(resumed, 'metrics')[0]!.epoch).toBe(epoch + 1);
    expect(modelOf(resumed).weights).toEqual(modelOf(reference).weights);
    expect(modelOf(resumed).bias).toEqual(modelOf(reference).bias);
    expect(resultOf(resumed)).toEqual(resultOf(reference));
    expect(JSON.parse(readFileSync(path.join(resumed.out, 'metrics.json'), 'utf8')).epochs).toHaveLength(200);
  });

  it('scores a test set once with the final model: figures reported, training untouched by its labels', async () => {
    const [run, shuffled, unseen] = await Promise.all([
      train(BASE, { files: ['train.csv'], test: ['val.csv'] }),
      train(BASE, { files: ['train.csv'], test: ['test-shuffled.csv'] }),
      train(BASE, { files: ['train.csv'], test: ['test-unseen.csv'] }),
    ]);
    const result = resultOf(run);
    expect(result.test_accuracy).toBeGreaterThanOrEqual(0.9);
    expect(result.test_macro_f1).toBeGreaterThanOrEqual(0.9);
    const [res] = ofType(run, 'result');
    const report = res!.details!.test as { count: number; accuracy: number; labels: string[]; confusion_matrix: number[][] };
    expect(report).toMatchObject({ count: 300, accuracy: result.test_accuracy, labels: CLASSES });
    expect(report.confusion_matrix.flat().reduce((a, b) => a + b, 0)).toBe(300);
    // The same figure predict() gives on those rows with the saved model.
    const table = await readCsvTable([{ path: csv('val.csv') }]);
    const rows = table.rows.map((r) => Object.fromEntries(table.header.map((h, c) => [h, r[c]])));
    const correct = predict(modelOf(run), rows).filter((p, i) => p.label === table.rows[i]![7]).length;
    expect(correct / 300).toBe(result.test_accuracy);
    expect(JSON.parse(readFileSync(path.join(run.out, 'metrics.json'), 'utf8')).test).toEqual(report);
    expect(readFileSync(path.join(run.out, 'README.md'), 'utf8')).toContain(
      `Test set (dataset ds_test, 300 rows): accuracy ${result.test_accuracy!.toFixed(4)}`,
    );

    // Permuted test labels: the same model byte for byte, and a test figure near chance.
    expect(readFileSync(path.join(shuffled.out, 'model.json'), 'utf8')).toBe(readFileSync(path.join(run.out, 'model.json'), 'utf8'));
    expect(resultOf(shuffled).val_accuracy).toBe(result.val_accuracy);
    expect(resultOf(shuffled).test_accuracy).toBeLessThan(0.5);

    // A class training never saw is skipped with a warning, not scored.
    expect(resultOf(unseen).test_accuracy).toBe(result.test_accuracy);
    expect(ofType(unseen, 'log').some((l) => l.level === 'warn' && /skipped 1 rows of classes not in the training data \(delta\)/.test(l.message))).toBe(true);
  });

  it('fails early with a clear error when the test set lacks a feature column', async () => {
    const run = await train(BASE, { files: ['train.csv'], test: ['test-nocolor.csv'] });
    expect(run.code).toBe(1);
    expect(ofType(run, 'log').find((l) => l.level === 'error')?.message).toMatch(/test dataset ds_test lacks the feature columns color/);
    expect(ofType(run, 'metrics')).toEqual([]);
  });

  it('k-fold cross-validation: cv metrics and per-fold figures, final model on every row', async () => {
    const run = await train({ ...BASE, epochs: 5, validation: { folds: 3 } });
    expect(run.code).toBe(0);
    const result = resultOf(run);
    expect(result).toMatchObject({ train_rows: 1500, val_rows: 0, cv_folds: 3 });
    expect(result.cv_accuracy).toBeGreaterThanOrEqual(0.9);
    expect(result.cv_accuracy_std).toBeGreaterThanOrEqual(0);
    expect(result.cv_accuracy_std).toBeLessThan(0.05);
    const folds = (ofType(run, 'result')[0]!.details!.cv as { folds: { fold: number; count: number; accuracy: number }[] }).folds;
    expect(folds.map((f) => f.fold)).toEqual([1, 2, 3]);
    expect(folds.map((f) => f.count)).toEqual([500, 500, 500]);
    expect(mean(folds.map((f) => f.accuracy))).toBeCloseTo(result.cv_accuracy!, 12);
    expect(modelOf(run).hyperparameters.validation).toEqual({ folds: 3 });
    expect(readFileSync(path.join(run.out, 'README.md'), 'utf8')).toContain('Cross-validation (3 folds)');

    // Shuffled labels: the folds see it.
    const noise = await train({ ...BASE, epochs: 5, validation: { folds: 3 } }, { files: ['shuffled.csv'] });
    expect(resultOf(noise).cv_accuracy).toBeLessThan(0.5);
  });

  it('answers labels in their type, fills missing values with the training mean and says so, rejects non-numbers', async () => {
    const run = await train({ ...BASE, epochs: 5 }, { files: ['numbered.csv'] });
    const model = modelOf(run);
    expect(model.label_type).toBe('integer');
    const full = { f1: 2, f2: -1, f3: 1, f4: 1100, f5: 5, color: 'green' };
    const [complete, gaps] = predict(model, [full, { ...full, f1: '', f4: null, f5: undefined }]);
    expect(complete).toMatchObject({ label: 2 });
    expect(complete!.filled).toBeUndefined();
    expect(Object.keys(complete!.probabilities)).toEqual(['1', '2', '3']);
    expect(gaps!.filled).toBe(3);
    // Filled with the training mean: exactly what giving the mean itself predicts.
    const at = (name: string) => model.normalization.mean[model.feature_names.indexOf(name)]!;
    expect(gaps!.probabilities).toEqual(predict(model, [{ ...full, f1: at('f1'), f4: at('f4'), f5: at('f5') }])[0]!.probabilities);
    expect(() => predict(model, [full, { ...full, f2: 'n/a' }])).toThrow('instances[1]: feature "f2" must be a number, got "n/a"');
    // A model written before label_type answers strings, as it did.
    const { label_type: _dropped, ...old } = model;
    expect(predict(old as LinearModel, [full])[0]!.label).toBe('2');
  });
});
