/**
 * MiniRocket's fixed parameters (Dempster, Schmidt & Webb 2021; the reference
 * minirocket_multivariate and aeon's MiniRocket): the 84 kernels of length 9, the dilations
 * with their feature counts, the low-discrepancy quantiles and the random channel subsets.
 * Biases come from data (transform.ts); everything here depends only on shapes and the seed.
 */
import type { Rng } from '../../runtime.js';

/** Kernel k has weight 2 at these three of its nine taps and −1 at the other six: all C(9,3) = 84 choices. */
export const KERNEL_INDICES: readonly (readonly [number, number, number])[] = (() => {
  const out: [number, number, number][] = [];
  for (let a = 0; a < 9; a++) for (let b = a + 1; b < 9; b++) for (let c = b + 1; c < 9; c++) out.push([a, b, c]);
  return out;
})();
export const NUM_KERNELS = 84;
export const KERNEL_LENGTH = 9;
export const MAX_DILATIONS_PER_KERNEL = 32;

/** The structural parameters of a fitted transform (biases live beside them). */
export interface KernelParameters {
  /** Length the dilations were fitted to (the longest training series, as in the variable-length reference). */
  referenceLength: number;
  channels: number;
  dilations: Int32Array;
  featuresPerDilation: Int32Array;
  /** Per (dilation, kernel) combination, in that order: how many channels it sums over. */
  channelsPerCombination: Int32Array;
  /** The channel indices of every combination, concatenated. */
  channelIndices: Int32Array;
}

/**
 * Dilations spaced exponentially from 1 to (length − 1) / 8, truncated to integers and
 * deduplicated; each keeps as many features as the exponential grid put on it, scaled so
 * that all 84 kernels share `numFeatures` (the reference `_fit_dilations`).
 */
export function fitDilations(length: number, numFeatures: number): { dilations: Int32Array; featuresPerDilation: Int32Array } {
  const perKernel = Math.floor(numFeatures / NUM_KERNELS);
  const trueMax = Math.min(perKernel, MAX_DILATIONS_PER_KERNEL);
  const multiplier = perKernel / trueMax;
  const maxExponent = Math.log2((length - 1) / (KERNEL_LENGTH - 1));
  const counts = new Map<number, number>();
  for (let i = 0; i < trueMax; i++) {
    // np.logspace(0, e, n, base=2) then astype(int32): truncation toward zero.
    const exponent = trueMax === 1 ? 0 : (maxExponent * i) / (trueMax - 1);
    const d = Math.trunc(2 ** exponent);
    counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  const dilations = Int32Array.from([...counts.keys()].sort((a, b) => a - b));
  const featuresPerDilation = Int32Array.from(dilations, (d) => Math.trunc(counts.get(d)! * multiplier));
  let remainder = perKernel - featuresPerDilation.reduce((s, v) => s + v, 0);
  for (let i = 0; remainder > 0; i = (i + 1) % featuresPerDilation.length, remainder--) featuresPerDilation[i]! += 1;
  return { dilations, featuresPerDilation };
}

/** The golden-ratio (Weyl) sequence the reference uses to spread the bias quantiles: (i·φ) mod 1, i = 1..n, as float32. */
export function quantiles(n: number): Float32Array {
  const phi = (Math.sqrt(5) + 1) / 2;
  const out = new Float32Array(n);
  for (let i = 1; i <= n; i++) out[i - 1] = (i * phi) % 1;
  return out;
}

/**
 * Each (dilation, kernel) combination sums over a random subset of channels: its size is
 * ⌊2^U(0, log2(min(channels, 9) + 1))⌋, the members drawn without replacement (reference).
 */
export function fitChannelCombinations(channels: number, combinations: number, rng: Rng): { channelsPerCombination: Int32Array; channelIndices: Int32Array } {
  const maxExponent = Math.log2(Math.min(channels, 9) + 1);
  const channelsPerCombination = new Int32Array(combinations);
  for (let i = 0; i < combinations; i++) {
    channelsPerCombination[i] = Math.min(channels, Math.max(1, Math.trunc(2 ** (rng.next() * maxExponent))));
  }
  const total = channelsPerCombination.reduce((s, v) => s + v, 0);
  const channelIndices = new Int32Array(total);
  const pool = new Int32Array(channels);
  let at = 0;
  for (let i = 0; i < combinations; i++) {
    for (let c = 0; c < channels; c++) pool[c] = c;
    const k = channelsPerCombination[i]!;
    // Partial Fisher–Yates: the first k of a random permutation.
    for (let j = 0; j < k; j++) {
      const r = j + rng.int(channels - j);
      const tmp = pool[j]!;
      pool[j] = pool[r]!;
      pool[r] = tmp;
      channelIndices[at++] = pool[j]!;
    }
  }
  return { channelsPerCombination, channelIndices };
}

/** Total feature count of a parameter set: 84 × Σ features per dilation. */
export function featureCount(featuresPerDilation: Int32Array): number {
  return NUM_KERNELS * featuresPerDilation.reduce((s, v) => s + v, 0);
}
