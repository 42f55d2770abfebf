/**
 * The default architecture, fastText's supervised model: the mean of a text's feature
 * embeddings (words, bigrams, character n-grams) → dropout → linear → softmax, trained with
 * Adam on cross-entropy. Plain TypeScript over Float32Arrays: a text touches a few hundred
 * embedding rows, which a loop does directly while tfjs's CPU backend would gather and scatter
 * through whole-table tensors (its embedding gradient alone takes seconds per batch).
 */
import type { Rng } from '../runtime.js';
import { AdamParam, loadStateInto, setWeightsInto, stateOf, uniform } from './model.js';
import type { TextModel, TrainingState, Weights } from './model.js';
import type { Tokenizer } from './tokenizer.js';

export interface FastTextConfig {
  vocab: number;
  classes: number;
  dim: number;
  dropout: number;
}

export class FastText implements TextModel {
  readonly architecture = 'fasttext' as const;
  private readonly emb: AdamParam;
  private readonly w: AdamParam;
  private readonly b: AdamParam;
  private step = 0;
  private readonly h: Float64Array;
  private readonly keep: Float64Array;
  private readonly z: Float64Array;

  constructor(
    readonly config: FastTextConfig & Record<string, number>,
    private readonly learningRate: number,
    rng: Rng,
  ) {
    const { vocab, classes, dim } = config;
    // fastText's initialisation: small uniform input vectors, a zero output layer.
    this.emb = new AdamParam([vocab, dim], uniform(rng, vocab * dim, 1 / dim), true);
    this.w = new AdamParam([classes, dim], new Float32Array(classes * dim));
    this.b = new AdamParam([classes], new Float32Array(classes));
    this.h = new Float64Array(dim);
    this.keep = new Float64Array(dim);
    this.z = new Float64Array(classes);
  }

  private get params(): Record<string, AdamParam> {
    return { embedding: this.emb, output_kernel: this.w, output_bias: this.b };
  }

  encode(tokenizer: Tokenizer, text: string): Int32Array {
    return tokenizer.bag(text);
  }

  /** Softmax probabilities into `this.z`; `this.h` keeps the (dropped-out) mean for the backward pass. */
  private forward(ids: Int32Array, mask: Float64Array | null): void {
    const { dim, classes } = this.config;
    const { h, z } = this;
    const emb = this.emb.data;
    h.fill(0);
    for (let i = 0; i < ids.length; i++) {
      const row = ids[i]! * dim;
      for (let j = 0; j < dim; j++) h[j]! += emb[row + j]!;
    }
    const scale = 1 / ids.length;
    for (let j = 0; j < dim; j++) h[j] = h[j]! * scale * (mask ? mask[j]! : 1);
    let max = -Infinity;
    for (let k = 0; k < classes; k++) {
      let s = this.b.data[k]!;
      const row = k * dim;
      for (let j = 0; j < dim; j++) s += this.w.data[row + j]! * h[j]!;
      z[k] = s;
      if (s > max) max = s;
    }
    let total = 0;
    for (let k = 0; k < classes; k++) total += z[k] = Math.exp(z[k]! - max);
    for (let k = 0; k < classes; k++) z[k]! /= total;
  }

  trainBatch(inputs: readonly Int32Array[], labels: ArrayLike<number>, rng: Rng): { loss: number; correct: number } {
    const { dim, classes, dropout } = this.config;
    const { h, z, keep } = this;
    const inv = 1 / inputs.length;
    let loss = 0;
    let correct = 0;
    const gh = new Float64Array(dim);
    for (let n = 0; n < inputs.length; n++) {
      const ids = inputs[n]!;
      const y = labels[n]!;
      // Inverted dropout on the averaged vector: the mask draws from the job's PRNG, so a seed fixes it.
      for (let j = 0; j < dim; j++) keep[j] = rng.next() < dropout ? 0 : 1 / (1 - dropout);
      this.forward(ids, keep);
      let best = 0;
      for (let k = 1; k < classes; k++) if (z[k]! > z[best]!) best = k;
      if (best === y) correct++;
      loss -= Math.log(Math.max(z[y]!, 1e-30));
      gh.fill(0);
      for (let k = 0; k < classes; k++) {
        const g = (z[k]! - (k === y ? 1 : 0)) * inv;
        this.b.grad[k]! += g;
        const row = k * dim;
        for (let j = 0; j < dim; j++) {
          this.w.grad[row + j]! += g * h[j]!;
          gh[j]! += g * this.w.data[row + j]!;
        }
      }
      const share = 1 / ids.length;
      for (let j = 0; j < dim; j++) gh[j] = gh[j]! * keep[j]! * share;
      const grad = this.emb.grad;
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        this.emb.touch(id);
        const row = id * dim;
        for (let j = 0; j < dim; j++) grad[row + j]! += gh[j]!;
      }
    }
    this.step++;
    for (const p of Object.values(this.params)) p.update(this.learningRate, this.step);
    return { loss, correct };
  }

  predict(inputs: readonly Int32Array[]): Float32Array {
    const c = this.config.classes;
    const out = new Float32Array(inputs.length * c);
    inputs.forEach((ids, n) => {
      this.forward(ids, null);
      for (let k = 0; k < c; k++) out[n * c + k] = this.z[k]!;
    });
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

  dispose(): void {}
}
