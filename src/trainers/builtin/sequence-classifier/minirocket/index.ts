/**
 * MiniRocket (Dempster, Schmidt & Webb, KDD 2021) for sequence-classifier: the transform of
 * the reference minirocket_multivariate (variable lengths as in its variable-length variant)
 * followed by aeon's classifier head (StandardScaler without centring, RidgeClassifierCV).
 * Deterministic for a seed: same seed and data give the same model, bit for bit.
 */
import { Rng, TrainerError } from '../../runtime.js';
import { fitChannelCombinations, fitDilations, KERNEL_LENGTH, NUM_KERNELS, type KernelParameters } from './kernels.js';
import { checkSeries, FittedMiniRocket, type MiniRocketModel } from './model.js';
import { fitRidgeCV } from './ridge.js';
import { fitBiases, transformRange, type Series } from './transform.js';

export type { Series } from './transform.js';
export type { MiniRocketModel } from './model.js';
export { loadMiniRocket } from './model.js';

export interface MiniRocketOptions {
  /** Default 10000, rounded down to a multiple of 84 (at least 84). */
  numFeatures: number;
  seed: number;
}

export interface FitHooks {
  progress?(done: number, total: number): void;
  shouldStop?(): boolean | Promise<boolean>;
}

export const DEFAULT_FEATURES = 10_000;
/** Series transformed between two looks at the hooks. */
const CHUNK = 16;

export async function fitMiniRocket(
  train: Series[],
  y: Int32Array,
  classes: number,
  channels: number,
  opts: MiniRocketOptions,
  hooks: FitHooks = {},
): Promise<MiniRocketModel | null> {
  if (train.length === 0 || train.length !== y.length)
    throw new TrainerError(`MiniRocket needs one label per training series (got ${train.length} series, ${y.length} labels)`);
  if (!Number.isInteger(classes) || classes < 2) throw new TrainerError('MiniRocket needs at least two classes');
  if (y.some((c) => c < 0 || c >= classes)) throw new TrainerError(`labels must be class indices 0..${classes - 1}`);
  if (!Number.isInteger(channels) || channels < 1) throw new TrainerError('MiniRocket needs at least one channel');
  checkSeries(train, channels);
  const requested = Math.max(NUM_KERNELS, Math.floor(opts.numFeatures / NUM_KERNELS) * NUM_KERNELS);
  const stop = async (): Promise<boolean> => (hooks.shouldStop ? await hooks.shouldStop() : false);

  // Dilations fit the longest series (the variable-length reference's default reference length).
  const referenceLength = train.reduce((m, s) => Math.max(m, s.length), KERNEL_LENGTH);
  const { dilations, featuresPerDilation } = fitDilations(referenceLength, requested);
  const combos = fitChannelCombinations(channels, NUM_KERNELS * dilations.length, new Rng(opts.seed));
  const params: KernelParameters = { referenceLength, channels, dilations, featuresPerDilation, ...combos };
  const biases = fitBiases(train, params, new Rng((opts.seed ^ 0x9e3779b9) >>> 0));
  const F = biases.length;

  const n = train.length;
  const total = n + 1;
  const X = new Float32Array(n * F);
  for (let from = 0; from < n; from += CHUNK) {
    if (await stop()) return null;
    const to = Math.min(n, from + CHUNK);
    transformRange(train, params, biases, X, from, to);
    hooks.progress?.(to, total);
  }
  const ridge = await fitRidgeCV(X, n, F, y, classes, opts.seed, stop);
  if (ridge === null) return null;
  hooks.progress?.(total, total);
  return new FittedMiniRocket(params, biases, ridge, classes);
}
