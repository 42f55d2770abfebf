/**
 * Units → tensors, and scores per instance. A sample set is the windows of some units with,
 * per window, the group it is scored in: its recording in instance mode (soft vote over the
 * recording's windows, units.ts vote), itself in stream mode (as before issue #18).
 */
import { windowData } from './data.js';
import type { Normalization, Series } from './data.js';
import { argmaxRow, score } from './metrics.js';
import type { Scores } from './metrics.js';
import type { Batches } from './train.js';
import { vote } from './units.js';
import type { Unit } from './units.js';

export interface SampleSet extends Batches {
  /** Group (scored instance) of each window. */
  groups: Int32Array;
  /** Class index of each group. */
  groupY: Int32Array;
}

/** Units whose class the model knows (others are left out by the caller, with a warning). */
export function sampleSet(
  series: Series,
  units: readonly Unit[],
  sequenceLength: number,
  norm: Normalization,
  classIndex: Map<string, number>,
  instances: boolean,
): SampleSet {
  const windows = units.flatMap((u) => u.windows);
  const groups = new Int32Array(windows.length);
  let at = 0;
  units.forEach((u, g) => u.windows.forEach(() => ((groups[at] = instances ? g : at), at++)));
  const y = Int32Array.from(windows, (win) => classIndex.get(win.label)!);
  const groupY = instances ? Int32Array.from(units, (u) => classIndex.get(u.label)!) : y;
  return { x: windowData(series, windows, sequenceLength, norm), y, groups, groupY };
}

export const emptySet = (): SampleSet => ({ x: new Float32Array(0), y: new Int32Array(0), groups: new Int32Array(0), groupY: new Int32Array(0) });

/** Per-group scores from per-window probabilities, and the predicted class of each group. */
export function scoreGroups(windowProbs: Float32Array, set: SampleSet, k: number): Scores & { predicted: Int32Array } {
  const probs = vote(windowProbs, set.groups, set.groupY.length, k);
  const predicted = Int32Array.from(set.groupY, (_, g) => argmaxRow(probs, g, k));
  return { ...score(probs, set.groupY, k), predicted };
}

/** Loss weight per class: inverse frequency over the training windows, only when the imbalance is real. */
export function classWeightsOf(y: Int32Array, k: number): { counts: number[]; weights: number[] } {
  const counts = new Array<number>(k).fill(0);
  y.forEach((c) => counts[c]!++);
  const present = counts.filter((c) => c > 0);
  // Normalised so the average weight per training window is 1; a balanced dataset trains on the plain loss.
  const imbalanced = Math.max(...present) > 1.1 * Math.min(...present);
  return { counts, weights: counts.map((c) => (!imbalanced ? 1 : c === 0 ? 0 : y.length / (present.length * c))) };
}

/** The units of `units` at `indices` whose class is known; `dropped` counts the others. */
export function knownUnits(units: readonly Unit[], indices: readonly number[] | null, classIndex: Map<string, number>): { units: Unit[]; dropped: number } {
  const chosen = indices ? indices.map((i) => units[i]!) : [...units];
  const known = chosen.filter((u) => classIndex.has(u.label));
  return { units: known, dropped: chosen.length - known.length };
}
