/**
 * The four architectures, all [sequence_length × features] → class probabilities. They are
 * deliberately small (a few thousand weights): the default backend is pure JavaScript, and
 * band-power windows carry little information per sample anyway.
 */
import { Rng } from '../runtime.js';
import { Conv1D, Lstm } from './fast-layers.js';
import { PositionalEncoding, SeededDropout, SelfAttention } from './layers.js';
import { tf } from './tf.js';

export const MODEL_TYPES = ['original', 'enhanced_cnn_lstm', 'resnet_lstm', 'transformer'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

export interface Architecture {
  modelType: ModelType;
  sequenceLength: number;
  features: number;
  classes: number;
  dropout: number;
  l1: number;
  l2: number;
  useSeparable: boolean;
  useRelativePos: boolean;
  seed: number;
}

type Sym = tf.SymbolicTensor;

/**
 * Every initializer gets its own seed drawn from `seed`, so the initial weights (and with the
 * seeded dropout and shuffle, the whole run) are reproducible on the cpu backend.
 */
export function buildModel(a: Architecture): tf.LayersModel {
  const seeds = new Rng(a.seed ^ 0x2545f491);
  const init = (): ReturnType<typeof tf.initializers.glorotUniform> => tf.initializers.glorotUniform({ seed: seeds.int(2 ** 31) });
  const reg = a.l1 > 0 || a.l2 > 0 ? tf.regularizers.l1l2({ l1: a.l1, l2: a.l2 }) : undefined;
  const on = (layer: tf.layers.Layer, x: Sym | Sym[]): Sym => layer.apply(x) as Sym;
  const dense = (x: Sym, units: number, activation?: 'relu' | 'softmax'): Sym =>
    on(tf.layers.dense({ units, activation, kernelInitializer: init(), kernelRegularizer: reg }), x);
  const drop = (x: Sym): Sym => (a.dropout > 0 ? on(new SeededDropout({ rate: a.dropout }), x) : x);
  const seed = (): number => seeds.int(2 ** 30);
  const conv = (x: Sym, filters: number, activation: 'relu' | 'linear' = 'linear'): Sym =>
    on(new Conv1D({ filters, kernelSize: 3, activation, l1: a.l1, l2: a.l2, seed: seed() }), x);
  const L = a.sequenceLength;
  // Recurrence over fewer, pooled steps: the LSTM is the slow part on the cpu backend.
  const pool = (x: Sym): Sym => (L >= 4 ? on(tf.layers.maxPooling1d({ poolSize: 2 }), x) : x);
  const lstm = (x: Sym): Sym => on(new Lstm({ units: 16, l1: a.l1, l2: a.l2, seed: seed() }), x);
  /**
   * Depthwise-separable convolution (tfjs has no SeparableConv1D): a per-channel temporal
   * convolution, then a pointwise (kernel 1) convolution mixing channels. This is the exact
   * operation, not an approximation.
   */
  const separable = (x: Sym, filters: number): Sym => {
    const depthwise = on(new Conv1D({ kernelSize: 3, depthwise: true, useBias: false, l1: a.l1, l2: a.l2, seed: seed() }), x);
    return on(new Conv1D({ filters, kernelSize: 1, activation: 'relu', l1: a.l1, l2: a.l2, seed: seed() }), depthwise);
  };

  const input = tf.input({ shape: [L, a.features] });
  let x: Sym = input;
  switch (a.modelType) {
    case 'original':
      x = on(tf.layers.flatten(), x);
      x = drop(dense(x, 64, 'relu'));
      x = dense(x, 32, 'relu');
      break;
    case 'enhanced_cnn_lstm': {
      const block = (y: Sym): Sym => (a.useSeparable ? separable(y, 16) : conv(y, 16, 'relu'));
      x = drop(pool(block(block(x))));
      x = drop(lstm(x));
      break;
    }
    case 'resnet_lstm': {
      x = conv(x, 16, 'relu');
      for (let b = 0; b < 2; b++) {
        const y = conv(conv(x, 16, 'relu'), 16);
        x = on(tf.layers.activation({ activation: 'relu' }), on(tf.layers.add(), [x, y]));
      }
      x = drop(pool(x));
      x = drop(lstm(x));
      break;
    }
    case 'transformer': {
      const width = 16;
      x = on(new PositionalEncoding({}), dense(x, width)); // dense on [L, F] projects each step
      const attended = drop(on(new SelfAttention({ heads: 2, relativePosition: a.useRelativePos, l1: a.l1, l2: a.l2, seed: seeds.int(2 ** 31) }), x));
      x = on(tf.layers.layerNormalization(), on(tf.layers.add(), [x, attended]));
      const ff = drop(dense(dense(x, 2 * width, 'relu'), width));
      x = on(tf.layers.layerNormalization(), on(tf.layers.add(), [x, ff]));
      x = drop(on(tf.layers.globalAveragePooling1d(), x));
      break;
    }
  }
  return tf.model({ inputs: input, outputs: dense(x, a.classes, 'softmax'), name: `sequence_${a.modelType}` });
}
