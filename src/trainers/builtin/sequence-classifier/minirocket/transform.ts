/**
 * The MiniRocket convolution, bias fitting and PPV features, following the reference
 * minirocket_multivariate (and its variable-length variant): for each dilation the series is
 * turned once into C_alpha (−x summed over the nine dilated taps) and the nine C_gamma
 * (3x shifted to each tap), so every one of the 84 kernels is C_alpha plus three C_gamma
 * arrays, summed over the channels of that (dilation, kernel) combination.
 */
import type { Rng } from '../../runtime.js';
import { featureCount, KERNEL_INDICES, KERNEL_LENGTH, NUM_KERNELS, quantiles, type KernelParameters } from './kernels.js';

export interface Series {
  /** length × channels, row-major (time-major). */
  values: Float32Array;
  length: number;
}

/** A series laid out channel-major, zero-padded at the end to at least the kernel length (9). */
interface Prepared {
  x: Float32Array;
  length: number;
}

/**
 * Series shorter than 9 steps are zero-padded to 9 (aeon asks users to do the same); every
 * other series is used over its own length, as in the reference's variable-length version.
 */
export function prepare(s: Series, channels: number): Prepared {
  const length = Math.max(s.length, KERNEL_LENGTH);
  const x = new Float32Array(channels * length);
  for (let t = 0; t < s.length; t++) for (let c = 0; c < channels; c++) x[c * length + t] = s.values[t * channels + c]!;
  return { x, length };
}

/** Reusable buffers for one series at one dilation. */
class Scratch {
  alpha = new Float32Array(0);
  gamma = new Float32Array(0);
  conv = new Float32Array(0);
  ensure(channels: number, length: number): void {
    if (this.alpha.length < channels * length) {
      this.alpha = new Float32Array(channels * length);
      this.gamma = new Float32Array(9 * channels * length);
    }
    if (this.conv.length < length) this.conv = new Float32Array(length);
  }
}

/** Fill C_alpha and C_gamma for every channel of `p` at `dilation` (zero padding outside the series). */
function shiftArrays(p: Prepared, channels: number, dilation: number, s: Scratch): void {
  const L = p.length;
  s.ensure(channels, L);
  const { alpha, gamma } = s;
  alpha.fill(0, 0, channels * L);
  gamma.fill(0, 0, 9 * channels * L);
  for (let c = 0; c < channels; c++) {
    const base = c * L;
    for (let k = 0; k < 9; k++) {
      const shift = (k - 4) * dilation;
      const g = (k * channels + c) * L;
      const t0 = Math.max(0, -shift);
      const t1 = Math.min(L, L - shift);
      for (let t = t0; t < t1; t++) {
        const v = p.x[base + t + shift]!;
        alpha[base + t]! -= v;
        gamma[g + t] = 3 * v;
      }
    }
  }
}

/** The convolution output of kernel `kernel` summed over `chans` (indices into channelIndices [from, to)). */
function convolve(s: Scratch, channels: number, L: number, kernel: number, idx: Int32Array, from: number, to: number): Float32Array {
  const [a, b, c] = KERNEL_INDICES[kernel]!;
  const out = s.conv;
  out.fill(0, 0, L);
  const { alpha, gamma } = s;
  for (let i = from; i < to; i++) {
    const ch = idx[i]!;
    const o = ch * L;
    const ga = (a * channels + ch) * L;
    const gb = (b * channels + ch) * L;
    const gc = (c * channels + ch) * L;
    for (let t = 0; t < L; t++) out[t]! += alpha[o + t]! + gamma[ga + t]! + gamma[gb + t]! + gamma[gc + t]!;
  }
  return out;
}

/** numpy's default (linear) quantile of the first `n` values of `v`, which it sorts in place. */
function quantileInPlace(v: Float32Array, n: number, q: number): number {
  const view = v.subarray(0, n).sort();
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return view[lo]! + (view[hi]! - view[lo]!) * (pos - lo);
}

/**
 * Biases: for every (dilation, kernel) combination, the convolution output of one randomly
 * chosen training series (over its own length, padded convolution) at that combination's
 * low-discrepancy quantiles (reference `_fit_biases`).
 */
export function fitBiases(train: Series[], params: KernelParameters, rng: Rng): Float32Array {
  const { dilations, featuresPerDilation, channelsPerCombination, channelIndices, channels } = params;
  const total = featureCount(featuresPerDilation);
  const q = quantiles(total);
  const biases = new Float32Array(total);
  const s = new Scratch();
  let f = 0;
  let comb = 0;
  let chanStart = 0;
  for (let d = 0; d < dilations.length; d++) {
    const nf = featuresPerDilation[d]!;
    for (let k = 0; k < NUM_KERNELS; k++) {
      const p = prepare(train[rng.int(train.length)]!, channels);
      shiftArrays(p, channels, dilations[d]!, s);
      const chanEnd = chanStart + channelsPerCombination[comb]!;
      const conv = convolve(s, channels, p.length, k, channelIndices, chanStart, chanEnd);
      for (let j = 0; j < nf; j++) biases[f + j] = quantileInPlace(conv, p.length, q[f + j]!);
      f += nf;
      comb++;
      chanStart = chanEnd;
    }
  }
  return biases;
}

/**
 * PPV features of series [from, to) into `out` (n × numFeatures, row-major). Padding
 * alternates per (dilation, kernel): even combinations read the whole padded output, odd ones
 * only the part where the kernel lies inside the series; a series too short for any such part
 * at a dilation falls back to the padded output there (the reference assumes it never happens).
 */
export function transformRange(series: Series[], params: KernelParameters, biases: Float32Array, out: Float32Array, from: number, to: number): void {
  const { dilations, featuresPerDilation, channelsPerCombination, channelIndices, channels } = params;
  const total = biases.length;
  const s = new Scratch();
  for (let i = from; i < to; i++) {
    const p = prepare(series[i]!, channels);
    const L = p.length;
    const row = i * total;
    let f = 0;
    let comb = 0;
    let chanStart = 0;
    for (let d = 0; d < dilations.length; d++) {
      const dilation = dilations[d]!;
      const padding = ((KERNEL_LENGTH - 1) * dilation) >> 1;
      const nf = featuresPerDilation[d]!;
      shiftArrays(p, channels, dilation, s);
      for (let k = 0; k < NUM_KERNELS; k++) {
        const chanEnd = chanStart + channelsPerCombination[comb]!;
        const conv = convolve(s, channels, L, k, channelIndices, chanStart, chanEnd);
        const unpadded = (d + k) % 2 === 1 && L - 2 * padding > 0;
        const t0 = unpadded ? padding : 0;
        const t1 = unpadded ? L - padding : L;
        const inv = 1 / (t1 - t0);
        for (let j = 0; j < nf; j++) {
          const b = biases[f + j]!;
          let count = 0;
          for (let t = t0; t < t1; t++) if (conv[t]! > b) count++;
          out[row + f + j] = count * inv;
        }
        f += nf;
        comb++;
        chanStart = chanEnd;
      }
    }
  }
}
