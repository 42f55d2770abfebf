/**
 * What the two architectures share: the interface the training loop drives, Adam over plain
 * Float32Arrays (row-sparse for embedding tables), and the model file format — model.json
 * (architecture, sizes, labels, a manifest of the weights) plus weights.bin (raw little-endian
 * float32, the layout tfjs uses too), so a version is a handful of plain files.
 */
import type { LabelType } from '../labels.js';
import type { Rng } from '../runtime.js';
import type { Tokenizer } from './tokenizer.js';

export type Architecture = 'fasttext' | 'transformer';
export const ARCHITECTURES: readonly Architecture[] = ['fasttext', 'transformer'];

/**
 * Network sizes are not hyperparameters (the catalog schema does not offer them); they are
 * saved in model.json, so changing a default here never breaks loading an older version.
 */
export const DEFAULT_SIZES: Record<Architecture, Record<string, number>> = {
  fasttext: { dim: 64, dropout: 0.2 },
  transformer: { dim: 32, heads: 2, layers: 1, ff: 64, dropout: 0.1 },
};

export interface Tensor32 {
  shape: number[];
  data: Float32Array;
}
/** Named tensors in a fixed order: the order is the layout of weights.bin. */
export type Weights = Record<string, Tensor32>;

/** Parameters plus optimizer state: a checkpoint resumes the exact same trajectory. */
export interface TrainingState {
  step: number;
  arrays: Record<string, Float32Array>;
}

export interface TextModel {
  readonly architecture: Architecture;
  /** Sizes that rebuild the same network; saved in model.json. */
  readonly config: Record<string, number>;
  /** Token ids of one text, the way this architecture reads it. */
  encode(tokenizer: Tokenizer, text: string): Int32Array;
  /** One optimizer step; returns the summed loss and the number of correct predictions. */
  trainBatch(inputs: readonly Int32Array[], labels: ArrayLike<number>, rng: Rng): { loss: number; correct: number };
  /** Class probabilities without dropout, row-major [input][class]. */
  predict(inputs: readonly Int32Array[]): Float32Array;
  weights(): Weights;
  setWeights(weights: Weights): void;
  trainingState(): TrainingState;
  loadTrainingState(state: TrainingState): void;
  dispose(): void;
}

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;

/**
 * A parameter with its gradient and Adam moments. Sparse tables update only the rows a batch
 * touched (TensorFlow's LazyAdam): a 20,000-word embedding would otherwise cost a full pass
 * per batch for the few hundred words the batch contains.
 */
export class AdamParam {
  readonly grad: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
  private readonly touched: Uint8Array;
  private readonly rows: number[] = [];

  constructor(
    readonly shape: number[],
    readonly data: Float32Array,
    readonly sparse = false,
  ) {
    this.grad = new Float32Array(data.length);
    this.m = new Float32Array(data.length);
    this.v = new Float32Array(data.length);
    this.touched = new Uint8Array(sparse ? shape[0]! : 0);
  }

  get rowSize(): number {
    return this.data.length / this.shape[0]!;
  }

  /** Sparse tables: call before adding to a row's gradient. */
  touch(row: number): void {
    if (!this.touched[row]) {
      this.touched[row] = 1;
      this.rows.push(row);
    }
  }

  /** Applies the gradient (already averaged over the batch) and clears it. `t` counts steps from 1. */
  update(lr: number, t: number): void {
    const c1 = 1 - BETA1 ** t;
    const c2 = 1 - BETA2 ** t;
    const apply = (from: number, to: number): void => {
      const { grad, m, v, data } = this;
      for (let i = from; i < to; i++) {
        const g = grad[i]!;
        const mi = (m[i] = BETA1 * m[i]! + (1 - BETA1) * g);
        const vi = (v[i] = BETA2 * v[i]! + (1 - BETA2) * g * g);
        data[i]! -= (lr * (mi / c1)) / (Math.sqrt(vi / c2) + EPSILON);
        grad[i] = 0;
      }
    };
    if (!this.sparse) return apply(0, this.data.length);
    const size = this.rowSize;
    // Ascending rows: the float operations are the same whatever order the batch touched them in.
    this.rows.sort((a, b) => a - b);
    for (const r of this.rows) {
      apply(r * size, (r + 1) * size);
      this.touched[r] = 0;
    }
    this.rows.length = 0;
  }
}

export function stateOf(params: Record<string, AdamParam>, step: number): TrainingState {
  const arrays: Record<string, Float32Array> = {};
  for (const [name, p] of Object.entries(params)) {
    arrays[name] = p.data.slice();
    arrays[`${name}.m`] = p.m.slice();
    arrays[`${name}.v`] = p.v.slice();
  }
  return { step, arrays };
}

export function loadStateInto(params: Record<string, AdamParam>, state: TrainingState): void {
  for (const [name, p] of Object.entries(params)) {
    for (const [suffix, target] of [
      ['', p.data],
      ['.m', p.m],
      ['.v', p.v],
    ] as const) {
      const src = state.arrays[name + suffix];
      if (!src || src.length !== target.length) throw new Error(`training state lacks ${name + suffix} or has the wrong size`);
      target.set(src);
    }
  }
}

export function setWeightsInto(params: Record<string, { shape: number[]; data: Float32Array }>, weights: Weights): void {
  for (const [name, p] of Object.entries(params)) {
    const w = weights[name];
    if (!w || w.shape.join('x') !== p.shape.join('x'))
      throw new Error(`weights lack "${name}" [${p.shape.join(', ')}] or have another shape (${w?.shape.join(', ') ?? 'absent'})`);
    p.data.set(w.data);
  }
}

/** Glorot/Xavier uniform from our own PRNG, so initial weights depend on the seed alone. */
export function glorot(rng: Rng, fanIn: number, fanOut: number, size = fanIn * fanOut): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (rng.next() * 2 - 1) * limit;
  return out;
}

export function uniform(rng: Rng, size: number, limit: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (rng.next() * 2 - 1) * limit;
  return out;
}

export const MODEL_FORMAT = 'trainyard.text-classifier';

export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
  /** Byte offset in weights.bin. */
  offset: number;
}

/** model.json */
export interface ModelJson {
  format: typeof MODEL_FORMAT;
  version: 1;
  architecture: Architecture;
  config: Record<string, number>;
  /** Class index → label. */
  labels: string[];
  /** What predict turns a label back into (../labels.ts); absent in models written before it: strings. */
  label_type?: LabelType;
  tokenizer: string;
  weights_file: string;
  weights: WeightEntry[];
  hyperparameters: Record<string, unknown>;
}

export function packWeights(weights: Weights): { manifest: WeightEntry[]; bytes: Buffer } {
  const manifest: WeightEntry[] = [];
  let offset = 0;
  for (const [name, w] of Object.entries(weights)) {
    manifest.push({ name, shape: w.shape, dtype: 'float32', offset });
    offset += w.data.byteLength;
  }
  const bytes = Buffer.alloc(offset);
  manifest.forEach((e, i) => {
    const w = Object.values(weights)[i]!;
    Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength).copy(bytes, e.offset);
  });
  return { manifest, bytes };
}

export function unpackWeights(manifest: readonly WeightEntry[], bytes: Uint8Array, where = 'weights.bin'): Weights {
  const out: Weights = {};
  for (const e of manifest) {
    const length = e.shape.reduce((a, b) => a * b, 1);
    if (e.dtype !== 'float32' || !Number.isInteger(e.offset) || e.offset < 0 || e.offset + length * 4 > bytes.byteLength) {
      throw new Error(`${where}: weight "${e.name}" does not fit the file (${bytes.byteLength} bytes)`);
    }
    // A copy, not a view: the buffer may be unaligned for Float32Array, and callers keep the arrays.
    const data = new Float32Array(length);
    Buffer.from(data.buffer).set(bytes.subarray(e.offset, e.offset + length * 4));
    out[e.name] = { shape: e.shape, data };
  }
  return out;
}

export const toBase64 = (a: Float32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
export function fromBase64(s: string): Float32Array {
  const buf = Buffer.from(s, 'base64');
  const out = new Float32Array(buf.byteLength / 4);
  Buffer.from(out.buffer).set(buf);
  return out;
}
