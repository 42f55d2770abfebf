/**
 * The ridge on all instances when there are too many for the n × n eigendecomposition:
 * conjugate gradients on (ZᵀZ + αI) w = ZᵀYc, one independent CG per target run in lock-step
 * so each pass over the features serves all targets. Z (centred, scaled features) is never
 * materialised: Z v = X (v / scale) − (mean · v / scale), Zᵀ r = (Xᵀ r − mean Σr) / scale.
 */
const MAX_ITERATIONS = 300;
const TOLERANCE = 1e-6;

/** Z v for T vectors at once: V is F × T, the result n × T. */
function applyZ(X: Float32Array, n: number, F: number, mean: Float64Array, scale: Float64Array, V: Float64Array, T: number): Float64Array {
  const U = new Float64Array(F * T);
  const shift = new Float64Array(T);
  for (let f = 0; f < F; f++) {
    for (let t = 0; t < T; t++) {
      const u = V[f * T + t]! / scale[f]!;
      U[t * F + f] = u; // target-major for the row dot products below
      shift[t]! += mean[f]! * u;
    }
  }
  const out = new Float64Array(n * T);
  for (let i = 0; i < n; i++) {
    const o = i * F;
    for (let t = 0; t < T; t++) {
      const u = t * F;
      let s = 0;
      for (let f = 0; f < F; f++) s += X[o + f]! * U[u + f]!;
      out[i * T + t] = s - shift[t]!;
    }
  }
  return out;
}

/** Zᵀ R for T vectors at once: R is n × T, the result F × T. */
function applyZt(X: Float32Array, n: number, F: number, mean: Float64Array, scale: Float64Array, R: Float64Array, T: number): Float64Array {
  const acc = new Float64Array(T * F);
  const sums = new Float64Array(T);
  for (let i = 0; i < n; i++) {
    const o = i * F;
    for (let t = 0; t < T; t++) {
      const r = R[i * T + t]!;
      sums[t]! += r;
      const a = t * F;
      for (let f = 0; f < F; f++) acc[a + f]! += X[o + f]! * r;
    }
  }
  const out = new Float64Array(F * T);
  for (let f = 0; f < F; f++) for (let t = 0; t < T; t++) out[f * T + t] = (acc[t * F + f]! - mean[f]! * sums[t]!) / scale[f]!;
  return out;
}

/** Coefficients (F × T, scaled space) or null when `tick` asked to stop. */
export async function solveRidgeCG(
  X: Float32Array,
  n: number,
  F: number,
  mean: Float64Array,
  scale: Float64Array,
  Yc: Float64Array,
  T: number,
  alpha: number,
  tick: () => Promise<boolean>,
): Promise<Float64Array | null> {
  const w = new Float64Array(F * T);
  const r = applyZt(X, n, F, mean, scale, Yc, T); // residual b − A·0
  const p = Float64Array.from(r);
  const rr = new Float64Array(T);
  const bNorm = new Float64Array(T);
  for (let k = 0; k < F * T; k++) rr[k % T]! += r[k]! * r[k]!;
  bNorm.set(rr);
  const active = Array.from({ length: T }, (_, t) => bNorm[t]! > 0);
  for (let it = 0; it < MAX_ITERATIONS && active.some(Boolean); it++) {
    if (await tick()) return null;
    const Ap = applyZt(X, n, F, mean, scale, applyZ(X, n, F, mean, scale, p, T), T);
    const pAp = new Float64Array(T);
    for (let k = 0; k < F * T; k++) pAp[k % T]! += p[k]! * (Ap[k]! + alpha * p[k]!);
    const step = Float64Array.from(rr, (v, t) => (active[t] ? v / pAp[t]! : 0));
    const rrNew = new Float64Array(T);
    for (let k = 0; k < F * T; k++) {
      const t = k % T;
      w[k]! += step[t]! * p[k]!;
      r[k]! -= step[t]! * (Ap[k]! + alpha * p[k]!);
      rrNew[t]! += r[k]! * r[k]!;
    }
    for (let t = 0; t < T; t++) {
      if (active[t] && rrNew[t]! <= TOLERANCE * TOLERANCE * bNorm[t]!) active[t] = false;
    }
    for (let k = 0; k < F * T; k++) {
      const t = k % T;
      if (active[t]) p[k] = r[k]! + (rrNew[t]! / rr[t]!) * p[k]!;
    }
    rr.set(rrNew);
  }
  return w;
}
