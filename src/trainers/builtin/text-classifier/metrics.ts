/**
 * Classification metrics from true and predicted class indices: accuracy, per-class
 * precision/recall/F1/support, macro F1 and the confusion matrix, plus their flattening into
 * the protocol's numeric `metrics` record.
 */
import type { TextModel } from './model.js';

export interface ClassReport {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Report {
  accuracy: number;
  /** Mean F1 over the classes that occur in the truth or the predictions (as scikit-learn does). */
  macro_f1: number;
  /** confusion[true][predicted] */
  confusion: number[][];
  per_class: ClassReport[];
}

export function classificationReport(truth: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): Report {
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    confusion[truth[i]!]![predicted[i]!]!++;
    if (truth[i] === predicted[i]) correct++;
  }
  const perClass: ClassReport[] = [];
  let f1Sum = 0;
  let present = 0;
  for (let k = 0; k < classes; k++) {
    const tp = confusion[k]![k]!;
    const support = confusion[k]!.reduce((a, b) => a + b, 0);
    const predictedK = confusion.reduce((a, row) => a + row[k]!, 0);
    // 0 rather than NaN for an empty denominator: NaN cannot travel in a protocol event.
    const precision = predictedK === 0 ? 0 : tp / predictedK;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perClass.push({ precision, recall, f1, support });
    if (support > 0 || predictedK > 0) {
      f1Sum += f1;
      present++;
    }
  }
  return { accuracy: truth.length === 0 ? 0 : correct / truth.length, macro_f1: present === 0 ? 0 : f1Sum / present, confusion, per_class: perClass };
}

/** Metric names carry labels; keep them to [a-z0-9_] so every consumer can use them as keys. */
export function sanitizeLabel(label: string): string {
  const s = label
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return s === '' ? 'class' : s;
}

/** Distinct metric suffixes for labels that sanitize alike ("Jail-Break" and "jail break"). */
export function metricSuffixes(labels: readonly string[]): string[] {
  const used = new Set<string>();
  return labels.map((label) => {
    const base = sanitizeLabel(label);
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}_${n}`;
    used.add(name);
    return name;
  });
}

/**
 * `val_precision_<label>`, `val_recall_<label>`, `val_f1_<label>` for as many classes as fit in
 * `room` keys: the protocol drops a result with more than 200 metrics, and the full table is in
 * the details anyway. Returns how many classes were left out.
 */
export function perClassMetrics(labels: readonly string[], report: Report, room: number): { values: Record<string, number>; omitted: number } {
  const values: Record<string, number> = {};
  const suffixes = metricSuffixes(labels);
  const fit = Math.max(0, Math.min(labels.length, Math.floor(room / 3)));
  for (let k = 0; k < fit; k++) {
    const c = report.per_class[k]!;
    values[`val_precision_${suffixes[k]}`] = c.precision;
    values[`val_recall_${suffixes[k]}`] = c.recall;
    values[`val_f1_${suffixes[k]}`] = c.f1;
  }
  return { values, omitted: labels.length - fit };
}

/** The `details` block of the result: what a dashboard needs to draw the confusion matrix. */
export function reportDetails(labels: readonly string[], report: Report): Record<string, unknown> {
  return {
    labels: [...labels],
    confusion_matrix: report.confusion,
    per_class: Object.fromEntries(labels.map((label, k) => [label, report.per_class[k]])),
  };
}

/** Index of the largest value; ties go to the lower index, the same in training and prediction. */
export function argmax(values: ArrayLike<number>, from = 0, count = values.length): number {
  let best = 0;
  for (let k = 1; k < count; k++) if (values[from + k]! > values[from + best]!) best = k;
  return best;
}

/** The predicted class index of each encoded input. */
export function predictIndices(model: TextModel, inputs: readonly Int32Array[], classes: number): Int32Array {
  const probs = model.predict(inputs);
  return Int32Array.from({ length: inputs.length }, (_, n) => argmax(probs, n * classes, classes));
}

/** Mean cross-entropy and the classification report of a model on encoded inputs, without dropout. */
export function evaluate(model: TextModel, inputs: readonly Int32Array[], truth: Int32Array, classes: number): { loss: number; report: Report } {
  return scoreProbs(model.predict(inputs), truth, classes);
}

/** Mean cross-entropy and the classification report of class probabilities, row-major [input][class] (the torch backend's too). */
export function scoreProbs(probs: Float32Array, truth: Int32Array, classes: number): { loss: number; report: Report } {
  const predicted = new Int32Array(truth.length);
  let loss = 0;
  for (let n = 0; n < truth.length; n++) {
    predicted[n] = argmax(probs, n * classes, classes);
    loss -= Math.log(Math.max(probs[n * classes + truth[n]!]!, 1e-30));
  }
  return { loss: loss / Math.max(1, truth.length), report: classificationReport(truth, predicted, classes) };
}
