/**
 * The transformer's PyTorch backend (issue #15): main.ts's epoch loop run by
 * `python -m trainyard_text_torch` (trainers/python) instead of the tfjs one.
 *
 * Only the loop moves. This side reads and splits the data, fits the tokenizer, encodes the
 * texts, seeds the initial weights (the Transformer built here) and draws every epoch's batches
 * with the same PRNG and length bucketing as the tfjs loop; it scores each epoch's validation
 * probabilities with the same metrics code, writes the checkpoints, and after training takes the
 * weights back into the tfjs model: predict, weights.bin, the model card and serving are the
 * tfjs path's, unchanged. The PyTorch state dict ships beside them as `model.pt`.
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ProgressReporter, Rng, StopSignal } from '../runtime.js';
import { TrainerError, log } from '../runtime.js';
import { TorchUnavailable, concatF32, readF32, runTorchChild, writeArray } from '../torch-child.js';
import type { BackendChoice, ChildEvent } from '../torch-child.js';
import { scoreProbs } from './metrics.js';
import type { TextModel, TrainingState } from './model.js';
import type { EpochMetrics } from './report.js';

export const TORCH_STATE_FILE = 'model.pt';

export interface Encoded {
  x: Int32Array[];
  y: Int32Array;
}

export interface TorchFit {
  model: TextModel;
  classes: number;
  train: Encoded;
  val: Encoded;
  learningRate: number;
  seed: number;
  epochs: number;
  /** The first epoch to run (after a checkpoint's); the model holds the state to start from. */
  firstEpoch: number;
  batches: number;
  /** The shuffle stream at the start of firstEpoch; `drawBatches` advances it by one epoch. */
  rng: Rng;
  drawBatches: (rng: Rng) => number[][];
  progress: ProgressReporter;
  stop: StopSignal;
  onEpoch: (m: EpochMetrics) => void;
  /** A stop: the model holds the state at the start of epoch `done + 1`, `rngState` the shuffle stream's. */
  onStop: (done: number, start: { state: TrainingState; rng: number }) => Promise<unknown>;
}

export interface TorchOutcome {
  stopped: boolean;
  trainedWith: string;
  stateDict: string | null;
  /** The last epoch's validation probabilities: the final weights' (the PyTorch forward equals tfjs's within 1e-5, a test). */
  valProbs: Float32Array | null;
}

/**
 * Trains with PyTorch. Returns null when the environment cannot start the loop and `choice` is
 * auto (the rng is then where it was: the tfjs loop draws the same batches); a failure after
 * the loop started is the job's.
 */
export async function fitWithTorch(f: TorchFit, python: string, choice: BackendChoice, keepDir: string): Promise<TorchOutcome | null> {
  const dir = await mkdtemp(path.join(tmpdir(), 'text-torch-'));
  const rngAtStart = f.rng.state;
  try {
    const rngStates = await writeJob(dir, f);
    let trainedWith = 'torch';
    let valProbs: Float32Array | null = null;
    return await runTorchChild<TorchOutcome>(python, 'trainyard_text_torch', dir, f.stop, async (e: ChildEvent) => {
      switch (e.type) {
        case 'ready':
          trainedWith = `torch ${String(e.torch)} (${String(e.device)})`;
          log('info', `PyTorch backend: torch ${String(e.torch)} on ${String(e.device)}, ${String(e.threads)} threads`);
          return null;
        case 'progress':
          f.progress.report((Number(e.epoch) - 1) * f.batches + Number(e.batch), Number(e.epoch));
          return null;
        case 'epoch': {
          const epoch = Number(e.epoch);
          const values: Record<string, number> = { loss: Number(e.loss), accuracy: Number(e.accuracy) };
          if (typeof e.val_probs === 'string') {
            valProbs = await readF32(path.join(dir, e.val_probs));
            const v = scoreProbs(valProbs, f.val.y, f.classes);
            Object.assign(values, { val_loss: v.loss, val_accuracy: v.report.accuracy, val_f1: v.report.macro_f1 });
          }
          f.progress.report(epoch * f.batches, epoch, true);
          f.onEpoch({ epoch, step: epoch * f.batches, values });
          return null;
        }
        case 'stopped': {
          const done = Number(e.epoch);
          f.model.loadTrainingState(unflatten(f.model, await readF32(path.join(dir, String(e.state))), Number(e.step)));
          await f.onStop(done, { state: f.model.trainingState(), rng: rngStates[done + 1 - f.firstEpoch]! });
          return { stopped: true, trainedWith, stateDict: null, valProbs: null };
        }
        case 'done': {
          const weights = unflatten(f.model, await readF32(path.join(dir, String(e.weights))), 0, 1);
          f.model.setWeights(Object.fromEntries(Object.entries(f.model.weights()).map(([n, w]) => [n, { shape: w.shape, data: weights.arrays[n]! }])));
          // Kept outside the exchange folder, which is removed when this returns.
          const stateDict = path.join(keepDir, TORCH_STATE_FILE);
          await copyFile(path.join(dir, String(e.state_dict)), stateDict);
          return { stopped: false, trainedWith, stateDict, valProbs };
        }
        default:
          return null;
      }
    });
  } catch (err) {
    if (!(err instanceof TorchUnavailable)) throw err;
    // Stopped before the loop was up (a SIGTERM while Python started): nothing trained yet, so the
    // checkpoint is the state we started from, as the tfjs loop would write it.
    if (f.stop.stopRequested) {
      await f.onStop(f.firstEpoch - 1, { state: f.model.trainingState(), rng: rngAtStart });
      return { stopped: true, trainedWith: 'torch', stateDict: null, valProbs: null };
    }
    if (choice !== 'auto') throw new TrainerError(err.message);
    log('warn', `${err.message}; backend auto: training with tfjs instead`);
    f.rng.state = rngAtStart;
    return null;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes the exchange folder; returns the shuffle stream's state at the start of each epoch to run (and after the last). */
async function writeJob(dir: string, f: TorchFit): Promise<number[]> {
  const n = f.train.y.length;
  const rngStates: number[] = [f.rng.state];
  const order = new Int32Array((f.epochs - f.firstEpoch + 1) * n);
  const sizes = new Int32Array((f.epochs - f.firstEpoch + 1) * f.batches);
  for (let e = 0; e <= f.epochs - f.firstEpoch; e++) {
    const batches = f.drawBatches(f.rng);
    if (batches.length !== f.batches) throw new Error(`drew ${batches.length} batches where an epoch has ${f.batches}`);
    order.set(batches.flat(), e * n);
    sizes.set(
      batches.map((b) => b.length),
      e * f.batches,
    );
    rngStates.push(f.rng.state);
  }
  const texts = (prefix: string, set: Encoded): Promise<unknown> => {
    const offsets = new Int32Array(set.x.length + 1);
    set.x.forEach((ids, i) => (offsets[i + 1] = offsets[i]! + ids.length));
    const ids = new Int32Array(offsets[set.x.length]!);
    set.x.forEach((t, i) => ids.set(t, offsets[i]!));
    return Promise.all([
      writeArray(dir, `${prefix}_ids.i32`, ids),
      writeArray(dir, `${prefix}_offsets.i32`, offsets),
      writeArray(dir, `${prefix}_y.i32`, set.y),
    ]);
  };
  const state = f.model.trainingState();
  const names = Object.keys(f.model.weights());
  const shapes = Object.values(f.model.weights()).map((w) => w.shape);
  await Promise.all([
    texts('train', f.train),
    texts('val', f.val),
    writeArray(dir, 'order.i32', order),
    writeArray(dir, 'sizes.i32', sizes),
    writeArray(dir, 'state.f32', concatF32(['', '.m', '.v'].flatMap((suffix) => names.map((name) => state.arrays[name + suffix]!)))),
  ]);
  const job = {
    config: f.model.config,
    names,
    shapes,
    state: 'state.f32',
    step: state.step,
    learning_rate: f.learningRate,
    epochs: f.epochs,
    first_epoch: f.firstEpoch,
    seed: f.seed,
    device: 'auto',
  };
  await writeFile(path.join(dir, 'job.json'), JSON.stringify(job));
  return rngStates;
}

/** state.f32's layout (weights, then first and second moments, in weights.bin's order) as a TrainingState; `parts` 1 reads weights only. */
function unflatten(model: TextModel, flat: Float32Array, step: number, parts = 3): TrainingState {
  const weights = Object.entries(model.weights());
  const total = weights.reduce((a, [, w]) => a + w.data.length, 0);
  if (flat.length !== parts * total) throw new TrainerError(`the PyTorch backend returned ${flat.length} floats where the model has ${parts * total}`);
  const arrays: Record<string, Float32Array> = {};
  let at = 0;
  for (const suffix of ['', '.m', '.v'].slice(0, parts)) {
    for (const [name, w] of weights) {
      arrays[name + suffix] = flat.slice(at, at + w.data.length);
      at += w.data.length;
    }
  }
  return { step, arrays };
}
