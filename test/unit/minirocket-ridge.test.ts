import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/trainers/builtin/runtime.js';
import { symmetricEigen } from '../../src/trainers/builtin/sequence-classifier/minirocket/eigen.js';
import { featureStats, fitRidgeCV, ridgeTargets } from '../../src/trainers/builtin/sequence-classifier/minirocket/ridge.js';
import { solveRidgeCG } from '../../src/trainers/builtin/sequence-classifier/minirocket/ridge-cg.js';

const never = async (): Promise<boolean> => false;

describe('MiniRocket ridge', () => {
  it('decomposes a symmetric matrix: A v = λ v with orthonormal v', () => {
    const n = 60;
    const rng = new Rng(3);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = rng.next() - 0.5;
    const { values, vectors } = symmetricEigen(a, n);
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let j = 0; j < n; j++) av += a[i * n + j]! * vectors[k * n + j]!;
        expect(Math.abs(av - values[k]! * vectors[k * n + i]!)).toBeLessThan(1e-10);
      }
      let dot = 0;
      for (let i = 0; i < n; i++) dot += vectors[k * n + i]! * vectors[((k + 1) % n) * n + i]!;
      expect(Math.abs(dot)).toBeLessThan(1e-10);
    }
  });

  it('solves the same ridge by conjugate gradients (the large-n path) as by the eigendecomposition', async () => {
    // Features that carry the class weakly plus noise, so the chosen alpha is moderate.
    const n = 150;
    const F = 300;
    const rng = new Rng(9);
    const y = Int32Array.from({ length: n }, (_, i) => i % 3);
    const X = Float32Array.from(
      { length: n * F },
      (_, k) => (rng.next() < 0.5 ? 0 : 1) * rng.next() + (k % F < 10 && y[Math.floor(k / F)] === k % 3 ? 0.5 : 0),
    );
    const exact = (await fitRidgeCV(X, n, F, y, 3, 1, never))!;
    const { mean, scale } = featureStats(
      X,
      Int32Array.from({ length: n }, (_, i) => i),
      F,
    );
    const { Y, targets } = ridgeTargets(y, 3);
    const yMean = [0, 1, 2].map((t) => y.reduce((s, _, i) => s + Y[i * targets + t]!, 0) / n);
    const Yc = Y.map((v, k) => v - yMean[k % targets]!);
    const coef = (await solveRidgeCG(X, n, F, mean, scale, Yc, targets, exact.alpha, never))!;
    let err = 0;
    let norm = 0;
    for (let t = 0; t < targets; t++) {
      for (let f = 0; f < F; f++) {
        err = Math.max(err, Math.abs(coef[f * targets + t]! / scale[f]! - exact.weights[t * F + f]!));
        norm = Math.max(norm, Math.abs(exact.weights[t * F + f]!));
      }
    }
    expect(err / norm).toBeLessThan(1e-3);
    // And the subsampled-alpha path runs end to end and predicts like the exact one.
    const sub = (await fitRidgeCV(X, n, F, y, 3, 1, never, 60))!;
    expect(sub.weights.length).toBe(exact.weights.length);
    expect(sub.weights.every(Number.isFinite)).toBe(true);
  });
});
