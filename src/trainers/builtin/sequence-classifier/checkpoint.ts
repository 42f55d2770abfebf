/**
 * SIGTERM checkpoints: one JSON file per stop, `ckpt-<completed epochs>.json`, holding the
 * weights, Adam's state, the shuffle PRNG, the history and the early-stopping best-so-far,
 * all as of the last completed epoch, so a resumed run continues as if never interrupted.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { log } from '../runtime.js';
import { decodeTensors, encodeTensors, writeAtomic } from './artifacts.js';
import type { EncodedTensor } from './artifacts.js';
import type { LoopState } from './train.js';

const FORMAT = 'trainyard.sequence-classifier.checkpoint';

interface CheckpointFile {
  format: typeof FORMAT;
  epoch: number;
  step: number;
  /** What the state is only meaningful against: same data, classes, features, architecture, settings. */
  fingerprint: string;
  /** Training seconds spent before the stop, so training_time_s covers every attempt. */
  elapsed_s: number;
  rng_state: number;
  weights: EncodedTensor[];
  optimizer: { iterations: number; acc_beta1: number | null; acc_beta2: number | null; moments: EncodedTensor[] } | null;
  history: LoopState['history'];
  best: { epoch: number; val_loss: number; weights: EncodedTensor[] } | null;
  wait: number;
  /** k-fold: the folds completed before this state, and which fit the state belongs to (null: the final or only one). */
  cv?: FoldRecord[];
  fold?: number | null;
}

/** One cross-validation fold's outcome (details.cv.folds). */
export interface FoldRecord {
  fold: number;
  train_units: number;
  val_units: number;
  best_epoch: number;
  epochs_run: number;
  accuracy: number;
  macro_f1: number;
  loss: number;
}

export interface Phase {
  cv: FoldRecord[];
  fold: number | null;
}

export async function writeCheckpoint(dir: string, state: LoopState, step: number, fingerprint: string, elapsedS: number, phase?: Phase): Promise<string> {
  const file = path.join(dir, `ckpt-${state.epoch}.json`);
  const opt = state.optimizer;
  const body: CheckpointFile = {
    format: FORMAT,
    epoch: state.epoch,
    step,
    fingerprint,
    elapsed_s: elapsedS,
    rng_state: state.rngState,
    weights: encodeTensors(state.weights),
    optimizer: opt
      ? {
          iterations: opt.iterations,
          acc_beta1: Number.isFinite(opt.accBeta1) ? opt.accBeta1 : null,
          acc_beta2: Number.isFinite(opt.accBeta2) ? opt.accBeta2 : null,
          moments: encodeTensors(opt.moments),
        }
      : null,
    history: state.history,
    best: state.best ? { epoch: state.best.epoch, val_loss: state.best.valLoss, weights: encodeTensors(state.best.weights) } : null,
    wait: state.wait,
    ...(phase ? { cv: phase.cv, fold: phase.fold } : {}),
  };
  await writeAtomic(file, JSON.stringify(body));
  return file;
}

/** A checkpoint that does not fit this job is reported and ignored: training from scratch still succeeds. */
export async function readCheckpoint(
  file: string,
  fingerprint: string,
  weightShapes: number[][],
): Promise<{ state: LoopState; elapsedS: number; phase: Phase } | null> {
  let c: CheckpointFile;
  try {
    c = JSON.parse(await readFile(file, 'utf8')) as CheckpointFile;
  } catch (err) {
    log('warn', `cannot read checkpoint ${file} (${(err as Error).message}); training from scratch`);
    return null;
  }
  const sameShapes = (list: EncodedTensor[] | undefined): boolean =>
    list?.length === weightShapes.length && list.every((t, i) => t.shape.join('x') === weightShapes[i]!.join('x'));
  const fits =
    c?.format === FORMAT &&
    c.fingerprint === fingerprint &&
    Number.isInteger(c.epoch) &&
    Number.isInteger(c.rng_state) &&
    Array.isArray(c.history) &&
    sameShapes(c.weights) &&
    (!c.best || sameShapes(c.best.weights));
  if (!fits) {
    log('warn', `checkpoint ${file} was made for different data or settings; training from scratch`);
    return null;
  }
  const state: LoopState = {
    epoch: c.epoch,
    rngState: c.rng_state,
    weights: decodeTensors(c.weights),
    optimizer: c.optimizer
      ? {
          iterations: c.optimizer.iterations,
          accBeta1: c.optimizer.acc_beta1 ?? NaN,
          accBeta2: c.optimizer.acc_beta2 ?? NaN,
          moments: decodeTensors(c.optimizer.moments),
        }
      : null,
    history: c.history,
    best: c.best ? { epoch: c.best.epoch, valLoss: c.best.val_loss, weights: decodeTensors(c.best.weights) } : null,
    wait: c.wait ?? 0,
  };
  return { state, elapsedS: Number.isFinite(c.elapsed_s) ? c.elapsed_s : 0, phase: { cv: Array.isArray(c.cv) ? c.cv : [], fold: c.fold ?? null } };
}
