/**
 * Conv1D and LSTM written with only the kernels the pure-JS `cpu` backend runs fast.
 *
 * Measured here on [32 × 8 × 16] batches (forward + backward): tf.layers.conv1d 65-75 ms, of
 * which the filter gradient (Conv2DBackpropFilter) is nearly all; tf.layers.lstm over 4 steps
 * 60 ms, spent mostly in per-op overhead and in splitting gates along the last axis (slicing
 * an inner axis costs ~1 µs per element there). These versions: 6.6 ms and 13 ms. They
 * compute the same functions (the convolution matches tf.conv1d 'same' to 6e-6), so nothing
 * about the architectures changes, only their speed.
 */
import { tf } from './tf.js';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
type Config = tf.serialization.ConfigDict;

const single = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(inputs) ? inputs[0]! : inputs);
const shapeOf = (s: tf.Shape | tf.Shape[]): tf.Shape => (Array.isArray(s[0]) ? s[0] : s) as tf.Shape;
/**
 * tf.unstack along the leading axis (contiguous, so cheap). One slice is a reshape instead:
 * tfjs hands a single-output op's gradient a bare tensor, which Unpack's gradient rejects.
 */
export const leading = (t: tf.Tensor): tf.Tensor[] => (t.shape[0] === 1 ? [tf.reshape(t, t.shape.slice(1))] : tf.unstack(t, 0));
const regularizer = (l1: number, l2: number) => (l1 > 0 || l2 > 0 ? tf.regularizers.l1l2({ l1, l2 }) : undefined);

/**
 * (S·z)[t] = z[t + shift] (0 outside the window): moving a sequence along time by a matMul
 * with a constant 0/1 matrix instead of slicing the time axis. That costs O(length²) per tap
 * instead of O(length), which still beats tf.conv1d's filter gradient up to the longest
 * windows the catalog allows (1024 steps, by extrapolating the timings above).
 */
function shiftMatrix(length: number, shift: number): tf.Tensor2D {
  const m = new Float32Array(length * length);
  for (let t = 0; t < length; t++) {
    const u = t + shift;
    if (u >= 0 && u < length) m[t * length + u] = 1;
  }
  return tf.tensor2d(m, [length, length]);
}

export interface Conv1DArgs extends LayerArgs {
  /** Output channels; ignored when depthwise (one output per input channel). */
  filters?: number;
  kernelSize: number;
  depthwise?: boolean;
  activation?: 'relu' | 'linear';
  useBias?: boolean;
  l1?: number;
  l2?: number;
  seed?: number;
}

/**
 * Stride-1 'same' 1-D convolution: y[t] = Σₛ x[t + s − pad]·Wₛ, one matMul per kernel tap and
 * one constant shift per tap. Depthwise: each channel convolved with its own kernel (Wₛ is a
 * per-channel scale), the first half of a depthwise-separable convolution.
 */
export class Conv1D extends tf.layers.Layer {
  static readonly className = 'TrainyardConv1D';
  private readonly opts: Required<Omit<Conv1DArgs, keyof LayerArgs>>;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;

  constructor(args: Conv1DArgs) {
    super(args);
    this.opts = {
      filters: args.filters ?? 0,
      kernelSize: args.kernelSize,
      depthwise: args.depthwise ?? false,
      activation: args.activation ?? 'linear',
      useBias: args.useBias ?? true,
      l1: args.l1 ?? 0,
      l2: args.l2 ?? 0,
      seed: args.seed ?? 0,
    };
  }

  private outChannels(inChannels: number): number {
    return this.opts.depthwise ? inChannels : this.opts.filters;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const channels = shapeOf(inputShape)[2] as number;
    const { kernelSize, depthwise, seed, l1, l2 } = this.opts;
    const shape = depthwise ? [kernelSize, channels] : [kernelSize, channels, this.outChannels(channels)];
    this.kernel = this.addWeight('kernel', shape, 'float32', tf.initializers.glorotUniform({ seed }), regularizer(l1, l2));
    if (this.opts.useBias) this.bias = this.addWeight('bias', [this.outChannels(channels)], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [batch, length, channels] = shapeOf(inputShape);
    return [batch ?? null, length ?? null, this.outChannels(channels as number)];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const [batch, length, channels] = x.shape as [number, number, number];
      const out = this.outChannels(channels);
      const pad = Math.floor((this.opts.kernelSize - 1) / 2); // TensorFlow's 'same': the extra tap goes right
      const taps = leading(this.kernel!.read());
      const flat = this.opts.depthwise ? null : tf.reshape(x, [batch * length, channels]);
      const terms = taps.map((w, s) => {
        const z = flat ? tf.reshape(tf.matMul(flat, w as tf.Tensor2D), [batch, length, out]) : tf.mul(x, w);
        return s === pad ? z : tf.matMul(shiftMatrix(length, s - pad), z);
      });
      let y = terms.length === 1 ? terms[0]! : tf.addN(terms);
      if (this.bias) y = tf.add(y, this.bias.read());
      return this.opts.activation === 'relu' ? tf.relu(y) : y;
    });
  }

  override getConfig(): Config {
    return { ...super.getConfig(), ...this.opts };
  }
}

export interface LstmArgs extends LayerArgs {
  units: number;
  l1?: number;
  l2?: number;
  seed?: number;
}

/**
 * A standard LSTM (Hochreiter & Schmidhuber; gates i, f, g, o in Keras order, sigmoid gates,
 * tanh cell, forget bias initialised to 1), returning the last hidden state. State is kept
 * transposed, [units × batch], so the four gates are split along the leading axis.
 */
export class Lstm extends tf.layers.Layer {
  static readonly className = 'TrainyardLSTM';
  readonly units: number;
  private readonly l1: number;
  private readonly l2: number;
  private readonly seed: number;
  private kernel: tf.LayerVariable | null = null;
  private recurrent: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;

  constructor(args: LstmArgs) {
    super(args);
    this.units = args.units;
    this.l1 = args.l1 ?? 0;
    this.l2 = args.l2 ?? 0;
    this.seed = args.seed ?? 0;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const channels = shapeOf(inputShape)[2] as number;
    const u = this.units;
    // Stored transposed relative to Keras ([4·units × input], [4·units × units]).
    this.kernel = this.addWeight('kernel', [4 * u, channels], 'float32', tf.initializers.glorotUniform({ seed: this.seed }), regularizer(this.l1, this.l2));
    this.recurrent = this.addWeight('recurrent_kernel', [4 * u, u], 'float32', tf.initializers.orthogonal({ gain: 1, seed: this.seed + 1 }));
    this.bias = this.addWeight('bias', [4 * u, 1], 'float32', tf.initializers.zeros());
    const forgetOnes = tf.tidy(() => tf.concat([tf.zeros([u, 1]), tf.ones([u, 1]), tf.zeros([2 * u, 1])], 0));
    this.bias.write(forgetOnes);
    forgetOnes.dispose();
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return [shapeOf(inputShape)[0] ?? null, this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const batch = x.shape[0]!;
      const [kernel, recurrent, bias] = [this.kernel!.read(), this.recurrent!.read(), this.bias!.read()];
      const steps = leading(tf.transpose(x, [1, 2, 0])); // L × [channels × batch]
      let h: tf.Tensor = tf.zeros([this.units, batch]);
      let c: tf.Tensor = tf.zeros([this.units, batch]);
      for (const xt of steps) {
        const z = tf.add(tf.add(tf.matMul(kernel, xt), tf.matMul(recurrent, h)), bias);
        const [i, f, g, o] = tf.split(z, 4, 0) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        c = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
        h = tf.mul(tf.sigmoid(o), tf.tanh(c));
      }
      return tf.transpose(h);
    });
  }

  override getConfig(): Config {
    return { ...super.getConfig(), units: this.units, l1: this.l1, l2: this.l2, seed: this.seed };
  }
}

tf.serialization.registerClass(Conv1D);
tf.serialization.registerClass(Lstm);
