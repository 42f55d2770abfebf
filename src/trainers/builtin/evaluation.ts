/**
 * Held-out evaluation every classifier reports the same way: a test set (`test_dataset_id`)
 * or cross-validation folds scored by true and predicted class indices. One place, so
 * `test_accuracy` means the same thing for every trainer and facade (issue #18).
 *
 * Metric names (flat numbers in the result's `metrics`, what `best` can be chosen by):
 *   test_accuracy, test_macro_f1            — on the test set, per instance (recording) when
 *                                             the data has instances, per row/text otherwise
 *   cv_accuracy, cv_accuracy_std,
 *   cv_macro_f1, cv_macro_f1_std, cv_folds  — k-fold cross-validation (mean and sample std)
 * The structured report goes in the result's `details.test` and in metrics.json's `test`.
 */

export interface ClassReport {
  precision: number;
  recall: number;
  f1: number;
  /** True instances of this class. */
  support: number;
}

export interface ClassificationReport {
  accuracy: number;
  /** Unweighted mean F1 over the classes present in the truth or the predictions. */
  macro_f1: number;
  labels: string[];
  /** confusion_matrix[true][predicted], indexed like `labels`. */
  confusion_matrix: number[][];
  per_class: Record<string, ClassReport>;
  /** How many instances were scored. */
  count: number;
}

/** `truth` and `predicted` hold class indices into `labels`. */
export function classificationReport(truth: ArrayLike<number>, predicted: ArrayLike<number>, labels: readonly string[]): ClassificationReport {
  const k = labels.length;
  const n = truth.length;
  if (predicted.length !== n) throw new Error(`classificationReport: ${n} true labels but ${predicted.length} predictions`);
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < n; i++) {
    confusion[truth[i]!]![predicted[i]!]!++;
    if (truth[i] === predicted[i]) correct++;
  }
  const per_class: Record<string, ClassReport> = {};
  const f1s: number[] = [];
  for (let c = 0; c < k; c++) {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predictedC = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = predictedC > 0 ? tp / predictedC : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = support + predictedC > 0 ? (2 * tp) / (support + predictedC) : 0;
    per_class[labels[c]!] = { precision, recall, f1, support };
    // A class absent from both truth and predictions says nothing about this model.
    if (support + predictedC > 0) f1s.push(f1);
  }
  return {
    accuracy: n > 0 ? correct / n : NaN,
    macro_f1: f1s.length > 0 ? f1s.reduce((a, b) => a + b, 0) / f1s.length : NaN,
    labels: [...labels],
    confusion_matrix: confusion,
    per_class,
    count: n,
  };
}

/** The flat metrics a test report adds to a result. */
export function testMetrics(r: ClassificationReport): Record<string, number> {
  return { test_accuracy: r.accuracy, test_macro_f1: r.macro_f1 };
}

/** Mean and sample standard deviation (0 for one value), for cross-validation figures. */
export function meanStd(xs: readonly number[]): { mean: number; std: number } {
  if (xs.length === 0) return { mean: NaN, std: NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

/** The flat metrics k-fold cross-validation adds to a result. */
export function cvMetrics(folds: readonly { accuracy: number; macro_f1: number }[]): Record<string, number> {
  const acc = meanStd(folds.map((f) => f.accuracy));
  const f1 = meanStd(folds.map((f) => f.macro_f1));
  return { cv_accuracy: acc.mean, cv_accuracy_std: acc.std, cv_macro_f1: f1.mean, cv_macro_f1_std: f1.std, cv_folds: folds.length };
}
