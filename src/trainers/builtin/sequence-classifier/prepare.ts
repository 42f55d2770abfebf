/**
 * From the job spec to training tensors: hyperparameters, the datasets as windows, the split,
 * normalization (fitted on training windows only, or kept from the previous version on a
 * warm start), class indices and class weights.
 */
import type { JobSpec, SpecDataset } from '../../protocol.js';
import { readHyperparameters } from '../hyperparameters.js';
import { TrainerError } from '../runtime.js';
import { loadModel, readPreprocessing } from './artifacts.js';
import type { Preprocessing } from './artifacts.js';
import { blocksOf, fitNormalization, loadSeries, reorderFeatures, splitWindows, windowData } from './data.js';
import type { Normalization, Series, Window } from './data.js';
import { MODEL_TYPES } from './models.js';
import type { ModelType } from './models.js';
import type { Batches } from './train.js';
import type { tf } from './tf.js';

export interface Hyper {
  model_type: ModelType;
  epochs: number;
  batch_size: number;
  learning_rate: number;
  dropout_rate: number;
  l1_reg: number;
  l2_reg: number;
  use_separable: boolean;
  use_relative_pos: boolean;
  sequence_length: number;
  validation_split: number;
  patience: number;
  seed: number;
  subject_id?: string;
  session_id?: string;
}

/** Complete: the server filled in the catalog's defaults (catalog.ts); subject_id and session_id have none. */
export function readHyper(hp: Record<string, unknown>): Hyper {
  return readHyperparameters<Hyper>(
    hp,
    {
      model_type: MODEL_TYPES,
      epochs: 'integer',
      batch_size: 'integer',
      learning_rate: 'number',
      dropout_rate: 'number',
      l1_reg: 'number',
      l2_reg: 'number',
      use_separable: 'boolean',
      use_relative_pos: 'boolean',
      sequence_length: 'integer',
      validation_split: 'number',
      patience: 'integer',
      seed: 'integer',
      subject_id: 'string',
      session_id: 'string',
    },
    ['subject_id', 'session_id'],
  );
}

export interface WarmStart {
  dir: string;
  model: tf.LayersModel;
  prep: Preprocessing;
}

export async function loadWarmStart(dir: string): Promise<WarmStart> {
  try {
    const prep = await readPreprocessing(dir);
    const { model } = await loadModel(dir);
    return { dir, model, prep };
  } catch (err) {
    throw new TrainerError(`warm start: cannot load the previous version from ${dir}: ${(err as Error).message}`);
  }
}

export interface Prepared {
  labelColumn: string;
  orderColumn: string | null;
  features: string[];
  classes: string[];
  sequenceLength: number;
  modelType: ModelType;
  normalization: Normalization;
  train: Batches;
  val: Batches;
  trainCounts: number[];
  classWeights: number[];
  /** How validation was obtained, for the model card. */
  validation: string;
}

function labelColumnOf(ds: SpecDataset): string {
  if (ds.kind !== 'tabular-csv') throw new TrainerError(`dataset ${ds.id} is of kind ${ds.kind}; sequence-classifier needs tabular-csv`);
  const label = ds.options?.label_column;
  if (typeof label !== 'string' || label.trim() === '')
    throw new TrainerError(`dataset ${ds.id} has no label_column option: set options.label_column to the column holding the class`);
  return label;
}

const list = (names: readonly string[]): string => names.map((n) => `"${n}"`).join(', ');

/** A warm start continues one model: same inputs in the same order, and no class it cannot output. */
function checkWarm(series: Series, warm: WarmStart): Series {
  const prev = warm.prep.features;
  const missing = prev.filter((f) => !series.features.includes(f));
  const extra = series.features.filter((f) => !prev.includes(f));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [missing.length > 0 ? `missing ${list(missing)}` : '', extra.length > 0 ? `not in the previous version ${list(extra)}` : ''].filter(Boolean);
    throw new TrainerError(
      `warm start: the dataset's feature columns do not match the previous version's (${parts.join('; ')}); expected ${list(prev)}. Train from scratch to change the features`,
    );
  }
  const unknown = [...new Set(series.labels)].filter((l) => !warm.prep.classes.includes(l));
  if (unknown.length > 0)
    throw new TrainerError(
      `warm start: classes ${list(unknown)} are not among the previous version's classes ${list(warm.prep.classes)}. Train from scratch to add classes`,
    );
  return reorderFeatures(series, prev);
}

function toBatches(series: Series, windows: readonly Window[], sequenceLength: number, norm: Normalization, classIndex: Map<string, number>): Batches {
  return { x: windowData(series, windows, sequenceLength, norm), y: Int32Array.from(windows, (w) => classIndex.get(w.label)!) };
}

export async function prepare(spec: JobSpec, hyper: Hyper, warm: WarmStart | null, warn: (message: string) => void): Promise<Prepared> {
  const labelColumn = labelColumnOf(spec.inputs.dataset);
  let series = await loadSeries(spec.inputs.dataset.files, labelColumn, 'dataset', warn);
  let sequenceLength = hyper.sequence_length;
  let modelType = hyper.model_type;
  if (warm) {
    series = checkWarm(series, warm);
    if (warm.prep.sequence_length !== sequenceLength)
      warn(`warm start: keeping the previous version's sequence_length ${warm.prep.sequence_length} (the model's input size), not ${sequenceLength}`);
    if (warm.prep.model_type !== modelType) warn(`warm start: keeping the previous version's architecture ${warm.prep.model_type}, not ${modelType}`);
    sequenceLength = warm.prep.sequence_length;
    modelType = warm.prep.model_type;
  }

  const valDs = spec.inputs.validation_dataset;
  let valSeries: Series | null = null;
  let split: { train: Window[]; val: Window[] };
  let validation: string;
  if (valDs) {
    if (valDs.kind !== 'tabular-csv') throw new TrainerError(`validation dataset ${valDs.id} is of kind ${valDs.kind}; sequence-classifier needs tabular-csv`);
    valSeries = await loadSeries(valDs.files, labelColumn, 'validation dataset', warn, series.features);
    split = {
      train: blocksOf(series.labels, sequenceLength).flatMap((b) => b.windows),
      val: blocksOf(valSeries.labels, sequenceLength).flatMap((b) => b.windows),
    };
    validation = `dataset ${valDs.id}`;
  } else {
    split = splitWindows(series.labels, sequenceLength, hyper.validation_split, hyper.seed);
    validation = `${Math.round(hyper.validation_split * 100)}% of the blocks of windows, stratified by label (seed ${hyper.seed})`;
  }
  if (split.train.length === 0) {
    throw new TrainerError(
      `no training window: no run of ${sequenceLength} consecutive rows shares one "${labelColumn}" value; lower sequence_length or check the row order`,
    );
  }

  const classes = warm ? [...warm.prep.classes] : [...new Set(split.train.map((w) => w.label))].sort();
  if (classes.length < 2) throw new TrainerError(`training needs at least 2 classes in "${labelColumn}" among the training windows, found ${classes.length}`);
  const classIndex = new Map(classes.map((c, k) => [c, k]));
  // A class the model cannot output cannot be scored; counting it would only measure that.
  const knownVal = split.val.filter((w) => classIndex.has(w.label));
  if (knownVal.length < split.val.length) warn(`validation: ignored ${split.val.length - knownVal.length} windows whose class is not in the training data`);

  const normalization = warm ? warm.prep.normalization : fitNormalization(series, split.train, sequenceLength);
  const train = toBatches(series, split.train, sequenceLength, normalization, classIndex);
  const val = toBatches(valSeries ?? series, knownVal, sequenceLength, normalization, classIndex);

  const trainCounts = classes.map(() => 0);
  train.y.forEach((k) => trainCounts[k]!++);
  const present = trainCounts.filter((c) => c > 0);
  // Inverse frequency, normalised so the average weight per training window is 1; only when
  // the imbalance is real, so a balanced dataset trains on the plain loss.
  const imbalanced = Math.max(...present) > 1.1 * Math.min(...present);
  const classWeights = trainCounts.map((c) => (!imbalanced ? 1 : c === 0 ? 0 : train.y.length / (present.length * c)));
  return {
    labelColumn,
    orderColumn: series.orderColumn,
    features: series.features,
    classes,
    sequenceLength,
    modelType,
    normalization,
    train,
    val,
    trainCounts,
    classWeights,
    validation,
  };
}
