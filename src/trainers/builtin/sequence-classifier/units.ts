/**
 * Units: what the train/validation split, the cross-validation folds and the per-instance
 * scores are made of. In instance mode a unit is one recording (dataset option
 * instance_column) with every window cut inside it; in stream mode it is a block of windows
 * within one run of a label (data.ts blocksOf). A unit is never divided: no recording is in
 * both training and validation, and no validation window shares a row with a training one.
 */
import { stratifiedFolds as rowFolds, stratifiedSplit } from '../linear-classifier/data.js';
import { blocksOf, strideFor } from './data.js';
import type { Instance, Series, Window } from './data.js';

export interface Unit {
  label: string;
  windows: Window[];
  /** The recording's id (instance mode), for messages. */
  id?: string;
}

/**
 * Windows of one recording: stride `strideFor(L)` from its first row, plus one window ending
 * at its last row so the tail is always seen. A recording shorter than the window gives one
 * window holding all its rows, padded after its end with the training mean (0 once
 * standardized: the same value a missing cell gets), in training and in predict alike.
 */
export function instanceWindows(start: number, length: number, sequenceLength: number, label: string): Window[] {
  if (length <= sequenceLength) return [{ start, label, ...(length < sequenceLength ? { length } : {}) }];
  const stride = strideFor(sequenceLength);
  const windows: Window[] = [];
  for (let s = 0; s + sequenceLength <= length; s += stride) windows.push({ start: start + s, label });
  if (windows.at(-1)!.start + sequenceLength < start + length) windows.push({ start: start + length - sequenceLength, label });
  return windows;
}

export const instanceUnits = (instances: readonly Instance[], sequenceLength: number): Unit[] =>
  instances.map((i) => ({ id: i.id, label: i.label, windows: instanceWindows(i.start, i.end - i.start, sequenceLength, i.label) }));

export function unitsOf(series: Series, sequenceLength: number): Unit[] {
  return series.instances ? instanceUnits(series.instances, sequenceLength) : blocksOf(series.labels, sequenceLength);
}

/** Stratified by label over units; `fraction` 0 keeps everything for training. */
export function splitUnits(units: readonly Unit[], fraction: number, seed: number): { train: number[]; val: number[] } {
  if (fraction <= 0) return { train: units.map((_, i) => i), val: [] };
  return stratifiedSplit(
    units.map((u) => u.label),
    fraction,
    seed,
  );
}

/**
 * Stratified k-fold over units (linear-classifier's row folds, dealt over units): every fold
 * gets each class in proportion, fold sizes differ by at most one. Returns the validation
 * units of each fold.
 */
export function stratifiedFolds(units: readonly Unit[], k: number, seed: number): number[][] {
  const foldOf = rowFolds(
    units.map((u) => u.label),
    k,
    seed ^ 0x3c6ef372,
  );
  const folds: number[][] = Array.from({ length: k }, () => []);
  foldOf.forEach((f, i) => folds[f]!.push(i));
  return folds;
}

/**
 * Soft vote: the mean of each group's window probabilities (row-major [windows × k]). In
 * stream mode every window is its own group and this is the identity.
 */
export function vote(probs: Float32Array, groups: Int32Array, nGroups: number, k: number): Float32Array {
  const out = new Float32Array(nGroups * k);
  const count = new Float32Array(nGroups);
  groups.forEach((g, w) => {
    count[g]!++;
    for (let c = 0; c < k; c++) out[g * k + c]! += probs[w * k + c]!;
  });
  for (let g = 0; g < nGroups; g++) for (let c = 0; c < k; c++) out[g * k + c]! /= Math.max(1, count[g]!);
  return out;
}
