/**
 * The training loop: Adam on class-weighted cross-entropy plus the layers' L1/L2 penalties,
 * a per-batch learning-rate schedule, per-epoch validation metrics, early stopping on
 * val_loss (never before min_epochs) with the best weights restored, and the epoch-boundary
 * state a SIGTERM checkpoint needs to resume exactly.
 *
 * A hand-written loop rather than model.fit: fit shuffles with Math.random, cannot stop
 * between batches with a consistent state to save, and hides the optimizer state.
 *
 * Reproducibility: the initial weights (seeded initializers), the split, the shuffle and the
 * dropout masks all derive from `seed`, and the cpu backend is single-threaded float32
 * JavaScript, so the same seed and data give bit-identical weights and metrics (the tests
 * check it). Not covered: tfjs-node, whose native kernels may sum in thread-dependent order
 * (results then agree only to rounding), and the timing metrics, which are measurements.
 */
import { Rng, TrainerError } from '../runtime.js';
import type { ProgressReporter, StopSignal } from '../runtime.js';
import { reseedDropout } from './layers.js';
import { finite, score } from './metrics.js';
import type { Scores } from './metrics.js';
import { tf } from './tf.js';

export interface Batches {
  /** [n × sequence_length × features], standardized. */
  x: Float32Array;
  /** Class index per window. */
  y: Int32Array;
}

export interface TrainInput {
  train: Batches;
  val: Batches;
  windowShape: [number, number];
  classes: number;
  /** Loss weight per class (1 everywhere when classes are balanced). */
  classWeights: number[];
}

export type LrSchedule = 'constant' | 'warmup_cosine';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  /** The base rate: constant, or the peak of warmup_cosine. */
  learningRate: number;
  lrSchedule: LrSchedule;
  /** Epochs without a val_loss improvement before stopping; 0 = no early stopping (resolvePatience turns 'auto' into a number). */
  patience: number;
  /** Early stopping never ends a run before this many epochs. */
  minEpochs: number;
  seed: number;
}

export interface EpochRecord {
  epoch: number;
  step: number;
  values: Record<string, number>;
}

/** Training state at an epoch boundary: what a checkpoint holds, as tensors. */
export interface LoopState {
  /** Completed epochs. */
  epoch: number;
  rngState: number;
  weights: tf.Tensor[];
  optimizer: { iterations: number; accBeta1: number; accBeta2: number; moments: tf.Tensor[] } | null;
  history: EpochRecord[];
  best: { epoch: number; valLoss: number; weights: tf.Tensor[] } | null;
  wait: number;
}

export interface LoopHooks {
  stop: StopSignal;
  progress: ProgressReporter;
  onEpoch(record: EpochRecord): void;
  /** Called on a stop request with the state at the start of the interrupted epoch. */
  onStop(state: LoopState, batchesPerEpoch: number): Promise<void>;
}

export type LoopOutcome = { stopped: true } | { stopped: false; history: EpochRecord[]; bestEpoch: number; epochsRun: number; earlyStopped: boolean };

/** warmup_cosine: the share of the epochs spent warming up (at least one epoch), and where the decay ends. */
const WARMUP_SHARE = 0.05;
const FINAL_LR_SHARE = 0.05;

/**
 * The learning rate for one batch: a pure function of the position in the run (epoch from 1,
 * batch from 0), never of state, so a run resumed from a checkpoint replays the same rates.
 * warmup_cosine rises linearly batch by batch over the first max(1, 5%) of the epochs (Adam's
 * first steps on freshly initialised weights are the unstable ones), then follows half a
 * cosine down to 5% of the base rate at the last batch of the last epoch.
 */
export function learningRateAt(
  cfg: Pick<TrainConfig, 'epochs' | 'learningRate' | 'lrSchedule'>,
  epoch: number,
  batch: number,
  batchesPerEpoch: number,
): number {
  if (cfg.lrSchedule === 'constant') return cfg.learningRate;
  const step = (epoch - 1) * batchesPerEpoch + batch;
  const total = cfg.epochs * batchesPerEpoch;
  const warmup = Math.max(1, Math.round(WARMUP_SHARE * cfg.epochs)) * batchesPerEpoch;
  if (step < warmup) return (cfg.learningRate * (step + 1)) / warmup;
  const decay = total - 1 - warmup;
  const progress = decay > 0 ? Math.min(1, (step - warmup) / decay) : 1;
  return cfg.learningRate * (FINAL_LR_SHARE + (1 - FINAL_LR_SHARE) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/**
 * patience 'auto': a tenth of the epoch budget, at least 5 (the old fixed default). A fixed
 * patience that suits 30 epochs stops a 100-epoch run on the first plateau, long before a
 * decaying learning rate has done its work (measurements: bench/README.md).
 */
export function resolvePatience(patience: number | 'auto', epochs: number): number {
  return patience === 'auto' ? Math.max(5, Math.ceil(epochs / 10)) : patience;
}

/** Split and shuffle draw from separate streams, so changing the epoch count never changes the split. */
const SHUFFLE_SALT = 0x5bd1e995;
const EPS = 1e-7;

/** Adam keeps β₁ᵗ and β₂ᵗ in private variables; setWeights recomputes them with pow(), which is not bit-identical to the running product. */
type AdamInternals = { accBeta1?: tf.Variable; accBeta2?: tf.Variable };

async function captureOptimizer(opt: tf.AdamOptimizer): Promise<LoopState['optimizer']> {
  const named = await opt.getWeights();
  if (named.length <= 1) return null; // no step taken yet
  const internals = opt as unknown as AdamInternals;
  const iterations = (await named[0]!.tensor.data())[0]!;
  named[0]!.tensor.dispose(); // a fresh scalar each call; the moments are the optimizer's own variables
  return {
    iterations,
    accBeta1: internals.accBeta1 ? (await internals.accBeta1.data())[0]! : NaN,
    accBeta2: internals.accBeta2 ? (await internals.accBeta2.data())[0]! : NaN,
    moments: named.slice(1).map((w) => w.tensor.clone()),
  };
}

async function restoreOptimizer(opt: tf.AdamOptimizer, s: NonNullable<LoopState['optimizer']>): Promise<void> {
  const half = s.moments.length / 2;
  const iterations = tf.scalar(s.iterations, 'int32');
  await opt.setWeights([{ name: 'iter', tensor: iterations }, ...s.moments.map((tensor, i) => ({ name: `${i < half ? 'm' : 'v'}${i % half}`, tensor }))]);
  iterations.dispose();
  const internals = opt as unknown as AdamInternals;
  tf.tidy(() => {
    if (Number.isFinite(s.accBeta1)) internals.accBeta1?.assign(tf.scalar(s.accBeta1));
    if (Number.isFinite(s.accBeta2)) internals.accBeta2?.assign(tf.scalar(s.accBeta2));
  });
}

/** Class probabilities for all windows, in chunks so a large validation set does not need one huge tensor. */
export function predictProbs(model: tf.LayersModel, data: Float32Array, windowShape: [number, number], classes: number): Float32Array {
  const per = windowShape[0] * windowShape[1];
  const n = data.length / per;
  const out = new Float32Array(n * classes);
  for (let start = 0; start < n; start += 512) {
    const count = Math.min(512, n - start);
    const probs = tf.tidy(() => model.predict(tf.tensor3d(data.subarray(start * per, (start + count) * per), [count, ...windowShape])) as tf.Tensor);
    out.set(probs.dataSync(), start * classes);
    probs.dispose();
  }
  return out;
}

export function evaluate(model: tf.LayersModel, data: Batches, windowShape: [number, number], classes: number): Scores {
  return score(predictProbs(model, data.x, windowShape, classes), data.y, classes);
}

const disposeAll = (tensors: readonly tf.Tensor[] | undefined): void => tensors?.forEach((t) => t.dispose());

export async function trainLoop(model: tf.LayersModel, input: TrainInput, cfg: TrainConfig, hooks: LoopHooks, resume: LoopState | null): Promise<LoopOutcome> {
  const { train, val, windowShape, classes, classWeights } = input;
  const n = train.y.length;
  const per = windowShape[0] * windowShape[1];
  const batchSize = Math.min(cfg.batchSize, n);
  const batches = Math.ceil(n / batchSize);
  const hasVal = val.y.length > 0;
  const earlyStopping = cfg.patience > 0 && hasVal;
  const opt = tf.train.adam(cfg.learningRate);
  // The rate Adam reads on every step (a protected field in the typings, public at run time).
  const adam = opt as unknown as { learningRate: number };
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const rng = new Rng(cfg.seed ^ SHUFFLE_SALT);
  let history: EpochRecord[] = [];
  let best: LoopState['best'] = null;
  let wait = 0;
  if (resume) {
    model.setWeights(resume.weights);
    if (resume.optimizer) await restoreOptimizer(opt, resume.optimizer);
    rng.state = resume.rngState;
    history = resume.history.filter((h) => h.epoch <= resume.epoch);
    best = resume.best;
    wait = resume.wait;
  }

  const order = new Int32Array(n);
  const xb = new Float32Array(batchSize * per);
  const yb = new Float32Array(batchSize * classes);
  const wb = new Float32Array(batchSize);
  let earlyStopped = false;
  for (let epoch = (resume?.epoch ?? 0) + 1; epoch <= cfg.epochs; epoch++) {
    // An epoch is the unit of resumption: a stop mid-epoch rolls back to its start.
    const start: LoopState = {
      epoch: epoch - 1,
      rngState: rng.state,
      weights: model.getWeights().map((w) => w.clone()),
      optimizer: await captureOptimizer(opt),
      history: [...history],
      best,
      wait,
    };
    for (let i = 0; i < n; i++) order[i] = i; // from identity, so the shuffle depends on the PRNG state alone
    rng.shuffle(order);
    let lossSum = 0;
    let correct = 0;
    for (let b = 0; b < batches; b++) {
      if (await hooks.stop.shouldStop()) {
        await hooks.onStop(start, batches);
        return { stopped: true };
      }
      const idx = order.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize));
      const m = idx.length;
      yb.fill(0);
      idx.forEach((row, r) => {
        xb.set(train.x.subarray(row * per, (row + 1) * per), r * per);
        yb[r * classes + train.y[row]!] = 1;
        wb[r] = classWeights[train.y[row]!]!;
      });
      adam.learningRate = learningRateAt(cfg, epoch, b, batches);
      reseedDropout(Math.imul(cfg.seed ^ 0x68e31da4, 1_000_003) + epoch * 65_537 + b);
      const kept: { predicted?: tf.Tensor } = {};
      const [xt, yt, wt] = [
        tf.tensor3d(xb.subarray(0, m * per), [m, ...windowShape]),
        tf.tensor2d(yb.subarray(0, m * classes), [m, classes]),
        tf.tensor1d(wb.subarray(0, m)),
      ];
      const cost = opt.minimize(
        () => {
          const p = model.apply(xt, { training: true }) as tf.Tensor;
          kept.predicted = tf.keep(tf.argMax(p, -1));
          const ce = tf.neg(tf.sum(tf.mul(yt, tf.log(tf.clipByValue(p, EPS, 1))), -1));
          const data = tf.div(tf.sum(tf.mul(ce, wt)), m) as tf.Scalar;
          const penalties = model.calculateLosses();
          return penalties.length > 0 ? (tf.add(data, tf.addN(penalties)) as tf.Scalar) : data;
        },
        true,
        vars,
      )!;
      lossSum += cost.dataSync()[0]! * m;
      kept.predicted?.dataSync().forEach((k, r) => (correct += k === train.y[idx[r]!] ? 1 : 0));
      tf.dispose([cost, xt, yt, wt, ...(kept.predicted ? [kept.predicted] : [])]);
      hooks.progress.report((epoch - 1) * batches + b + 1, epoch);
    }
    const loss = lossSum / n;
    // NaN would serialize as null, the worker would drop the events, and the job would end without a word.
    if (!Number.isFinite(loss)) throw new TrainerError(`training diverged at epoch ${epoch} (loss is ${loss}); lower learning_rate`);
    const values: Record<string, number> = { loss, accuracy: correct / n };
    let valLoss = NaN;
    if (hasVal) {
      const s = evaluate(model, val, windowShape, classes);
      valLoss = s.loss;
      Object.assign(values, { val_loss: s.loss, val_accuracy: s.accuracy, val_auc: s.auc, val_f1: s.f1 });
    }
    const record: EpochRecord = { epoch, step: epoch * batches, values: finite(values) };
    history.push(record);
    hooks.onEpoch(record);
    disposeAll(start.weights);
    disposeAll(start.optimizer?.moments);

    if (earlyStopping) {
      if (best === null || valLoss < best.valLoss) {
        disposeAll(best?.weights);
        best = { epoch, valLoss, weights: model.getWeights().map((w) => w.clone()) };
        wait = 0;
      } else if (++wait >= cfg.patience && epoch >= cfg.minEpochs) {
        // Patience counts from the last improvement even before min_epochs, so a run that has
        // long stopped improving ends as soon as min_epochs allows.
        earlyStopped = epoch < cfg.epochs;
        break;
      }
    }
  }
  // Restoring the best weights also when patience never ran out: the model returned is the one
  // whose validation metrics are reported, not whatever the last epoch left.
  if (best) model.setWeights(best.weights);
  const last = history[history.length - 1];
  return { stopped: false, history, bestEpoch: best?.epoch ?? last?.epoch ?? 0, epochsRun: last?.epoch ?? 0, earlyStopped };
}
