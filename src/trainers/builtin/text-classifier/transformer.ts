/**
 * A tiny transformer encoder: token embedding × √d + sinusoidal positions → pre-LN blocks of
 * multi-head self-attention and a ReLU feed-forward → final layer norm → mean over the real
 * (non-padding) tokens → dropout → linear → softmax.
 *
 * tfjs does the differentiable middle; the parameters and Adam live in Float32Arrays here, as
 * in the fasttext model. Three reasons, all measured on the pure-JS CPU backend: its embedding
 * gradient (a scatter into the whole table) takes seconds per batch, while gathering the few
 * rows a batch uses is trivial in a loop; checkpoints and weights.bin then share one code path
 * with fasttext; and no tfjs variable or optimizer state outlives a step, so nothing leaks.
 * The graph avoids what that backend is slow at: split (three projections instead of one
 * fused QKV), broadcasting reductions (layer-norm means are matmuls with a 1/d column), and
 * broadcast masks (the attention bias is built at full shape).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../runtime.js';
import { AdamParam, glorot, loadStateInto, setWeightsInto, stateOf, uniform } from './model.js';
import type { TextModel, TrainingState, Weights } from './model.js';
import type { Tokenizer } from './tokenizer.js';

export interface TransformerConfig {
  vocab: number;
  classes: number;
  dim: number;
  heads: number;
  layers: number;
  ff: number;
  dropout: number;
}

const PREDICT_BATCH = 64;

let backendReady = false;
/** The CPU backend synchronously, and quiet: its "install tfjs-node" banner would land in every job's log. */
function ensureBackend(): void {
  if (backendReady) return;
  tf.enableProdMode();
  // setBackend is async for backends that initialise asynchronously; the CPU one is in place when it returns.
  void tf.setBackend('cpu');
  if (tf.getBackend() !== 'cpu') throw new Error('the tfjs cpu backend is not available');
  backendReady = true;
}

export class Transformer implements TextModel {
  readonly architecture = 'transformer' as const;
  private readonly emb: AdamParam;
  private readonly params: Record<string, AdamParam> = {};
  private step = 0;
  private readonly positions: Float32Array;

  constructor(
    readonly config: TransformerConfig & Record<string, number>,
    private readonly learningRate: number,
    rng: Rng,
  ) {
    ensureBackend();
    const { vocab, classes, dim: d, ff, layers, heads } = config;
    if (d % heads !== 0) throw new Error(`dim ${d} is not divisible by heads ${heads}`);
    // Variance 1/d, so that after the √d scale a token vector is about as large as its position code.
    this.emb = new AdamParam([vocab, d], uniform(rng, vocab * d, Math.sqrt(3 / d)), true);
    this.params.embedding = this.emb;
    const add = (name: string, shape: number[], data: Float32Array): void => void (this.params[name] = new AdamParam(shape, data));
    const ones = (n: number): Float32Array => new Float32Array(n).fill(1);
    for (let l = 0; l < layers; l++) {
      for (const m of ['q', 'k', 'v', 'o']) add(`layer${l}.w${m}`, [d, d], glorot(rng, d, d));
      add(`layer${l}.ln1_gamma`, [d], ones(d));
      add(`layer${l}.ln1_beta`, [d], new Float32Array(d));
      add(`layer${l}.ff1_kernel`, [d, ff], glorot(rng, d, ff));
      add(`layer${l}.ff1_bias`, [ff], new Float32Array(ff));
      add(`layer${l}.ff2_kernel`, [ff, d], glorot(rng, ff, d));
      add(`layer${l}.ff2_bias`, [d], new Float32Array(d));
      add(`layer${l}.ln2_gamma`, [d], ones(d));
      add(`layer${l}.ln2_beta`, [d], new Float32Array(d));
    }
    add('final_ln_gamma', [d], ones(d));
    add('final_ln_beta', [d], new Float32Array(d));
    add('output_kernel', [d, classes], glorot(rng, d, classes));
    add('output_bias', [classes], new Float32Array(classes));
    this.positions = sinusoids(4096, d);
  }

  encode(tokenizer: Tokenizer, text: string): Int32Array {
    return tokenizer.sequence(text);
  }

  /**
   * The batch as plain arrays: scaled embeddings plus positions, padded to the longest text;
   * an additive attention bias that hides padding keys; and mean-pooling weights over real tokens.
   */
  private batchInputs(inputs: readonly Int32Array[]): { L: number; x: Float32Array; bias: Float32Array; pool: Float32Array } {
    const { dim: d, heads } = this.config;
    const B = inputs.length;
    const L = Math.max(...inputs.map((ids) => ids.length));
    if (L > this.positions.length / d) throw new Error(`sequence of ${L} tokens exceeds the ${this.positions.length / d} positions`);
    const scale = Math.sqrt(d);
    const x = new Float32Array(B * L * d);
    const bias = new Float32Array(B * heads * L * L);
    const pool = new Float32Array(B * L);
    const emb = this.emb.data;
    inputs.forEach((ids, b) => {
      for (let t = 0; t < ids.length; t++) {
        const row = ids[t]! * d;
        const at = (b * L + t) * d;
        for (let j = 0; j < d; j++) x[at + j] = emb[row + j]! * scale + this.positions[t * d + j]!;
        pool[b * L + t] = 1 / ids.length;
      }
      if (ids.length < L) {
        for (let h = 0; h < heads; h++)
          for (let q = 0; q < L; q++) bias.fill(-1e9, ((b * heads + h) * L + q) * L + ids.length, ((b * heads + h) * L + q + 1) * L);
      }
    });
    return { L, x, bias, pool };
  }

  /** Logits [B, classes] from tensors; `p` maps parameter names to tensors of their current values. */
  private logits(p: Record<string, tf.Tensor>, x0: tf.Tensor, bias: tf.Tensor, pool: tf.Tensor, B: number, L: number, keep: tf.Tensor | null): tf.Tensor2D {
    const { dim: d, heads, layers } = this.config;
    const dh = d / heads;
    const mean = tf.fill([d, 1], 1 / d);
    const norm = (x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor): tf.Tensor2D => {
      const c = tf.sub(x, tf.matMul(x, mean));
      return tf.add(tf.mul(tf.mul(c, tf.rsqrt(tf.add(tf.matMul(tf.square(c), mean), 1e-5))), g), b);
    };
    const split = (t: tf.Tensor): tf.Tensor3D => tf.reshape(tf.transpose(tf.reshape(t, [B, L, heads, dh]), [0, 2, 1, 3]), [B * heads, L, dh]);
    let x = tf.reshape(x0, [B * L, d]) as tf.Tensor2D;
    for (let l = 0; l < layers; l++) {
      const w = (name: string): tf.Tensor2D => p[`layer${l}.${name}`] as tf.Tensor2D;
      const h = norm(x, w('ln1_gamma'), w('ln1_beta'));
      const q = split(tf.matMul(h, tf.mul(w('wq'), 1 / Math.sqrt(dh))));
      const att = tf.softmax(tf.add(tf.matMul(q, split(tf.matMul(h, w('wk'))), false, true), bias));
      const o = tf.reshape(tf.transpose(tf.reshape(tf.matMul(att, split(tf.matMul(h, w('wv')))), [B, heads, L, dh]), [0, 2, 1, 3]), [B * L, d]);
      x = tf.add(x, tf.matMul(o as tf.Tensor2D, w('wo')));
      const h2 = norm(x, w('ln2_gamma'), w('ln2_beta'));
      x = tf.add(x, tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(h2, w('ff1_kernel')), w('ff1_bias'))), w('ff2_kernel')), w('ff2_bias')));
    }
    x = norm(x, p.final_ln_gamma!, p.final_ln_beta!);
    let pooled = tf.reshape(tf.matMul(pool as tf.Tensor3D, tf.reshape(x, [B, L, d]) as tf.Tensor3D), [B, d]) as tf.Tensor2D;
    if (keep) pooled = tf.mul(pooled, keep);
    return tf.add(tf.matMul(pooled, p.output_kernel as tf.Tensor2D), p.output_bias!);
  }

  trainBatch(inputs: readonly Int32Array[], labels: ArrayLike<number>, rng: Rng): { loss: number; correct: number } {
    const { dim: d, heads, classes, dropout } = this.config;
    const B = inputs.length;
    const { L, x, bias, pool } = this.batchInputs(inputs);
    const keep = new Float32Array(B * d);
    for (let i = 0; i < keep.length; i++) keep[i] = rng.next() < dropout ? 0 : 1 / (1 - dropout);
    const onehot = new Float32Array(B * classes);
    for (let b = 0; b < B; b++) onehot[b * classes + labels[b]!] = 1;
    const names = Object.keys(this.params).filter((n) => n !== 'embedding');
    let loss = 0;
    let correct = 0;
    tf.tidy(() => {
      const biasT = tf.tensor3d(bias, [B * heads, L, L]);
      const poolT = tf.tensor3d(pool, [B, 1, L]);
      const keepT = tf.tensor2d(keep, [B, d]);
      const yT = tf.tensor2d(onehot, [B, classes]);
      let z: ArrayLike<number> = [];
      const f = (...args: tf.Tensor[]): tf.Scalar => {
        const p = Object.fromEntries(names.map((n, i) => [n, args[i + 1]!]));
        const logits = this.logits(p, args[0]!, biasT, poolT, B, L, keepT);
        // Read now: valueAndGrads disposes every intermediate but the loss.
        z = logits.dataSync();
        return tf.losses.softmaxCrossEntropy(yT, logits, undefined, undefined, tf.Reduction.SUM) as tf.Scalar;
      };
      const tensors = [tf.tensor3d(x, [B, L, d]), ...names.map((n) => tf.tensor(this.params[n]!.data, this.params[n]!.shape))];
      const { value, grads } = tf.valueAndGrads(f)(tensors);
      loss = value.dataSync()[0]!;
      for (let b = 0; b < B; b++) {
        let best = 0;
        for (let k = 1; k < classes; k++) if (z[b * classes + k]! > z[b * classes + best]!) best = k;
        if (best === labels[b]) correct++;
      }
      // The loss is a sum (so the reported loss is per example); Adam wants the batch mean's gradient.
      names.forEach((n, i) => {
        const g = grads[i + 1]!.dataSync();
        const target = this.params[n]!.grad;
        for (let j = 0; j < g.length; j++) target[j] = g[j]! / B;
      });
      const gx = grads[0]!.dataSync();
      const scale = Math.sqrt(d) / B;
      const eg = this.emb.grad;
      inputs.forEach((ids, b) => {
        for (let t = 0; t < ids.length; t++) {
          const id = ids[t]!;
          this.emb.touch(id);
          const at = (b * L + t) * d;
          for (let j = 0; j < d; j++) eg[id * d + j]! += gx[at + j]! * scale;
        }
      });
    });
    this.step++;
    for (const p of Object.values(this.params)) p.update(this.learningRate, this.step);
    return { loss, correct };
  }

  predict(inputs: readonly Int32Array[]): Float32Array {
    const { classes, heads, dim: d } = this.config;
    const out = new Float32Array(inputs.length * classes);
    // Similar lengths together: a batch is padded to its longest text.
    const order = inputs.map((_, i) => i).sort((a, b) => inputs[a]!.length - inputs[b]!.length || a - b);
    for (let s = 0; s < order.length; s += PREDICT_BATCH) {
      const idx = order.slice(s, s + PREDICT_BATCH);
      const batch = idx.map((i) => inputs[i]!);
      const B = batch.length;
      const { L, x, bias, pool } = this.batchInputs(batch);
      const probs = tf.tidy(() => {
        const p = Object.fromEntries(Object.entries(this.params).map(([n, a]) => [n, tf.tensor(a.data, a.shape)]));
        return tf.softmax(this.logits(p, tf.tensor3d(x, [B, L, d]), tf.tensor3d(bias, [B * heads, L, L]), tf.tensor3d(pool, [B, 1, L]), B, L, null)).dataSync();
      });
      idx.forEach((i, r) => out.set(probs.subarray(r * classes, (r + 1) * classes), i * classes));
    }
    return out;
  }

  weights(): Weights {
    return Object.fromEntries(Object.entries(this.params).map(([name, p]) => [name, { shape: p.shape, data: p.data }]));
  }

  setWeights(weights: Weights): void {
    setWeightsInto(this.params, weights);
  }

  trainingState(): TrainingState {
    return stateOf(this.params, this.step);
  }

  loadTrainingState(state: TrainingState): void {
    loadStateInto(this.params, state);
    this.step = state.step;
  }

  /** Every tensor lives inside one tf.tidy; there is nothing to release. */
  dispose(): void {}
}

/** Vaswani et al.'s fixed position codes: no parameters, and any length up to `maxLen` works. */
function sinusoids(maxLen: number, d: number): Float32Array {
  const out = new Float32Array(maxLen * d);
  for (let t = 0; t < maxLen; t++) {
    for (let i = 0; i < d; i += 2) {
      const angle = t / 10000 ** (i / d);
      out[t * d + i] = Math.sin(angle);
      if (i + 1 < d) out[t * d + i + 1] = Math.cos(angle);
    }
  }
  return out;
}
