/**
 * The text-classifier trainer program: `node main.js --spec job.json`. Reads JSONL, fits the
 * tokenizer on the training split (or keeps a warm start's), trains the fasttext or the
 * transformer model, and writes model.json, weights.bin, tokenizer.json, README.md and
 * metrics.json. SIGTERM stops at the next batch with a checkpoint of the last completed epoch.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { JobSpec } from '../../protocol.js';
import { EXIT_STOPPED, ProgressReporter, Rng, TrainerError, log, runTrainer, send } from '../runtime.js';
import type { StopSignal } from '../runtime.js';
import { readHyperparameters } from '../hyperparameters.js';
import { BACKENDS, trainerPython } from '../torch-child.js';
import type { BackendChoice } from '../torch-child.js';
import { fitWithTorch } from './torch-loop.js';
import { finish } from './report.js';
import type { EpochMetrics } from './report.js';
import { SHUFFLE_SALT, epochBatches, readExamples, readTestExamples, splitExamples } from './data.js';
import { labelTypeOf, readLabelType, type LabelType } from '../labels.js';
import type { Examples } from './data.js';
import { ARCHITECTURES, DEFAULT_SIZES, fromBase64, toBase64 } from './model.js';
import type { Architecture, TrainingState } from './model.js';
import { createModel, readModelDir } from './predictor.js';
import type { ModelDir } from './predictor.js';
import { evaluate } from './metrics.js';
import { fitTokenizer } from './tokenizer.js';
import type { Tokenizer } from './tokenizer.js';

interface Hyper {
  architecture: Architecture;
  epochs: number;
  batch_size: number;
  learning_rate: number;
  max_length: number;
  vocab_size: number;
  validation_split: number;
  seed: number;
  backend: BackendChoice;
}

/** Complete: the server filled in the catalog's defaults (catalog.ts). */
const readHyper = (hp: Record<string, unknown>): Hyper => {
  const h = readHyperparameters<Hyper>(
    hp,
    {
      architecture: ARCHITECTURES,
      epochs: 'integer',
      batch_size: 'integer',
      learning_rate: 'number',
      max_length: 'integer',
      vocab_size: 'integer',
      validation_split: 'number',
      seed: 'integer',
      backend: BACKENDS,
    },
    // backend came after the others: a spec written before it (a retried job) means auto.
    ['backend'],
  );
  return { ...h, backend: h.backend ?? 'auto' };
};

/** Initialisation, split and shuffle draw from separate streams: more epochs never change the split or the init. */
const INIT_SALT = 0x2545f491;

interface Prepared {
  hyper: Hyper;
  architecture: Architecture;
  labels: string[];
  tokenizer: Tokenizer;
  train: Examples;
  val: Examples;
  /** Never read until the final model is scored (report.ts). */
  test: Examples | null;
  labelType: LabelType;
  warm: ModelDir | null;
}

async function prepare(spec: JobSpec, hyper: Hyper): Promise<Prepared> {
  const all = await readExamples(spec.inputs.dataset);
  if (all.skipped > 0) log('warn', `dataset: skipped ${all.skipped} lines without a usable text and label`);
  const valDs = spec.inputs.validation_dataset;
  const split = valDs ? { train: all, val: await readExamples(valDs) } : splitExamples(all, hyper.validation_split, hyper.seed);
  const train = split.train;
  let val = split.val;

  let warm: ModelDir | null = null;
  if (spec.init_from) {
    try {
      warm = await readModelDir(spec.init_from);
    } catch (err) {
      throw new TrainerError(`cannot warm-start from the previous version: ${(err as Error).message}`, { cause: err });
    }
  }
  let labels: string[];
  if (warm) {
    // The output layer has one row per old label: new data may use fewer labels, never others.
    labels = warm.model.labels;
    const unknown = [...new Set(all.labels)].filter((l) => !labels.includes(l)).sort();
    if (unknown.length > 0) {
      throw new TrainerError(
        `warm start: the dataset has labels the previous version does not know (${unknown.join(', ')}); its labels are ${labels.join(', ')}. Train from scratch to change the label set.`,
      );
    }
  } else {
    labels = [...new Set(train.labels)].sort();
    if (labels.length < 2) throw new TrainerError(`training needs at least 2 classes, found ${labels.length}`);
  }
  const known = val.labels.flatMap((l, i) => (labels.includes(l) ? [i] : []));
  if (known.length < val.labels.length) {
    log('warn', `validation dataset: ignored ${val.labels.length - known.length} rows whose label is not in the training data`);
    val = { texts: known.map((i) => val.texts[i]!), labels: known.map((i) => val.labels[i]!), skipped: 0 };
  }

  let architecture = hyper.architecture;
  let tokenizer: Tokenizer;
  if (warm) {
    if (warm.model.architecture !== architecture)
      log('warn', `warm start: keeping the previous version's architecture (${warm.model.architecture}); architecture=${architecture} is ignored`);
    architecture = warm.model.architecture;
    tokenizer = warm.tokenizer;
    log(
      'info',
      `warm start from ${spec.init_from}: keeping its weights and tokenizer (${tokenizer.size} tokens, max_length ${tokenizer.maxLength}; vocab_size and max_length of this job do not apply)`,
    );
  } else {
    tokenizer = fitTokenizer(train.texts, { vocabSize: hyper.vocab_size, maxLength: hyper.max_length, bigrams: architecture === 'fasttext' });
  }
  const testDs = spec.inputs.test_dataset;
  const test = testDs ? await readTestExamples(testDs, labels) : null;
  // Integer labels in the JSONL come back as integers; "3" written as a string stays a string.
  const labelType = warm ? readLabelType(warm.model.label_type) : all.integerLabels ? labelTypeOf(labels) : 'string';
  return { hyper, architecture, labels, tokenizer, train, val, test, labelType, warm };
}

const CHECKPOINT_FORMAT = 'trainyard.text-classifier.checkpoint';

interface Checkpoint {
  format: typeof CHECKPOINT_FORMAT;
  /** Completed epochs; training resumes with the next one. */
  epoch: number;
  step: number;
  /** Shuffle/dropout PRNG state at the start of epoch `epoch + 1`. */
  rng_state: number;
  fingerprint: string;
  optimizer_step: number;
  /** Parameters and Adam moments, base64 float32: exact, and a quarter the size of JSON numbers. */
  arrays: Record<string, string>;
  history: EpochMetrics[];
}

/** What the weights are only meaningful against: data, vocabulary, labels, settings (more epochs are fine). */
function fingerprint(prep: Prepared): string {
  // Either backend resumes the other's checkpoints: the state is the same arrays.
  const { epochs: _epochs, backend: _backend, ...fixed } = prep.hyper;
  const vocab = createHash('sha256').update(JSON.stringify(prep.tokenizer.json)).digest('hex');
  return JSON.stringify({
    ...fixed,
    architecture: prep.architecture,
    labels: prep.labels,
    vocab,
    train: prep.train.texts.length,
    val: prep.val.texts.length,
    warm: !!prep.warm,
  });
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  // Write-then-rename: a kill mid-write must not leave a truncated file under the real name.
  await writeFile(`${file}.tmp`, JSON.stringify(value) + '\n');
  await rename(`${file}.tmp`, file);
}

/** A checkpoint that does not fit this job is reported and ignored: training from scratch still succeeds. */
async function loadCheckpoint(file: string, expected: string): Promise<Checkpoint | null> {
  let ckpt: Checkpoint;
  try {
    ckpt = JSON.parse(await readFile(file, 'utf8')) as Checkpoint;
  } catch (err) {
    log('warn', `cannot read checkpoint ${file} (${(err as Error).message}); training from scratch`);
    return null;
  }
  if (ckpt?.format !== CHECKPOINT_FORMAT || ckpt.fingerprint !== expected || !Number.isInteger(ckpt.epoch) || !Array.isArray(ckpt.history) || !ckpt.arrays) {
    log('warn', `checkpoint ${file} was made for different data or settings; training from scratch`);
    return null;
  }
  return ckpt;
}

function modelConfig(prep: Prepared): Record<string, number> {
  if (prep.warm) return prep.warm.model.config;
  const base = { vocab: prep.tokenizer.size, classes: prep.labels.length };
  return { ...base, ...DEFAULT_SIZES[prep.architecture] };
}

/**
 * The interpreter of the transformer's PyTorch backend, or null for the TypeScript loops: backend
 * tfjs, fasttext (plain TypeScript, already fast: it has no torch loop), or auto without a
 * Python environment. torch without one is the job's error.
 */
function torchPython(architecture: Architecture, backend: BackendChoice): string | null {
  if (backend === 'tfjs') return null;
  if (architecture !== 'transformer') {
    if (backend === 'torch') log('warn', 'backend torch applies to the transformer architecture; fasttext trains in TypeScript');
    return null;
  }
  const python = trainerPython();
  if (!python && backend === 'torch')
    throw new TrainerError('backend torch: no Python trainer environment on this machine (TRAINER_PYTHON); use backend tfjs or auto');
  return python;
}

async function train(spec: JobSpec, stop: StopSignal): Promise<number> {
  const started = performance.now();
  const prep = await prepare(spec, readHyper(spec.hyperparameters ?? {}));
  const { hyper, labels, tokenizer } = prep;
  const config = modelConfig(prep);
  const model = await createModel(prep.architecture, config, hyper.learning_rate, new Rng(hyper.seed ^ INIT_SALT));
  if (prep.warm) model.setWeights(prep.warm.weights);
  const classIndex = new Map(labels.map((l, k) => [l, k]));
  const encode = (ex: Examples) => ({ x: ex.texts.map((t) => model.encode(tokenizer, t)), y: Int32Array.from(ex.labels, (l) => classIndex.get(l)!) });
  const tr = encode(prep.train);
  const va = encode(prep.val);
  const n = tr.y.length;
  log('info', `${prep.architecture}: ${n} training texts, ${va.y.length} validation, ${labels.length} classes, ${tokenizer.size} tokens`);

  const rng = new Rng(hyper.seed ^ SHUFFLE_SALT);
  const expected = fingerprint(prep);
  let history: EpochMetrics[] = [];
  const ckpt = spec.resume_from ? await loadCheckpoint(spec.resume_from, expected) : null;
  if (ckpt) {
    const arrays = Object.fromEntries(Object.entries(ckpt.arrays).map(([k, v]) => [k, fromBase64(v)]));
    model.loadTrainingState({ step: ckpt.optimizer_step, arrays });
    rng.state = ckpt.rng_state;
    history = ckpt.history.filter((h) => h.epoch <= ckpt.epoch);
    log('info', `resumed from ${spec.resume_from} after epoch ${ckpt.epoch}`);
  }

  const batchSize = Math.min(hyper.batch_size, n);
  const batches = Math.ceil(n / batchSize);
  const progress = new ProgressReporter(hyper.epochs * batches, hyper.epochs);
  // Only the transformer pays for padding: its batches are grouped by length.
  const lengths = prep.architecture === 'transformer' ? tr.x.map((x) => x.length) : null;
  const onEpoch = (m: EpochMetrics): void => {
    history.push(m);
    send({ type: 'metrics', ...m });
  };
  // An epoch is the unit of resumption: a stop mid-epoch rolls back to its start.
  const saveCheckpoint = async (done: number, start: { state: TrainingState; rng: number }): Promise<number> => {
    const file = path.join(spec.checkpoint_dir, `ckpt-${done}.json`);
    const arrays = Object.fromEntries(Object.entries(start.state.arrays).map(([k, v]) => [k, toBase64(v)]));
    const state: Checkpoint = {
      format: CHECKPOINT_FORMAT,
      epoch: done,
      step: done * batches,
      rng_state: start.rng,
      fingerprint: expected,
      optimizer_step: start.state.step,
      arrays,
      history: history.filter((h) => h.epoch <= done),
    };
    await writeJson(file, state);
    send({ type: 'checkpoint', step: state.step, path: file });
    log('info', `stopped; checkpoint after epoch ${done} saved`);
    return EXIT_STOPPED;
  };

  const firstEpoch = (ckpt?.epoch ?? 0) + 1;
  let trainedWith = prep.architecture === 'transformer' ? 'tfjs' : 'typescript';
  let stateDict: string | null = null;
  let valProbs: Float32Array | null = null;
  const python = torchPython(prep.architecture, hyper.backend);
  // A checkpoint may already hold every epoch asked for (a retry with fewer epochs): nothing to train.
  if (python && firstEpoch <= hyper.epochs) {
    await mkdir(spec.output_dir, { recursive: true });
    const drawBatches = (r: Rng): number[][] => epochBatches(n, batchSize, lengths, r);
    const fit = { model, classes: labels.length, train: tr, val: va, learningRate: hyper.learning_rate, seed: hyper.seed, epochs: hyper.epochs };
    const out = await fitWithTorch(
      { ...fit, firstEpoch, batches, rng, drawBatches, progress, stop, onEpoch, onStop: saveCheckpoint },
      python,
      hyper.backend,
      spec.output_dir,
    );
    if (out?.stopped) return EXIT_STOPPED;
    if (out) ({ trainedWith, stateDict, valProbs } = out);
  }
  // After a torch run that finished, nothing is left to train.
  for (let epoch = stateDict ? hyper.epochs + 1 : firstEpoch; epoch <= hyper.epochs; epoch++) {
    const start: { state: TrainingState; rng: number } = { state: model.trainingState(), rng: rng.state };
    const order = epochBatches(n, batchSize, lengths, rng);
    let loss = 0;
    let correct = 0;
    for (let b = 0; b < batches; b++) {
      if (await stop.shouldStop()) return saveCheckpoint(epoch - 1, start);
      const idx = order[b]!;
      const r = model.trainBatch(
        idx.map((i) => tr.x[i]!),
        idx.map((i) => tr.y[i]!),
        rng,
      );
      loss += r.loss;
      correct += r.correct;
      progress.report((epoch - 1) * batches + b + 1, epoch);
    }
    // NaN would serialize as null, the worker would drop the events, and the job would end without a word.
    if (!Number.isFinite(loss)) throw new TrainerError(`training diverged at epoch ${epoch} (loss is ${loss}); lower learning_rate`);
    const values: Record<string, number> = { loss: loss / n, accuracy: correct / n };
    if (va.y.length > 0) {
      const v = evaluate(model, va.x, va.y, labels.length);
      Object.assign(values, { val_loss: v.loss, val_accuracy: v.report.accuracy, val_f1: v.report.macro_f1 });
    }
    onEpoch({ epoch, step: epoch * batches, values });
  }
  await finish({
    spec,
    hyperparameters: { ...hyper, architecture: prep.architecture },
    architecture: prep.architecture,
    labels,
    tokenizer,
    model,
    history,
    train: prep.train,
    val: { texts: prep.val.texts, ...va },
    test: prep.test && { id: spec.inputs.test_dataset!.id, texts: prep.test.texts, ...encode(prep.test) },
    labelType: prep.labelType,
    warmStart: !!prep.warm,
    trainingSeconds: (performance.now() - started) / 1000,
    backend: trainedWith,
    torchStateDict: stateDict,
    valProbs,
  });
  model.dispose();
  return 0;
}

await runTrainer(train);
