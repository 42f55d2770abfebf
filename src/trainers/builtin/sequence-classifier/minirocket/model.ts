/**
 * A fitted MiniRocket: the kernel parameters and biases, and the ridge weights (float32, the
 * same in memory as on disk, so a loaded model decides exactly as the one that was saved).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TrainerError } from '../../runtime.js';
import { featureCount, type KernelParameters } from './kernels.js';
import type { RidgeModel } from './ridge.js';
import { transformRange, type Series } from './transform.js';

export const MODEL_FILE = 'minirocket.json';
export const WEIGHTS_FILE = 'minirocket.bin';
const FORMAT = 'trainyard-minirocket';
const VERSION = 1;
const BLOCK = 256;

export interface MiniRocketModel {
  readonly channels: number;
  readonly classes: number;
  readonly numFeatures: number;
  readonly alpha: number;
  /** n × classes ridge scores (two classes: the single ridge column s as [−s, s]). */
  decision(series: Series[]): Float32Array;
  /** n × classes, softmax of the scores: a monotone map for the predict API, not calibrated probabilities. */
  probabilities(series: Series[]): Float32Array;
  save(dir: string): Promise<{ files: { name: string; format: string }[]; bytes: number }>;
}

/** Reject series whose values do not match the channel count (a caller bug or a bad request). */
export function checkSeries(series: Series[], channels: number): void {
  series.forEach((s, i) => {
    if (!Number.isInteger(s.length) || s.length < 1 || s.values.length !== s.length * channels) {
      throw new TrainerError(
        `series ${i}: expected ${channels} channel(s) × length ${s.length} values, got ${s.values.length}; every series needs at least one step and the model's channel count`,
      );
    }
  });
}

export class FittedMiniRocket implements MiniRocketModel {
  readonly numFeatures: number;
  constructor(
    readonly params: KernelParameters,
    readonly biases: Float32Array,
    readonly ridge: RidgeModel,
    readonly classes: number,
  ) {
    this.numFeatures = featureCount(params.featuresPerDilation);
  }
  get channels(): number {
    return this.params.channels;
  }
  get alpha(): number {
    return this.ridge.alpha;
  }

  /** PPV features of every series, n × numFeatures. */
  features(series: Series[]): Float32Array {
    checkSeries(series, this.channels);
    const out = new Float32Array(series.length * this.numFeatures);
    transformRange(series, this.params, this.biases, out, 0, series.length);
    return out;
  }

  /** Scored in blocks, so a large batch never holds more than BLOCK rows of features. */
  decision(series: Series[]): Float32Array {
    const K = this.classes;
    const out = new Float32Array(series.length * K);
    for (let from = 0; from < series.length; from += BLOCK) {
      const block = series.slice(from, from + BLOCK);
      out.set(this.scores(this.features(block), block.length), from * K);
    }
    return out;
  }

  /** Ridge scores of precomputed features. */
  scores(X: Float32Array, n: number): Float32Array {
    const F = this.numFeatures;
    const { weights, intercepts, targets: T } = this.ridge;
    const K = this.classes;
    const out = new Float32Array(n * K);
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < T; t++) {
        let s = intercepts[t]!;
        const w = t * F;
        const x = i * F;
        for (let f = 0; f < F; f++) s += X[x + f]! * weights[w + f]!;
        if (T === 1) {
          out[i * K] = -s;
          out[i * K + 1] = s;
        } else out[i * K + t] = s;
      }
    }
    return out;
  }

  probabilities(series: Series[]): Float32Array {
    const scores = this.decision(series);
    const K = this.classes;
    for (let i = 0; i < series.length; i++) {
      let max = -Infinity;
      for (let k = 0; k < K; k++) max = Math.max(max, scores[i * K + k]!);
      let sum = 0;
      for (let k = 0; k < K; k++) sum += Math.exp(scores[i * K + k]! - max);
      for (let k = 0; k < K; k++) scores[i * K + k] = Math.exp(scores[i * K + k]! - max) / sum;
    }
    return scores;
  }

  async save(dir: string): Promise<{ files: { name: string; format: string }[]; bytes: number }> {
    const { biases, ridge, params } = this;
    const bin = new Float32Array(biases.length + ridge.weights.length + ridge.intercepts.length);
    bin.set(biases, 0);
    bin.set(ridge.weights, biases.length);
    bin.set(ridge.intercepts, biases.length + ridge.weights.length);
    const meta = {
      format: FORMAT,
      version: VERSION,
      channels: params.channels,
      classes: this.classes,
      num_features: this.numFeatures,
      alpha: ridge.alpha,
      targets: ridge.targets,
      reference_length: params.referenceLength,
      dilations: [...params.dilations],
      features_per_dilation: [...params.featuresPerDilation],
      channels_per_combination: [...params.channelsPerCombination],
      channel_indices: [...params.channelIndices],
      weights_file: WEIGHTS_FILE,
      weights_layout: 'float32 little-endian: biases[num_features], weights[targets][num_features], intercepts[targets]',
    };
    const json = JSON.stringify(meta);
    const bytes = Buffer.from(bin.buffer, bin.byteOffset, bin.byteLength);
    await writeFile(path.join(dir, MODEL_FILE), json);
    await writeFile(path.join(dir, WEIGHTS_FILE), bytes);
    return {
      files: [
        { name: MODEL_FILE, format: 'json' },
        { name: WEIGHTS_FILE, format: 'float32' },
      ],
      bytes: Buffer.byteLength(json) + bytes.byteLength,
    };
  }
}

export async function loadMiniRocket(dir: string): Promise<MiniRocketModel> {
  const meta = JSON.parse(await readFile(path.join(dir, MODEL_FILE), 'utf8')) as Record<string, unknown>;
  if (meta.format !== FORMAT || meta.version !== VERSION) {
    throw new TrainerError(`${MODEL_FILE} is not a version ${VERSION} MiniRocket model; retrain the model with this Trainyard version`);
  }
  const ints = (k: string): Int32Array => Int32Array.from(meta[k] as number[]);
  const num = (k: string): number => meta[k] as number;
  const params: KernelParameters = {
    referenceLength: num('reference_length'),
    channels: num('channels'),
    dilations: ints('dilations'),
    featuresPerDilation: ints('features_per_dilation'),
    channelsPerCombination: ints('channels_per_combination'),
    channelIndices: ints('channel_indices'),
  };
  const F = num('num_features');
  const T = num('targets');
  const buf = await readFile(path.join(dir, WEIGHTS_FILE));
  if (buf.byteLength !== 4 * (F + T * F + T) || featureCount(params.featuresPerDilation) !== F) {
    throw new TrainerError(`${WEIGHTS_FILE} does not match ${MODEL_FILE} (corrupt or mixed files); retrain or restore the model`);
  }
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const ridge: RidgeModel = { weights: all.slice(F, F + T * F), intercepts: all.slice(F + T * F), targets: T, alpha: num('alpha') };
  return new FittedMiniRocket(params, all.slice(0, F), ridge, num('classes'));
}
