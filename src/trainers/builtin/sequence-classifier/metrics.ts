/**
 * Classification metrics from predicted probabilities, in plain JavaScript: they run once per
 * epoch on a few hundred windows, and doing them outside TensorFlow.js keeps them exact and
 * identical on every backend.
 */

export interface Scores {
  loss: number;
  accuracy: number;
  /** Macro one-vs-rest ROC AUC over the classes that have both positives and negatives; NaN if none. */
  auc: number;
  /** Macro F1 over the classes that occur in the truth or the predictions. */
  f1: number;
  /** confusion[true][predicted]. */
  confusion: number[][];
}

const EPS = 1e-7;

export function argmaxRow(probs: ArrayLike<number>, row: number, k: number): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (probs[row * k + c]! > probs[row * k + best]!) best = c;
  return best;
}

/**
 * AUC as the Mann-Whitney statistic: the probability that a random positive scores above a
 * random negative, ties counting half (average ranks), so it needs no threshold sweep.
 */
export function binaryAuc(scores: readonly number[], positive: readonly boolean[]): number {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSumPos = 0;
  let nPos = 0;
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) {
      if (positive[idx[t]!]) {
        rankSumPos += avgRank;
        nPos++;
      }
    }
    i = j + 1;
  }
  const nNeg = scores.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** `probs` is row-major [n × k]; `truth` holds class indices. The loss is plain cross-entropy. */
export function score(probs: ArrayLike<number>, truth: ArrayLike<number>, k: number): Scores {
  const n = truth.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const y = truth[i]!;
    loss -= Math.log(Math.min(1, Math.max(EPS, probs[i * k + y]!)));
    const p = argmaxRow(probs, i, k);
    if (p === y) correct++;
    confusion[y]![p]!++;
  }

  const aucs: number[] = [];
  for (let c = 0; c < k; c++) {
    const scores = Array.from({ length: n }, (_, i) => probs[i * k + c]!);
    const auc = binaryAuc(
      scores,
      Array.from({ length: n }, (_, i) => truth[i] === c),
    );
    if (!Number.isNaN(auc)) aucs.push(auc);
  }

  const f1s: number[] = [];
  for (let c = 0; c < k; c++) {
    const tp = confusion[c]![c]!;
    const actual = confusion[c]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[c]!, 0);
    // A class absent from both truth and predictions says nothing about this model; skip it
    // rather than count it as a perfect (or a zero) score.
    if (actual + predicted === 0) continue;
    f1s.push((2 * tp) / (actual + predicted));
  }
  const mean = (xs: number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
  return { loss: n > 0 ? loss / n : NaN, accuracy: n > 0 ? correct / n : NaN, auc: mean(aucs), f1: mean(f1s), confusion };
}

/** Protocol metrics must be finite numbers: NaN (no validation data, a one-class set) is left out. */
export function finite(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => Number.isFinite(v)));
}
