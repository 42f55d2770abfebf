/**
 * Layers TensorFlow.js lacks, written as tf.layers.Layer subclasses and registered with
 * tf.serialization so a saved model.json that names them loads back (importing this module
 * registers them; artifacts.ts imports it, so whatever loads a model has them).
 */
import { leading } from './fast-layers.js';
import { tf } from './tf.js';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
type Config = tf.serialization.ConfigDict;

const single = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(inputs) ? inputs[0]! : inputs);

let noiseSeed = 0;
let noiseCalls = 0;

/** The training loop reseeds before each batch, so masks depend on (seed, epoch, batch) only. */
export function reseedDropout(seed: number): void {
  noiseSeed = seed >>> 0;
  noiseCalls = 0;
}

/**
 * Inverted dropout with reproducible masks. tf.layers.dropout either draws from Math.random
 * (unseeded: runs differ) or, given a seed, draws the very same mask on every call (which is
 * not dropout any more). This one takes a fresh seed per call from a sequence the training
 * loop controls; inference is the identity.
 */
export class SeededDropout extends tf.layers.Layer {
  static readonly className = 'TrainyardDropout';
  readonly rate: number;

  constructor(args: LayerArgs & { rate: number }) {
    super(args);
    this.rate = args.rate;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = single(inputs);
    if (kwargs.training !== true || this.rate <= 0) return x;
    noiseCalls++;
    const seed = (noiseSeed ^ Math.imul(noiseCalls, 0x9e3779b1)) >>> 0;
    return tf.dropout(x, this.rate, undefined, seed);
  }

  override getConfig(): Config {
    return { ...super.getConfig(), rate: this.rate };
  }
}

/** Sinusoidal position codes (Vaswani et al.) added to the input: attention alone is order-blind. */
export class PositionalEncoding extends tf.layers.Layer {
  static readonly className = 'TrainyardPositionalEncoding';

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const [length, dim] = x.shape.slice(-2) as [number, number];
      const codes = new Float32Array(length * dim);
      for (let t = 0; t < length; t++) {
        for (let i = 0; i < dim; i++) {
          const angle = t / Math.pow(10000, (2 * Math.floor(i / 2)) / dim);
          codes[t * dim + i] = i % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
        }
      }
      return tf.add(x, tf.tensor2d(codes, [length, dim]));
    });
  }
}

export interface AttentionArgs extends LayerArgs {
  heads: number;
  relativePosition: boolean;
  l1?: number;
  l2?: number;
  seed?: number;
}

/**
 * Multi-head scaled dot-product self-attention: per head softmax(QKᵀ/√d + B)·V, the heads'
 * outputs projected back and summed (the same as concatenating them and projecting). With
 * `relativePosition`, B[i, j] is a learned bias per head and offset j − i (Shaw et al., T5),
 * which lets a head prefer "the previous few samples" wherever the window is; without it
 * B is 0 and only the sinusoidal codes carry order. Each head has its own projection
 * matrices (weights [heads × …], unstacked along the leading axis) so no op transposes or
 * slices an inner axis, which the pure-JS backend does slowly.
 */
export class SelfAttention extends tf.layers.Layer {
  static readonly className = 'TrainyardSelfAttention';
  readonly heads: number;
  readonly relativePosition: boolean;
  private readonly l1: number;
  private readonly l2: number;
  private readonly seed: number;
  private w: tf.LayerVariable[] = [];
  private bias: tf.LayerVariable | null = null;
  private relative: tf.LayerVariable | null = null;

  constructor(args: AttentionArgs) {
    super(args);
    this.heads = args.heads;
    this.relativePosition = args.relativePosition;
    this.l1 = args.l1 ?? 0;
    this.l2 = args.l2 ?? 0;
    this.seed = args.seed ?? 0;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const [length, dim] = [shape[1], shape[2]];
    if (typeof length !== 'number' || typeof dim !== 'number') throw new Error('SelfAttention needs a fixed sequence length and width');
    if (dim % this.heads !== 0) throw new Error(`SelfAttention: width ${dim} is not divisible by ${this.heads} heads`);
    const dh = dim / this.heads;
    const reg = this.l1 > 0 || this.l2 > 0 ? tf.regularizers.l1l2({ l1: this.l1, l2: this.l2 }) : undefined;
    // Glorot's limit for the full [dim × dim] projection each head is a slice of.
    const limit = Math.sqrt(6 / (dim + dim));
    const init = (i: number) => tf.initializers.randomUniform({ minval: -limit, maxval: limit, seed: this.seed + i });
    this.w = [
      this.addWeight('query', [this.heads, dim, dh], 'float32', init(0), reg),
      this.addWeight('key', [this.heads, dim, dh], 'float32', init(1), reg),
      this.addWeight('value', [this.heads, dim, dh], 'float32', init(2), reg),
      this.addWeight('output', [this.heads, dh, dim], 'float32', init(3), reg),
    ];
    this.bias = this.addWeight('output_bias', [dim], 'float32', tf.initializers.zeros());
    if (this.relativePosition) this.relative = this.addWeight('relative_bias', [this.heads, 2 * length - 1], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const [batch, length, dim] = x.shape as [number, number, number];
      const dh = dim / this.heads;
      const flat = tf.reshape(x, [batch * length, dim]);
      const [wq, wk, wv, wo] = this.w.map((w) => leading(w.read())) as [tf.Tensor[], tf.Tensor[], tf.Tensor[], tf.Tensor[]];
      const relative = this.relative ? leading(this.relative.read()) : null;
      let offsets: tf.Tensor1D | null = null;
      if (relative) {
        const o = new Int32Array(length * length);
        for (let i = 0; i < length; i++) for (let j = 0; j < length; j++) o[i * length + j] = j - i + length - 1;
        offsets = tf.tensor1d(o, 'int32');
      }
      const project = (w: tf.Tensor): tf.Tensor3D => tf.reshape(tf.matMul(flat, w as tf.Tensor2D), [batch, length, dh]);
      const perHead = wq.map((_, h) => {
        let logits: tf.Tensor = tf.mul(tf.matMul(project(wq[h]!), project(wk[h]!), false, true), 1 / Math.sqrt(dh));
        if (relative && offsets) logits = tf.add(logits, tf.reshape(tf.gather(relative[h]!, offsets), [length, length]));
        const context = tf.matMul(tf.softmax(logits) as tf.Tensor3D, project(wv[h]!));
        return tf.matMul(tf.reshape(context, [batch * length, dh]), wo[h] as tf.Tensor2D);
      });
      const merged = perHead.length === 1 ? perHead[0]! : tf.addN(perHead);
      return tf.reshape(tf.add(merged, this.bias!.read()), [batch, length, dim]);
    });
  }

  override getConfig(): Config {
    return { ...super.getConfig(), heads: this.heads, relativePosition: this.relativePosition, l1: this.l1, l2: this.l2, seed: this.seed };
  }
}

tf.serialization.registerClass(SeededDropout);
tf.serialization.registerClass(PositionalEncoding);
tf.serialization.registerClass(SelfAttention);
