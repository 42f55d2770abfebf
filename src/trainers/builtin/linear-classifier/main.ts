/**
 * The linear-classifier trainer program: `node main.js --spec job.json`. Loads the CSV,
 * trains, writes model.json, README.md (model card) and metrics.json into output_dir.
 * SIGTERM stops at the next batch with a checkpoint of the last completed epoch.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { JobSpec, SpecDataset } from '../../protocol.js';
import { EXIT_STOPPED, ProgressReporter, Rng, TrainerError, log, runTrainer, send } from '../runtime.js';
import type { StopSignal } from '../runtime.js';
import { readHyperparameters } from '../hyperparameters.js';
import { encodeRows, fitEncoding, readCsvTable, stratifiedSplit, withLabels } from './data.js';
import type { Encoding } from './data.js';
import { cloneParams, createParams, evaluate, sgdStep, toModel } from './model.js';
import type { Params } from './model.js';
import { crossValidate, loadTestSet, scoreTestSet, type FoldReport, type TestSet } from './evaluate.js';
import { cvMetrics, testMetrics, type ClassificationReport } from '../evaluation.js';
import { labelTypeOf } from '../labels.js';

interface Hyper {
  epochs: number;
  learning_rate: number;
  batch_size: number;
  l2: number;
  validation_split: number;
  seed: number;
  /** k-fold cross-validation (issue #18): reported as cv_*, then the final model trains on all rows. */
  folds: number | null;
}

/** Complete: the server filled in the catalog's defaults (catalog.ts). */
const readHyper = (hp: Record<string, unknown>): Hyper => ({
  ...readHyperparameters<Omit<Hyper, 'folds'>>(hp, {
    epochs: 'integer',
    learning_rate: 'number',
    batch_size: 'integer',
    l2: 'number',
    validation_split: 'number',
    seed: 'integer',
  }),
  folds: readFolds(hp.validation),
});

/** `validation: {folds: k}` is optional (no default): absent means the usual single split. */
function readFolds(v: unknown): number | null {
  if (v === undefined || v === null) return null;
  const folds = (v as { folds?: unknown }).folds;
  if (typeof v !== 'object' || !Number.isInteger(folds) || (folds as number) < 2 || (folds as number) > 10)
    throw new TrainerError(`hyperparameters: validation must be {"folds": 2..10}, got ${JSON.stringify(v)}`);
  return folds as number;
}

/** Split and shuffle draw from separate streams, so changing the epoch count never changes the split. */
const SHUFFLE_SALT = 0x5bd1e995;

interface Prepared {
  /** The labeled training dataset as read: what cross-validation splits. */
  data: { header: string[]; rows: string[][]; labels: string[] };
  test: TestSet | null;
  labelColumn: string;
  enc: Encoding;
  classes: string[];
  X: Float64Array;
  y: Int32Array;
  Xval: Float64Array;
  yval: Int32Array;
}

function labelColumnOf(ds: SpecDataset): string {
  if (ds.kind !== 'tabular-csv') throw new TrainerError(`dataset ${ds.id} is of kind ${ds.kind}; linear-classifier needs tabular-csv`);
  const label = ds.options?.label_column;
  if (typeof label !== 'string' || label.trim() === '')
    throw new TrainerError(`dataset ${ds.id} has no label_column option: set options.label_column to the column holding the class`);
  return label;
}

async function loadLabeled(ds: SpecDataset, labelColumn: string, what: string) {
  const table = await readCsvTable(ds.files);
  const labeled = withLabels(table, labelColumn, what);
  if (table.malformed > 0) log('warn', `${what}: skipped ${table.malformed} rows whose field count differs from the header`);
  if (labeled.unlabeled > 0) log('warn', `${what}: skipped ${labeled.unlabeled} rows with an empty "${labelColumn}"`);
  return { header: table.header, ...labeled };
}

async function prepare(spec: JobSpec, hyper: Hyper): Promise<Prepared> {
  const labelColumn = labelColumnOf(spec.inputs.dataset);
  const data = await loadLabeled(spec.inputs.dataset, labelColumn, 'dataset');
  const valDs = spec.inputs.validation_dataset;
  // With k-fold the folds are the validation; the final model then learns from every row.
  const all = (): { train: number[]; val: number[] } => ({ train: data.labels.map((_, i) => i), val: [] });
  const split = valDs || hyper.folds ? all() : stratifiedSplit(data.labels, hyper.validation_split, hyper.seed);
  const classes = [...new Set(split.train.map((i) => data.labels[i]!))].sort();
  if (classes.length < 2) throw new TrainerError(`training needs at least 2 classes in "${labelColumn}", found ${classes.length}`);
  const classIndex = new Map(classes.map((c, k) => [c, k]));
  const enc = fitEncoding(data.header, data.rows, split.train, labelColumn, (m) => log('warn', m));
  const X = encodeRows(enc, data.header, data.rows, split.train);
  const y = Int32Array.from(split.train, (i) => classIndex.get(data.labels[i]!)!);
  const testDs = spec.inputs.test_dataset;
  const test = testDs ? await loadTestSet(testDs, labelColumn, [...new Set(enc.features.map((f) => f.column))]) : null;
  const common = { data, test, labelColumn, enc, classes, X, y };
  if (!valDs) {
    const Xval = encodeRows(enc, data.header, data.rows, split.val);
    return { ...common, Xval, yval: Int32Array.from(split.val, (i) => classIndex.get(data.labels[i]!)!) };
  }
  const val = await loadLabeled(valDs, labelColumn, 'validation dataset');
  const absent = [...new Set(enc.features.map((f) => f.column))].filter((c) => !val.header.includes(c));
  if (absent.length > 0) log('warn', `validation dataset lacks columns ${absent.join(', ')}; treated as missing values`);
  // A class the model never trained on cannot be predicted; scoring it would only measure that.
  const known = val.labels.flatMap((label, i) => (classIndex.has(label) ? [i] : []));
  if (known.length < val.labels.length)
    log('warn', `validation dataset: ignored ${val.labels.length - known.length} rows whose class is not in the training data`);
  const Xval = encodeRows(enc, val.header, val.rows, known);
  return { ...common, Xval, yval: Int32Array.from(known, (i) => classIndex.get(val.labels[i]!)!) };
}

interface EpochMetrics {
  epoch: number;
  step: number;
  values: Record<string, number>;
}

const CHECKPOINT_FORMAT = 'trainyard.linear-classifier.checkpoint';

interface Checkpoint {
  format: typeof CHECKPOINT_FORMAT;
  /** Completed epochs; training resumes with the next one. */
  epoch: number;
  step: number;
  /** Shuffle PRNG state at the start of epoch `epoch + 1`. */
  rng_state: number;
  /** What the weights are only meaningful against: same classes, features, split, optimizer settings. */
  fingerprint: string;
  weights: number[];
  bias: number[];
  history: EpochMetrics[];
}

function fingerprint(prep: Prepared, hyper: Hyper): string {
  const { epochs: _epochs, ...fixed } = hyper; // asking for more epochs on a retry is fine
  return JSON.stringify({
    classes: prep.classes,
    features: prep.enc.features.map((f) => f.name),
    train_rows: prep.y.length,
    val_rows: prep.yval.length,
    ...fixed,
  });
}

/** A checkpoint that does not fit this job is reported and ignored: training from scratch still succeeds. */
async function loadCheckpoint(file: string, expected: string, p: Params): Promise<Checkpoint | null> {
  let ckpt: Checkpoint;
  try {
    ckpt = JSON.parse(await readFile(file, 'utf8')) as Checkpoint;
  } catch (err) {
    log('warn', `cannot read checkpoint ${file} (${(err as Error).message}); training from scratch`);
    return null;
  }
  const fits =
    ckpt?.format === CHECKPOINT_FORMAT &&
    ckpt.fingerprint === expected &&
    Number.isInteger(ckpt.epoch) &&
    Number.isInteger(ckpt.rng_state) &&
    Array.isArray(ckpt.history) &&
    ckpt.weights?.length === p.weights.length &&
    ckpt.bias?.length === p.bias.length;
  if (!fits) {
    log('warn', `checkpoint ${file} was made for different data or settings; training from scratch`);
    return null;
  }
  return ckpt;
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  // Write-then-rename: a kill mid-write must not leave a truncated file under the real name.
  await writeFile(`${file}.tmp`, JSON.stringify(value, null, 1) + '\n');
  await rename(`${file}.tmp`, file);
}

const fmt = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(4));

function modelCard(
  spec: JobSpec,
  prep: Prepared,
  hyper: Omit<Hyper, 'folds'> & { validation?: { folds: number } },
  last: EpochMetrics,
  held: { test: ClassificationReport | null; folds: FoldReport[] | null },
): string {
  const v = last.values;
  const val = spec.inputs.validation_dataset
    ? `dataset ${spec.inputs.validation_dataset.id}`
    : hyper.validation
      ? `${hyper.validation.folds}-fold stratified cross-validation (seed ${hyper.seed}); final model on all rows`
      : `${hyper.validation_split * 100}% stratified split (seed ${hyper.seed})`;
  const cv = held.folds ? cvMetrics(held.folds) : null;
  const t = held.test;
  const row = (...cells: unknown[]): string => `| ${cells.join(' | ')} |`;
  return [
    `# Linear classifier: ${prep.labelColumn}`,
    '',
    'Multinomial logistic regression (softmax) over standardized features, trained by mini-batch gradient descent.',
    'Load `model.json` and apply `predict` from the linear-classifier trainer, or: standardize each feature with',
    '`normalization`, take `weights · x + bias`, and pick the class with the largest score.',
    '',
    '## Training',
    '',
    row('', ''),
    row('---', '---'),
    row('Job', `${spec.job_id} (attempt ${spec.attempt})`),
    row('Trained at', new Date().toISOString()),
    row('Dataset', `${spec.inputs.dataset.id} (${spec.inputs.dataset.files.map((f) => f.filename).join(', ')})`),
    row('Validation', val),
    row('Label column', `\`${prep.labelColumn}\``),
    row('Classes', prep.classes.map((c) => `\`${c}\``).join(', ')),
    row('Features', `${prep.enc.features.length}: ${prep.enc.features.map((f) => `\`${f.name}\``).join(', ')}`),
    row('Rows', `${prep.y.length} training, ${prep.yval.length} validation`),
    ...Object.entries(hyper).map(([k, value]) => row(`\`${k}\``, typeof value === 'object' ? JSON.stringify(value) : value)),
    '',
    `## Metrics (epoch ${last.epoch})`,
    '',
    row('Metric', 'Training', 'Validation'),
    row('---', '---:', '---:'),
    row('Accuracy', fmt(v.accuracy), fmt(v.val_accuracy)),
    row('Cross-entropy loss', fmt(v.loss), fmt(v.val_loss)),
    '',
    ...(cv
      ? [
          `Cross-validation (${cv.cv_folds} folds): accuracy ${fmt(cv.cv_accuracy)} ± ${fmt(cv.cv_accuracy_std)}, macro F1 ${fmt(cv.cv_macro_f1)} ± ${fmt(cv.cv_macro_f1_std)}.`,
          '',
        ]
      : []),
    ...(t ? [`Test set (dataset ${spec.inputs.test_dataset!.id}, ${t.count} rows): accuracy ${fmt(t.accuracy)}, macro F1 ${fmt(t.macro_f1)}.`, ''] : []),
  ].join('\n');
}

async function train(spec: JobSpec, stop: StopSignal): Promise<number> {
  const hyper = readHyper(spec.hyperparameters ?? {});
  if (spec.init_from) log('warn', 'linear-classifier does not warm-start; training from scratch');
  const prep = await prepare(spec, hyper);
  const n = prep.y.length;
  log('info', `training on ${n} rows (${prep.yval.length} validation), ${prep.enc.features.length} features, ${prep.classes.length} classes`);

  const p = createParams(prep.classes.length, prep.enc.features.length);
  const rng = new Rng(hyper.seed ^ SHUFFLE_SALT);
  const expected = fingerprint(prep, hyper);
  let history: EpochMetrics[] = [];
  const ckpt = spec.resume_from ? await loadCheckpoint(spec.resume_from, expected, p) : null;
  if (ckpt) {
    p.weights.set(ckpt.weights);
    p.bias.set(ckpt.bias);
    rng.state = ckpt.rng_state;
    history = ckpt.history.filter((h) => h.epoch <= ckpt.epoch);
    log('info', `resumed from ${spec.resume_from} after epoch ${ckpt.epoch}`);
  }

  const batchSize = Math.min(hyper.batch_size, n);
  const batches = Math.ceil(n / batchSize);
  const progress = new ProgressReporter(hyper.epochs * batches, hyper.epochs);
  const order = new Int32Array(n);
  const checkpoint = async (done: number, params: Params, rngState: number): Promise<number> => {
    const file = path.join(spec.checkpoint_dir, `ckpt-${done}.json`);
    const state: Checkpoint = {
      format: CHECKPOINT_FORMAT,
      epoch: done,
      step: done * batches,
      rng_state: rngState,
      fingerprint: expected,
      weights: Array.from(params.weights),
      bias: Array.from(params.bias),
      history: history.filter((h) => h.epoch <= done),
    };
    await writeJson(file, state);
    send({ type: 'checkpoint', step: state.step, path: file });
    log('info', `stopped; checkpoint after epoch ${done} saved`);
    return EXIT_STOPPED;
  };
  for (let epoch = (ckpt?.epoch ?? 0) + 1; epoch <= hyper.epochs; epoch++) {
    // An epoch is the unit of resumption: a stop mid-epoch rolls back to its start.
    const start = { params: cloneParams(p), rng: rng.state };
    for (let i = 0; i < n; i++) order[i] = i; // from identity, so the shuffle depends on the PRNG state alone
    rng.shuffle(order);
    for (let b = 0; b < batches; b++) {
      if (await stop.shouldStop()) return checkpoint(epoch - 1, start.params, start.rng);
      sgdStep(p, prep.X, prep.y, order.subarray(b * batchSize, (b + 1) * batchSize), hyper.learning_rate, hyper.l2);
      progress.report((epoch - 1) * batches + b + 1, epoch);
    }
    const tr = evaluate(p, prep.X, prep.y);
    // NaN would serialize as null, the worker would drop the events, and the job would end without a word.
    if (!Number.isFinite(tr.loss)) throw new TrainerError(`training diverged at epoch ${epoch} (loss is ${tr.loss}); lower learning_rate or l2`);
    const values: Record<string, number> = { loss: tr.loss, accuracy: tr.accuracy };
    if (prep.yval.length > 0) {
      const va = evaluate(p, prep.Xval, prep.yval);
      Object.assign(values, { val_loss: va.loss, val_accuracy: va.accuracy });
    }
    const m: EpochMetrics = { epoch, step: epoch * batches, values };
    history.push(m);
    send({ type: 'metrics', ...m });
  }

  const last = history[history.length - 1]!;
  // Cross-validation after the final model: a stop here keeps the finished training (a resume
  // skips straight to the folds, which are deterministic).
  let folds: FoldReport[] | null = null;
  if (hyper.folds) {
    folds = await crossValidate(prep.data, prep.labelColumn, prep.classes, hyper.folds, hyper, stop);
    if (!folds) return checkpoint(hyper.epochs, p, rng.state);
  } else if (prep.yval.length === 0) log('warn', 'no validation rows: val_loss and val_accuracy are not reported');
  // Scored once, with the model as saved; nothing above read the test rows' labels.
  const test = prep.test ? scoreTestSet(prep.test, p, prep.enc, prep.classes) : null;
  const out = (name: string): string => path.join(spec.output_dir, name);
  const { folds: k, ...plain } = hyper;
  const hyperparameters = k ? { ...plain, validation: { folds: k } } : plain;
  await writeJson(out('model.json'), toModel(p, prep.enc, prep.classes, prep.labelColumn, labelTypeOf(prep.classes), hyperparameters));
  send({ type: 'artifact', name: 'model', path: out('model.json'), format: 'json' });
  await writeFile(out('README.md'), modelCard(spec, prep, hyperparameters, last, { test, folds }));
  send({ type: 'artifact', name: 'model_card', path: out('README.md'), format: 'markdown' });
  const metrics = {
    ...last.values,
    train_rows: n,
    val_rows: prep.yval.length,
    classes: prep.classes.length,
    ...(folds ? cvMetrics(folds) : {}),
    ...(test ? testMetrics(test) : {}),
  };
  const cv = folds ? { folds } : undefined;
  await writeJson(out('metrics.json'), { final: metrics, epochs: history, ...(test ? { test } : {}), ...(cv ? { cv } : {}) });
  send({ type: 'artifact', name: 'metrics', path: out('metrics.json'), format: 'json' });
  const details = { classes: prep.classes, features: prep.enc.features.map((f) => f.name), epochs: hyper.epochs };
  send({ type: 'result', metrics, details: { ...details, ...(test ? { test } : {}), ...(cv ? { cv } : {}) } });
  return 0;
}

await runTrainer(train);
