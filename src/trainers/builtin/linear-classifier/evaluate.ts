/**
 * Held-out evaluation for linear-classifier (issue #18), reported the way every classifier
 * does (../evaluation.ts): a test set scored once with the final model, and stratified k-fold
 * cross-validation. Neither feeds anything back into the final model: the test rows are read
 * after the encoding and the classes are fixed from the training rows, and each fold fits its
 * own encoding and weights on its own training part.
 */
import type { SpecDataset } from '../../protocol.js';
import { Rng, TrainerError, log } from '../runtime.js';
import type { StopSignal } from '../runtime.js';
import { classificationReport, type ClassificationReport } from '../evaluation.js';
import { NotNumericError, encodeRows, fitEncoding, readCsvTable, stratifiedFolds, withLabels } from './data.js';
import type { Encoding } from './data.js';
import { classify, createParams, sgdStep } from './model.js';
import type { Params } from './model.js';

export interface TestSet {
  id: string;
  header: string[];
  rows: string[][];
  labels: string[];
}

/**
 * Reads the test set up front, so a test set that cannot be scored fails the job before any
 * training time is spent. Same kind and columns as the training data: a missing feature
 * column would score every row on the training mean alone, so it is an error, not a warning.
 */
export async function loadTestSet(ds: SpecDataset, labelColumn: string, featureColumns: readonly string[]): Promise<TestSet> {
  if (ds.kind !== 'tabular-csv')
    throw new TrainerError(`test dataset ${ds.id} is of kind ${ds.kind}; linear-classifier needs tabular-csv like the training data`);
  const table = await readCsvTable(ds.files);
  if (!table.header.includes(labelColumn))
    throw new TrainerError(`test dataset ${ds.id} has no label column "${labelColumn}" (the training data's); columns: ${table.header.join(', ')}`);
  const absent = featureColumns.filter((c) => !table.header.includes(c));
  if (absent.length > 0)
    throw new TrainerError(`test dataset ${ds.id} lacks the feature columns ${absent.join(', ')}; give it the same columns as the training data`);
  const labeled = withLabels(table, labelColumn, 'test dataset');
  if (table.malformed > 0) log('warn', `test dataset: skipped ${table.malformed} rows whose field count differs from the header`);
  if (labeled.unlabeled > 0) log('warn', `test dataset: skipped ${labeled.unlabeled} rows with an empty "${labelColumn}"`);
  return { id: ds.id, header: table.header, rows: labeled.rows, labels: labeled.labels };
}

/** Scores the test set with the final model; rows of a class the model never saw are skipped (and said so). */
export function scoreTestSet(test: TestSet, p: Params, enc: Encoding, classes: readonly string[]): ClassificationReport {
  const classIndex = new Map(classes.map((c, k) => [c, k]));
  const known = test.labels.flatMap((label, i) => (classIndex.has(label) ? [i] : []));
  if (known.length < test.labels.length) {
    const unseen = [...new Set(test.labels.filter((l) => !classIndex.has(l)))];
    log('warn', `test dataset: skipped ${test.labels.length - known.length} rows of classes not in the training data (${unseen.join(', ')})`);
  }
  if (known.length === 0) throw new TrainerError(`test dataset ${test.id} has no rows of a class the model was trained on (${classes.join(', ')})`);
  let X: Float64Array;
  try {
    X = encodeRows(enc, test.header, test.rows, known, true);
  } catch (err) {
    if (err instanceof NotNumericError) throw new TrainerError(`test dataset ${test.id}: ${err.message}; fix or empty that cell`);
    throw err;
  }
  const truth = Int32Array.from(known, (i) => classIndex.get(test.labels[i]!)!);
  return classificationReport(truth, classify(p, X), classes);
}

export interface SgdSettings {
  epochs: number;
  learning_rate: number;
  batch_size: number;
  l2: number;
}

/** Plain training run (no checkpoints): what each fold fits. Null when stopped. */
async function fit(X: Float64Array, y: Int32Array, classes: number, d: number, h: SgdSettings, seed: number, stop: StopSignal): Promise<Params | null> {
  const p = createParams(classes, d);
  const n = y.length;
  const rng = new Rng(seed);
  const batchSize = Math.min(h.batch_size, n);
  const order = new Int32Array(n);
  for (let epoch = 1; epoch <= h.epochs; epoch++) {
    if (await stop.shouldStop()) return null;
    for (let i = 0; i < n; i++) order[i] = i;
    rng.shuffle(order);
    for (let b = 0; b < n; b += batchSize) sgdStep(p, X, y, order.subarray(b, b + batchSize), h.learning_rate, h.l2);
  }
  return p;
}

export interface FoldReport extends ClassificationReport {
  fold: number;
  train_rows: number;
}

/**
 * Stratified k-fold over the labeled training rows: each fold fits encoding and weights on
 * the other k-1 parts and is scored on its own part against the full class list (a class
 * missing from a fold's training part counts as errors: that is what the model would do).
 * Null when stopped.
 */
export async function crossValidate(
  data: { header: string[]; rows: string[][]; labels: string[] },
  labelColumn: string,
  classes: readonly string[],
  k: number,
  h: SgdSettings & { seed: number },
  stop: StopSignal,
): Promise<FoldReport[] | null> {
  if (data.labels.length < k) throw new TrainerError(`validation.folds is ${k} but the dataset has only ${data.labels.length} labeled rows; use fewer folds`);
  const foldOf = stratifiedFolds(data.labels, k, h.seed);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const reports: FoldReport[] = [];
  for (let f = 0; f < k; f++) {
    const train: number[] = [];
    const val: number[] = [];
    foldOf.forEach((g, i) => (g === f ? val : train).push(i));
    const foldClasses = [...new Set(train.map((i) => data.labels[i]!))].sort();
    const enc = fitEncoding(data.header, data.rows, train, labelColumn, () => {});
    const X = encodeRows(enc, data.header, data.rows, train);
    const local = new Map(foldClasses.map((c, i) => [c, i]));
    const y = Int32Array.from(train, (i) => local.get(data.labels[i]!)!);
    const p = await fit(X, y, foldClasses.length, enc.features.length, h, h.seed + f + 1, stop);
    if (!p) return null;
    const predicted = Array.from(classify(p, encodeRows(enc, data.header, data.rows, val)), (c) => classIndex.get(foldClasses[c]!)!);
    const truth = val.map((i) => classIndex.get(data.labels[i]!)!);
    const report = classificationReport(truth, predicted, classes);
    reports.push({ fold: f + 1, train_rows: train.length, ...report });
    log('info', `cross-validation fold ${f + 1}/${k}: accuracy ${report.accuracy.toFixed(4)}, macro F1 ${report.macro_f1.toFixed(4)}`);
  }
  return reports;
}
