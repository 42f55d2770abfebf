/**
 * From the job spec to training data: hyperparameters, the datasets as units of windows
 * (recordings or blocks, units.ts), the split or the folds, the test set, the "auto" settings
 * resolved, normalization (fitted on training windows only, or kept from the previous version
 * on a warm start) and class indices. sets.ts turns units into tensors.
 */
import type { JobSpec, SpecDataset } from '../../protocol.js';
import { HyperparameterError, readHyperparameters } from '../hyperparameters.js';
import { TrainerError } from '../runtime.js';
import { loadModel, readPreprocessing } from './artifacts.js';
import type { Preprocessing } from './artifacts.js';
import { labelTypeOf, readLabelType } from '../labels.js';
import type { LabelType } from '../labels.js';
import { STREAM_SEQUENCE_LENGTH, autoSequenceLength, chooseModelType, resolvePatience } from './auto.js';
import type { ModelChoice, ResolvedModel } from './auto.js';
import { fitNormalization, loadSeries, reorderFeatures } from './data.js';
import type { Normalization, Series, SeriesOptions } from './data.js';
import { MODEL_TYPES } from './models.js';
import type { tf } from './tf.js';
import { splitUnits, stratifiedFolds, unitsOf } from './units.js';
import type { Unit } from './units.js';

export interface Hyper {
  model_type: ModelChoice;
  epochs: number;
  batch_size: number;
  learning_rate: number;
  lr_schedule: 'constant' | 'warmup_cosine';
  dropout_rate: number;
  l1_reg: number;
  l2_reg: number;
  use_separable: boolean;
  use_relative_pos: boolean;
  sequence_length: number | 'auto';
  minirocket_features: number;
  validation_split: number;
  /** k-fold cross-validation by instance (stream mode: by block); absent = one split. */
  validation?: { folds: number };
  patience: number | 'auto';
  min_epochs: number;
  seed: number;
  /** Who runs the training loop of the deep architectures: auto = torch when the Python trainer environment is there. */
  backend: 'auto' | 'tfjs' | 'torch';
  subject_id?: string;
  session_id?: string;
}

const intOrAuto = (v: unknown): boolean => v === 'auto' || Number.isInteger(v);

/** Complete: the server filled in the catalog's defaults (catalog.ts); subject_id, session_id and validation have none. */
export function readHyper(hp: Record<string, unknown>): Hyper {
  // readHyperparameters checks one JSON kind per key; the integer-or-"auto" and object
  // settings are checked here, with the same error.
  const { sequence_length, patience, validation, ...plain } = hp;
  const problems: string[] = [];
  if (!intOrAuto(sequence_length)) problems.push(`sequence_length must be an integer or "auto", got ${JSON.stringify(sequence_length)}`);
  if (!intOrAuto(patience)) problems.push(`patience must be an integer or "auto", got ${JSON.stringify(patience)}`);
  const folds = (validation as { folds?: unknown } | undefined)?.folds;
  if (validation !== undefined && !(Number.isInteger(folds) && (folds as number) >= 2))
    problems.push(`validation must be {"folds": k} with an integer k ≥ 2, got ${JSON.stringify(validation)}`);
  if (problems.length > 0) throw new HyperparameterError(`hyperparameters: ${problems.join('; ')}`);
  const rest = readHyperparameters<Omit<Hyper, 'sequence_length' | 'patience' | 'validation'>>(
    plain,
    {
      model_type: ['auto', 'minirocket', ...MODEL_TYPES],
      epochs: 'integer',
      batch_size: 'integer',
      learning_rate: 'number',
      lr_schedule: ['constant', 'warmup_cosine'],
      dropout_rate: 'number',
      l1_reg: 'number',
      l2_reg: 'number',
      use_separable: 'boolean',
      use_relative_pos: 'boolean',
      minirocket_features: 'integer',
      validation_split: 'number',
      min_epochs: 'integer',
      seed: 'integer',
      backend: ['auto', 'tfjs', 'torch'],
      subject_id: 'string',
      session_id: 'string',
    },
    // backend came after the others: a spec written before it (a retried job) means auto.
    ['subject_id', 'session_id', 'backend'],
  );
  return {
    ...rest,
    backend: rest.backend ?? 'auto',
    sequence_length: sequence_length as number | 'auto',
    patience: patience as number | 'auto',
    ...(validation !== undefined ? { validation: { folds: folds as number } } : {}),
  };
}

export interface WarmStart {
  dir: string;
  model: tf.LayersModel;
  prep: Preprocessing;
}

export async function loadWarmStart(dir: string): Promise<WarmStart> {
  try {
    const prep = await readPreprocessing(dir);
    if (prep.model_type === 'minirocket') throw new Error('a minirocket version has no network weights to continue from; train from scratch');
    const { model } = await loadModel(dir);
    return { dir, model, prep };
  } catch (err) {
    throw new TrainerError(`warm start: cannot load the previous version from ${dir}: ${(err as Error).message}`);
  }
}

export interface Prepared {
  labelColumn: string;
  orderColumn: string | null;
  instanceColumn: string | null;
  features: string[];
  classes: string[];
  labelType: LabelType;
  sequenceLength: number;
  modelType: ResolvedModel;
  /** Which settings were "auto", with what they resolved to (result details, preprocessing.json). */
  resolved: { model_type: ResolvedModel; sequence_length: number; patience: number; auto: string[] };
  patience: number;
  classIndex: Map<string, number>;
  /** The training dataset and its units (instances, or blocks in stream mode). */
  series: Series;
  units: Unit[];
  /** Indices into `units`: the single split (val empty without validation). */
  split: { train: number[]; val: number[] };
  /** A validation dataset, when given: scored instead of a split of `units`. */
  valData: { series: Series; units: Unit[] } | null;
  /** k-fold: each fold's validation units (null without `validation.folds`). */
  folds: number[][] | null;
  /** Fitted on the training units of `split` (k-fold: each fold fits its own; warm start: kept). */
  normalization: Normalization;
  test: { series: Series; units: Unit[]; id: string } | null;
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

/** The dataset options that shape a series: a test dataset is read with its own. */
function seriesOptions(ds: SpecDataset): SeriesOptions {
  const text = (key: string): string | undefined => {
    const v = ds.options?.[key];
    return typeof v === 'string' && v.trim() !== '' ? v : undefined;
  };
  const instanceColumn = text('instance_column');
  const orderColumn = text('order_column');
  return { ...(instanceColumn ? { instanceColumn } : {}), ...(orderColumn ? { orderColumn } : {}) };
}

const lengthsOf = (series: Series): number[] => (series.instances ?? []).map((i) => i.end - i.start);

/** Stream mode: the longest run of one label. */
function longestRun(labels: readonly string[]): number {
  let longest = 0;
  for (let i = 0; i < labels.length;) {
    let j = i + 1;
    while (j < labels.length && labels[j] === labels[i]) j++;
    longest = Math.max(longest, j - i);
    i = j;
  }
  return longest;
}

export async function prepare(spec: JobSpec, hyper: Hyper, warm: WarmStart | null, warn: (message: string) => void): Promise<Prepared> {
  const ds = spec.inputs.dataset;
  const labelColumn = labelColumnOf(ds);
  const options = seriesOptions(ds);
  let series = await loadSeries(ds.files, labelColumn, 'dataset', warn, options);
  if (warm) series = checkWarm(series, warm);
  const instances = series.instances !== null;
  const lengths = lengthsOf(series);

  const auto: string[] = [];
  if (hyper.sequence_length === 'auto') auto.push('sequence_length');
  if (hyper.model_type === 'auto') auto.push('model_type');
  let modelType = chooseModelType(hyper.model_type, {
    instances,
    trainInstances: instances ? lengths.length : series.labels.length,
    longestInstance: instances ? Math.max(...lengths) : longestRun(series.labels),
  });
  // MiniRocket reads a whole recording at once (its features are pooled over time, no vote
  // needed): the window is the longest recording, shorter ones padded. The deep
  // architectures learn from shorter windows and vote (autoSequenceLength).
  let sequenceLength =
    hyper.sequence_length !== 'auto'
      ? hyper.sequence_length
      : !instances
        ? STREAM_SEQUENCE_LENGTH
        : modelType === 'minirocket'
          ? Math.min(1024, Math.max(...lengths))
          : autoSequenceLength(lengths);
  if (warm) {
    if (warm.prep.sequence_length !== sequenceLength)
      warn(`warm start: keeping the previous version's sequence_length ${warm.prep.sequence_length} (the model's input size), not ${sequenceLength}`);
    if (warm.prep.model_type !== modelType) warn(`warm start: keeping the previous version's architecture ${warm.prep.model_type}, not ${modelType}`);
    sequenceLength = warm.prep.sequence_length;
    modelType = warm.prep.model_type;
  }
  if (hyper.patience === 'auto') auto.push('patience');
  const patience = resolvePatience(hyper.patience, hyper.epochs);

  const units = unitsOf(series, sequenceLength);
  const valDs = spec.inputs.validation_dataset;
  const folds = hyper.validation?.folds ?? null;
  if (valDs && folds !== null)
    throw new TrainerError(
      `both a validation dataset (${valDs.id}) and validation.folds (${folds}) were given: pick one (drop validation.folds to validate on the dataset, or drop the validation dataset to cross-validate)`,
    );
  const unitName = instances ? 'recordings' : 'blocks of windows';
  let valData: Prepared['valData'] = null;
  let split: Prepared['split'];
  let validation: string;
  let foldUnits: number[][] | null = null;
  if (valDs) {
    if (valDs.kind !== 'tabular-csv') throw new TrainerError(`validation dataset ${valDs.id} is of kind ${valDs.kind}; sequence-classifier needs tabular-csv`);
    const valSeries = await loadSeries(valDs.files, labelColumn, 'validation dataset', warn, { ...seriesOptions(valDs), features: series.features });
    valData = { series: valSeries, units: unitsOf(valSeries, sequenceLength) };
    split = { train: units.map((_, i) => i), val: [] };
    validation = `dataset ${valDs.id}`;
  } else if (folds !== null) {
    if (units.length < folds) throw new TrainerError(`validation.folds is ${folds} but the dataset has only ${units.length} ${unitName}: lower folds`);
    foldUnits = stratifiedFolds(units, folds, hyper.seed);
    split = { train: units.map((_, i) => i), val: [] };
    validation = `${folds}-fold cross-validation over ${units.length} ${unitName}, stratified by label (seed ${hyper.seed}); the returned model is trained on all of them`;
  } else {
    split = splitUnits(units, hyper.validation_split, hyper.seed);
    validation = `${Math.round(hyper.validation_split * 100)}% of the ${unitName}, stratified by label (seed ${hyper.seed})`;
  }
  const trainWindows = split.train.flatMap((i) => units[i]!.windows);
  if (trainWindows.length === 0) {
    throw new TrainerError(
      instances
        ? `no training recording: the dataset has no instance with a "${labelColumn}" value`
        : `no training window: no run of ${sequenceLength} consecutive rows shares one "${labelColumn}" value; lower sequence_length or check the row order (or set the dataset's instance_column)`,
    );
  }
  const classes = warm ? [...warm.prep.classes] : [...new Set(trainWindows.map((w) => w.label))].sort();
  if (classes.length < 2) throw new TrainerError(`training needs at least 2 classes in "${labelColumn}" among the training windows, found ${classes.length}`);
  const classIndex = new Map(classes.map((c, k) => [c, k]));
  const normalization = warm ? warm.prep.normalization : fitNormalization(series, trainWindows, sequenceLength);

  let test: Prepared['test'] = null;
  const testDs = spec.inputs.test_dataset;
  if (testDs) {
    if (testDs.kind !== 'tabular-csv') throw new TrainerError(`test dataset ${testDs.id} is of kind ${testDs.kind}; sequence-classifier needs tabular-csv`);
    const testSeries = await loadSeries(testDs.files, labelColumnOf(testDs), 'test dataset', warn, { ...seriesOptions(testDs), features: series.features });
    test = { series: testSeries, units: unitsOf(testSeries, sequenceLength), id: testDs.id };
  }
  return {
    labelColumn,
    orderColumn: series.orderColumn,
    instanceColumn: series.instanceColumn,
    features: series.features,
    classes,
    labelType: warm?.prep.label_type ? readLabelType(warm.prep.label_type) : labelTypeOf(classes),
    sequenceLength,
    modelType,
    resolved: { model_type: modelType, sequence_length: sequenceLength, patience, auto },
    patience,
    classIndex,
    series,
    units,
    split,
    valData,
    folds: foldUnits,
    normalization,
    test,
    validation,
  };
}
