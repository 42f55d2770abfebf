/**
 * Multinomial logistic regression: logits z = W·x + b, p = softmax(z), trained on mean
 * cross-entropy (+ l2/2·|W|², bias not penalized) by mini-batch gradient descent. Also the
 * saved model format and `predict`, which the server uses on a model.json without training code.
 */
import { NotNumericError, encodeInto } from './data.js';
import type { Encoding, FeatureEncoding } from './data.js';
import type { Prediction } from '../../predictor.js';
import { readLabelType, typedLabel, type LabelType } from '../labels.js';

export interface Params {
  classes: number;
  features: number;
  /** Row-major [class][feature]. */
  weights: Float64Array;
  bias: Float64Array;
}

/** Zeros: the loss is convex, so no random init is needed and the start is seed-independent. */
export function createParams(classes: number, features: number): Params {
  return { classes, features, weights: new Float64Array(classes * features), bias: new Float64Array(classes) };
}

export function cloneParams(p: Params): Params {
  return { ...p, weights: p.weights.slice(), bias: p.bias.slice() };
}

/**
 * Logits of row `r` of X into `z`, probabilities into `prob`; returns log(sum(exp(z))), so the
 * loss of class y is exactly lse - z[y] (subtracting the max keeps exp from overflowing, and
 * no log of a rounded-to-zero probability can turn into Infinity).
 */
function forward(p: Params, X: Float64Array, r: number, z: Float64Array, prob: Float64Array): number {
  const d = p.features;
  const base = r * d;
  let max = -Infinity;
  for (let k = 0; k < p.classes; k++) {
    let s = p.bias[k]!;
    const w = k * d;
    for (let j = 0; j < d; j++) s += p.weights[w + j]! * X[base + j]!;
    z[k] = s;
    if (s > max) max = s;
  }
  let total = 0;
  for (let k = 0; k < p.classes; k++) {
    prob[k] = Math.exp(z[k]! - max);
    total += prob[k]!;
  }
  for (let k = 0; k < p.classes; k++) prob[k]! /= total;
  return max + Math.log(total);
}

/** Index of the largest value; ties go to the lower index, the same in training and predict. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < values.length; k++) if (values[k]! > values[best]!) best = k;
  return best;
}

/** One gradient step on the rows `batch` (indices into X/y). Updates `p` in place. */
export function sgdStep(p: Params, X: Float64Array, y: Int32Array, batch: ArrayLike<number>, learningRate: number, l2: number): void {
  const { classes, features: d } = p;
  const gradW = new Float64Array(classes * d);
  const gradB = new Float64Array(classes);
  const z = new Float64Array(classes);
  const prob = new Float64Array(classes);
  for (let b = 0; b < batch.length; b++) {
    const r = batch[b]!;
    forward(p, X, r, z, prob);
    prob[y[r]!]! -= 1; // dLoss/dz = p - onehot(y)
    const base = r * d;
    for (let k = 0; k < classes; k++) {
      const g = prob[k]!;
      gradB[k]! += g;
      if (g === 0) continue;
      const w = k * d;
      for (let j = 0; j < d; j++) gradW[w + j]! += g * X[base + j]!;
    }
  }
  const scale = learningRate / batch.length;
  for (let i = 0; i < gradW.length; i++) p.weights[i]! -= scale * gradW[i]! + learningRate * l2 * p.weights[i]!;
  for (let k = 0; k < classes; k++) p.bias[k]! -= scale * gradB[k]!;
}

/** Mean cross-entropy and accuracy over all rows of X (the data loss only, comparable across l2 settings). */
export function evaluate(p: Params, X: Float64Array, y: Int32Array): { loss: number; accuracy: number } {
  const n = y.length;
  if (n === 0) return { loss: NaN, accuracy: NaN };
  const z = new Float64Array(p.classes);
  const prob = new Float64Array(p.classes);
  let loss = 0;
  let correct = 0;
  for (let r = 0; r < n; r++) {
    loss += forward(p, X, r, z, prob) - z[y[r]!]!;
    if (argmax(prob) === y[r]) correct++;
  }
  return { loss: loss / n, accuracy: correct / n };
}

/** The predicted class index of every row of X (what a test set or a fold is scored by). */
export function classify(p: Params, X: Float64Array): Int32Array {
  const n = p.features > 0 ? X.length / p.features : 0;
  const z = new Float64Array(p.classes);
  const prob = new Float64Array(p.classes);
  const out = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    forward(p, X, r, z, prob);
    out[r] = argmax(prob);
  }
  return out;
}

export const MODEL_FORMAT = 'trainyard.linear-classifier';

/** model.json: everything needed to turn a raw row into a class, and nothing run-specific (so same seed, same bytes). */
export interface LinearModel {
  format: typeof MODEL_FORMAT;
  version: 1;
  label_column: string;
  /** Class index → label. */
  classes: string[];
  /** The label column's type, so predict answers 3, not "3"; absent in models written before it (strings). */
  label_type?: LabelType;
  feature_names: string[];
  encoding: { features: FeatureEncoding[]; missing_numeric: 'training_mean'; unknown_category: 'all_zero' };
  normalization: { mean: number[]; std: number[] };
  /** [class][feature], over standardized features. */
  weights: number[][];
  bias: number[];
  hyperparameters: Record<string, unknown>;
}

export function toModel(
  p: Params,
  enc: Encoding,
  classes: readonly string[],
  labelColumn: string,
  labelType: LabelType,
  hyperparameters: Record<string, unknown>,
): LinearModel {
  const d = p.features;
  return {
    format: MODEL_FORMAT,
    version: 1,
    label_column: labelColumn,
    classes: [...classes],
    label_type: labelType,
    feature_names: enc.features.map((f) => f.name),
    encoding: { features: enc.features, missing_numeric: 'training_mean', unknown_category: 'all_zero' },
    normalization: { mean: enc.mean, std: enc.std },
    weights: classes.map((_, k) => Array.from(p.weights.subarray(k * d, (k + 1) * d))),
    bias: Array.from(p.bias),
    hyperparameters,
  };
}

/**
 * Rows are objects keyed by column name (CSV strings or JSON numbers). A missing numeric value
 * (absent key, null, empty string) is filled with its training mean, as in training, and the
 * prediction says how many were (`filled`); a present value that is not a number is an error
 * naming the instance and the feature. The label column is ignored.
 */
export function predict(model: LinearModel, rows: readonly Record<string, unknown>[]): Prediction[] {
  const enc: Encoding = { features: model.encoding.features, mean: model.normalization.mean, std: model.normalization.std };
  const d = enc.features.length;
  const p: Params = { classes: model.classes.length, features: d, weights: Float64Array.from(model.weights.flat()), bias: Float64Array.from(model.bias) };
  const labelType = readLabelType(model.label_type);
  const x = new Float64Array(d);
  const z = new Float64Array(p.classes);
  const prob = new Float64Array(p.classes);
  return rows.map((row, i) => {
    let filled: number;
    try {
      filled = encodeInto(enc, (column) => row[column], x, 0, true);
    } catch (err) {
      if (err instanceof NotNumericError) throw new Error(`instances[${i}]: ${err.message}`, { cause: err });
      throw err;
    }
    forward(p, x, 0, z, prob);
    const probabilities: Record<string, number> = {};
    model.classes.forEach((label, k) => (probabilities[label] = prob[k]!));
    const prediction: Prediction = { label: typedLabel(model.classes[argmax(prob)]!, labelType), probabilities };
    if (filled > 0) prediction.filled = filled;
    return prediction;
  });
}
