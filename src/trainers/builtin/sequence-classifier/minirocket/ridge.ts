/**
 * The classifier behind MiniRocket, as in aeon's MiniRocketClassifier:
 * StandardScaler(with_mean=False) then sklearn's RidgeClassifierCV(alphas=logspace(-3, 3, 10)):
 * one-vs-all targets in {−1, 1} (a single column for two classes, positive = class 1), a fitted
 * (unpenalised) intercept, and the regularisation chosen by efficient leave-one-out error
 * (sklearn's "gram" GCV mode: eigendecomposition of the centred Gram matrix; mean squared
 * leave-one-out error over all targets, first alpha wins ties).
 *
 * Large training sets (n > gcvMax instances): the n × n eigendecomposition grows as n³, so
 * alpha is chosen the same way on a stratified subsample of gcvMax instances, and the ridge
 * for that alpha is then solved on all instances by conjugate gradients on the normal
 * equations (matrix-free). The optimal ridge penalty of a Bayesian linear model (noise over
 * prior variance) does not depend on n, so the subsample's alpha is used as is.
 */
import { Rng } from '../../runtime.js';
import { symmetricEigen } from './eigen.js';
import { solveRidgeCG } from './ridge-cg.js';

export const ALPHAS: readonly number[] = Array.from({ length: 10 }, (_, i) => 10 ** (-3 + (6 * i) / 9));
export const GCV_MAX_INSTANCES = 1000;

export interface RidgeModel {
  /** targets × features, row-major, in the original (unscaled) feature space. */
  weights: Float32Array;
  intercepts: Float32Array;
  targets: number;
  alpha: number;
}

/** One-vs-all targets in {−1, 1}: n × T, T = 1 for two classes (the positive class is 1). */
export function ridgeTargets(y: Int32Array, classes: number): { Y: Float64Array; targets: number } {
  const targets = classes === 2 ? 1 : classes;
  const Y = new Float64Array(y.length * targets);
  for (let i = 0; i < y.length; i++) {
    for (let t = 0; t < targets; t++) Y[i * targets + t] = y[i] === (targets === 1 ? 1 : t) ? 1 : -1;
  }
  return { Y, targets };
}

/** Per-feature mean and the StandardScaler scale (population std; 1 for a constant feature). */
export function featureStats(X: Float32Array, rows: ArrayLike<number>, F: number): { mean: Float64Array; scale: Float64Array } {
  const mean = new Float64Array(F);
  const sq = new Float64Array(F);
  const n = rows.length;
  for (let r = 0; r < n; r++) {
    const o = rows[r]! * F;
    for (let f = 0; f < F; f++) mean[f]! += X[o + f]!;
  }
  for (let f = 0; f < F; f++) mean[f] = mean[f]! / n;
  for (let r = 0; r < n; r++) {
    const o = rows[r]! * F;
    for (let f = 0; f < F; f++) {
      const v = X[o + f]! - mean[f]!;
      sq[f]! += v * v;
    }
  }
  const scale = new Float64Array(F);
  for (let f = 0; f < F; f++) {
    const s = Math.sqrt(sq[f]! / n);
    scale[f] = s < 10 * 2 ** -52 ? 1 : s;
  }
  return { mean, scale };
}

interface Gcv {
  alpha: number;
  /** Dual coefficients (n × T) of the best alpha. */
  dual: Float64Array;
}

/** Leave-one-out choice of alpha on the centred, scaled rows Z (n × F), centred targets Yc (n × T). */
function gcv(Z: Float64Array, n: number, F: number, Yc: Float64Array, T: number): Gcv {
  const K = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const zi = i * F;
    for (let j = 0; j <= i; j++) {
      const zj = j * F;
      let s = 0;
      for (let f = 0; f < F; f++) s += Z[zi + f]! * Z[zj + f]!;
      K[i * n + j] = s;
      K[j * n + i] = s;
    }
  }
  const { values, vectors: Q } = symmetricEigen(K, n); // row j of Q: eigenvector j
  const QtY = new Float64Array(n * T);
  const Qt1 = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s1 = 0;
    for (let i = 0; i < n; i++) {
      const q = Q[j * n + i]!;
      s1 += q;
      for (let t = 0; t < T; t++) QtY[j * T + t]! += q * Yc[i * T + t]!;
    }
    Qt1[j] = s1;
  }
  let best: Gcv | null = null;
  let bestScore = -Infinity;
  const c = new Float64Array(n * T);
  const diag = new Float64Array(n);
  const g1 = new Float64Array(n);
  for (const alpha of ALPHAS) {
    c.fill(0);
    diag.fill(0);
    g1.fill(0);
    for (let j = 0; j < n; j++) {
      const D = 1 / (values[j]! + alpha);
      const row = j * n;
      const w1 = D * Qt1[j]!;
      for (let i = 0; i < n; i++) {
        const q = Q[row + i]!;
        diag[i]! += q * q * D;
        g1[i]! += q * w1;
        for (let t = 0; t < T; t++) c[i * T + t]! += q * D * QtY[j * T + t]!;
      }
    }
    // The intercept is not penalised: remove the constant direction from G⁻¹'s diagonal (sklearn).
    let sse = 0;
    for (let i = 0; i < n; i++) {
      const d = diag[i]! - g1[i]! / n;
      for (let t = 0; t < T; t++) {
        const e = c[i * T + t]! / d;
        sse += e * e;
      }
    }
    const score = -sse / (n * T);
    if (score > bestScore || best === null) {
      bestScore = score;
      best = { alpha, dual: Float64Array.from(c) };
    }
  }
  return best!;
}

/**
 * Rows `rows` of X, centred by `mean` and divided by `scale`, in float64: centring in float32
 * leaves the constant direction with a small non-zero Gram eigenvalue, which the unpenalised
 * intercept correction assumes is zero, and skews the leave-one-out error at small alphas.
 */
function centredScaled(X: Float32Array, rows: ArrayLike<number>, F: number, mean: Float64Array, scale: Float64Array): Float64Array {
  const Z = new Float64Array(rows.length * F);
  for (let r = 0; r < rows.length; r++) {
    const o = rows[r]! * F;
    for (let f = 0; f < F; f++) Z[r * F + f] = (X[o + f]! - mean[f]!) / scale[f]!;
  }
  return Z;
}

/** Up to m instances, each class keeping its share (at least one per class present). */
export function stratifiedSubsample(y: Int32Array, classes: number, m: number, rng: Rng): Int32Array {
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  y.forEach((c, i) => byClass[c]!.push(i));
  const out: number[] = [];
  for (const members of byClass) {
    if (members.length === 0) continue;
    rng.shuffle(members);
    out.push(...members.slice(0, Math.max(1, Math.round((members.length * m) / y.length))));
  }
  return Int32Array.from(out.sort((a, b) => a - b));
}

/**
 * Fit the scaler and the ridge on features X (n × F). `tick` is awaited between conjugate
 * gradient iterations (large n only); it returns true to stop, and then so does this (null).
 */
export async function fitRidgeCV(
  X: Float32Array,
  n: number,
  F: number,
  y: Int32Array,
  classes: number,
  seed: number,
  tick: () => Promise<boolean>,
  gcvMax = GCV_MAX_INSTANCES,
): Promise<RidgeModel | null> {
  const { Y, targets: T } = ridgeTargets(y, classes);
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const { mean, scale } = featureStats(X, all, F);
  const yMean = new Float64Array(T);
  for (let i = 0; i < n; i++) for (let t = 0; t < T; t++) yMean[t]! += Y[i * T + t]! / n;
  const Yc = Y.map((v, k) => v - yMean[k % T]!);

  let alpha: number;
  let coef: Float64Array; // F × T, in the scaled space
  if (n <= gcvMax) {
    const Z = centredScaled(X, all, F, mean, scale);
    const best = gcv(Z, n, F, Yc, T);
    alpha = best.alpha;
    coef = new Float64Array(F * T);
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < T; t++) {
        const ci = best.dual[i * T + t]!;
        for (let f = 0; f < F; f++) coef[f * T + t]! += Z[i * F + f]! * ci;
      }
    }
  } else {
    const rows = stratifiedSubsample(y, classes, gcvMax, new Rng(seed ^ 0x5bd1e995));
    const sub = featureStats(X, rows, F);
    const Ys = new Float64Array(rows.length * T);
    const ysMean = new Float64Array(T);
    rows.forEach((r) => {
      for (let t = 0; t < T; t++) ysMean[t]! += Y[r * T + t]! / rows.length;
    });
    rows.forEach((r, i) => {
      for (let t = 0; t < T; t++) Ys[i * T + t] = Y[r * T + t]! - ysMean[t]!;
    });
    alpha = gcv(centredScaled(X, rows, F, sub.mean, sub.scale), rows.length, F, Ys, T).alpha;
    const solved = await solveRidgeCG(X, n, F, mean, scale, Yc, T, alpha, tick);
    if (solved === null) return null;
    coef = solved;
  }

  const weights = new Float32Array(T * F);
  const intercepts = new Float32Array(T);
  for (let t = 0; t < T; t++) {
    let b = yMean[t]!;
    for (let f = 0; f < F; f++) {
      const w = Math.fround(coef[f * T + t]! / scale[f]!);
      weights[t * F + f] = w;
      b -= mean[f]! * w;
    }
    intercepts[t] = b;
  }
  return { weights, intercepts, targets: T, alpha };
}
