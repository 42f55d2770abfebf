/**
 * Eigendecomposition of a real symmetric matrix: Householder tridiagonalisation (tred2) then
 * the implicit QL algorithm (tql2), after JAMA / EISPACK. The ridge's leave-one-out needs the
 * eigenvectors of an n × n Gram matrix; n is at most a few thousand, so this O(n³) routine on
 * flat Float64Arrays is fast enough, and it keeps the trainer free of native dependencies.
 *
 * Storage: V is kept transposed (row j of `vectors` is eigenvector j), so the innermost loops
 * of both phases, which walk down columns of V in JAMA, run over contiguous memory here.
 */
export interface SymmetricEigen {
  /** Eigenvalues, in no particular order. */
  values: Float64Array;
  /** n × n, row-major; row j is the unit eigenvector of values[j]. */
  vectors: Float64Array;
}

/** `a` is n × n row-major and symmetric; it is not modified. */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  const W = Float64Array.from(a); // W[b*n + a] = V[a][b]; V starts as A (symmetric, so W = A).
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { values: d, vectors: W };
  tred2(W, d, e, n);
  tql2(W, d, e, n);
  return { values: d, vectors: W };
}

function tred2(W: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  // V[r][c] ≡ W[c*n + r]
  for (let j = 0; j < n; j++) d[j] = W[j * n + n - 1]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = W[j * n + i - 1]!;
        W[j * n + i] = 0;
        W[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] = d[k]! / scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        W[i * n + j] = f; // V[j][i] = f
        const col = j * n; // V[k][j] = W[col + k]
        g = e[j]! + W[col + j]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += W[col + k]! * d[k]!;
          e[k] = e[k]! + W[col + k]! * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] = e[j]! / h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] = e[j]! - hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        const col = j * n;
        for (let k = j; k <= i - 1; k++) W[col + k] = W[col + k]! - (f * e[k]! + g * d[k]!);
        d[j] = W[col + i - 1]!;
        W[col + i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    W[i * n + n - 1] = W[i * n + i]!; // V[n-1][i] = V[i][i]
    W[i * n + i] = 1;
    const h = d[i + 1]!;
    const next = (i + 1) * n; // V[k][i+1] = W[next + k]
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = W[next + k]! / h;
      for (let j = 0; j <= i; j++) {
        const col = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += W[next + k]! * W[col + k]!;
        for (let k = 0; k <= i; k++) W[col + k] = W[col + k]! - g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) W[next + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = W[j * n + n - 1]!;
    W[j * n + n - 1] = 0;
  }
  W[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

function tql2(W: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]!) > eps * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error('symmetricEigen: QL iteration did not converge');
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i] = d[i]! - h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          // Rotate eigenvectors i and i+1 (rows of W: contiguous).
          const ri = i * n;
          const rj = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const hk = W[rj + k]!;
            const vk = W[ri + k]!;
            W[rj + k] = s * vk + c * hk;
            W[ri + k] = c * vk - s * hk;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
}
