/**
 * CSV rows → time-ordered series → windows of `sequence_length` consecutive rows.
 *
 * A window's label is the label its rows share: windows are only cut inside runs of rows with
 * one label, never across a change of state, so no window mixes two classes and "the label of
 * its last row" is also the label of every row in it.
 */
import { readCsvTable, stratifiedSplit, withLabels } from '../linear-classifier/data.js';
import { TrainerError } from '../runtime.js';

/** Column names (case-insensitive, in this order of preference) that give the row order. */
export const ORDER_COLUMNS = ['timestamp', 'time', 't'];
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export interface Series {
  labelColumn: string;
  orderColumn: string | null;
  /** Column naming the recording each row belongs to (dataset option instance_column), or null (stream mode). */
  instanceColumn: string | null;
  /** Instance mode: the recordings, each a contiguous run of rows [start, end) with one label. */
  instances: Instance[] | null;
  features: string[];
  /** Raw values, row-major (rows × features), in time order; NaN where a cell was empty. */
  values: Float64Array;
  labels: string[];
  /** Numeric columns present but not used as features (only when features were imposed). */
  unused: string[];
}

export interface Instance {
  id: string;
  start: number;
  end: number;
  label: string;
}

export interface Window {
  /** First row of the window in the series; it spans `sequence_length` rows. */
  start: number;
  label: string;
  /** Rows of data when fewer than `sequence_length` (a short instance): the rest is padding (0, the training mean). */
  length?: number;
}

export interface SeriesOptions {
  /** Dataset option order_column: sorts rows (within each instance); else the first of ORDER_COLUMNS present. */
  orderColumn?: string;
  /** Dataset option instance_column: one recording per distinct value. */
  instanceColumn?: string;
  /** Imposed feature columns and their order (validation/test datasets, a warm start). */
  features?: readonly string[];
}

/**
 * Windows overlap by half: every row is seen in about two windows (so a state change near a
 * window edge is still seen whole once), at half the cost per epoch of stride 1, which matters
 * on the pure-JS backend. Not a hyperparameter, to keep the schema the catalog publishes.
 */
export const strideFor = (sequenceLength: number): number => Math.max(1, Math.floor(sequenceLength / 2));

function orderKeys(cells: string[]): number[] | string[] {
  if (cells.every((c) => NUMBER.test(c))) return cells.map(Number);
  const dates = cells.map((c) => Date.parse(c));
  if (dates.every((d) => Number.isFinite(d))) return dates;
  return cells; // ISO-like strings still sort in time order as text
}

/**
 * Reads a dataset into a series. `features`, when given (the validation dataset, a warm start),
 * imposes the feature columns and their order; otherwise every numeric column except the
 * label, the ordering and the instance column is one. With an instance column the rows are
 * grouped by instance, in order of first appearance, and sorted by the order column within
 * each (a time column that restarts in every recording must not interleave recordings).
 */
export async function loadSeries(
  files: readonly { path: string; filename?: string }[],
  labelColumn: string,
  what: string,
  warn: (message: string) => void,
  opts: SeriesOptions = {},
): Promise<Series> {
  const { features } = opts;
  const table = await readCsvTable(files);
  const labeled = withLabels(table, labelColumn, what);
  if (table.malformed > 0) warn(`${what}: skipped ${table.malformed} rows whose field count differs from the header`);
  if (labeled.unlabeled > 0) warn(`${what}: skipped ${labeled.unlabeled} rows with an empty "${labelColumn}"`);
  const { header } = table;
  for (const [option, column] of [
    ['order_column', opts.orderColumn],
    ['instance_column', opts.instanceColumn],
  ] as const) {
    if (column !== undefined && !header.includes(column))
      throw new TrainerError(`${what}: the ${option} "${column}" is not a column of the file (columns: ${header.map((h) => `"${h}"`).join(', ')})`);
  }
  const instanceColumn = opts.instanceColumn ?? null;
  const orderColumn =
    opts.orderColumn ??
    ORDER_COLUMNS.map((name) => header.find((h) => h !== labelColumn && h !== instanceColumn && h.trim().toLowerCase() === name)).find(
      (h) => h !== undefined,
    ) ??
    null;

  let order = labeled.rows.map((_, i) => i);
  if (instanceColumn !== null) {
    const at = header.indexOf(instanceColumn);
    const kept = order.filter((i) => labeled.rows[i]![at]!.trim() !== '');
    if (kept.length < order.length) warn(`${what}: skipped ${order.length - kept.length} rows with an empty "${instanceColumn}" (they belong to no recording)`);
    order = kept;
  }
  if (orderColumn !== null) {
    const at = header.indexOf(orderColumn);
    const timed = order.filter((i) => labeled.rows[i]![at]!.trim() !== '');
    if (timed.length < order.length)
      warn(`${what}: skipped ${order.length - timed.length} rows with an empty "${orderColumn}" (they cannot be placed in time)`);
    const keys = orderKeys(timed.map((i) => labeled.rows[i]![at]!.trim()));
    const keyOf = new Map(timed.map((row, k) => [row, keys[k]!]));
    // Array.prototype.sort is stable: rows with equal times keep their file order.
    order = timed.sort((a, b) => (keyOf.get(a)! < keyOf.get(b)! ? -1 : keyOf.get(a)! > keyOf.get(b)! ? 1 : 0));
  }
  let instances: Instance[] | null = null;
  if (instanceColumn !== null) {
    // Stable grouping of the (time-sorted) rows: instances in order of first appearance in the file.
    const at = header.indexOf(instanceColumn);
    const firstSeen = new Map<string, number>();
    [...order].sort((a, b) => a - b).forEach((i) => firstSeen.has(labeled.rows[i]![at]!.trim()) || firstSeen.set(labeled.rows[i]![at]!.trim(), firstSeen.size));
    const groups: number[][] = Array.from({ length: firstSeen.size }, () => []);
    for (const i of order) groups[firstSeen.get(labeled.rows[i]![at]!.trim())!]!.push(i);
    instances = [];
    let start = 0;
    for (const rows of groups) {
      const id = labeled.rows[rows[0]!]![at]!.trim();
      const labels = new Set(rows.map((i) => labeled.labels[i]!));
      if (labels.size > 1)
        throw new TrainerError(
          `${what}: instance "${id}" has more than one "${labelColumn}" value (${[...labels].map((l) => `"${l}"`).join(', ')}); an instance is one recording with one label: fix the label or the "${instanceColumn}" column`,
        );
      instances.push({ id, start, end: start + rows.length, label: labeled.labels[rows[0]!]! });
      start += rows.length;
    }
    order = groups.flat();
  }

  const numeric = header.filter((column, c) => {
    if (column === labelColumn || column === orderColumn || column === instanceColumn) return false;
    let filled = 0;
    for (const i of order) {
      const v = labeled.rows[i]![c]!.trim();
      if (v === '') continue;
      if (!NUMBER.test(v)) return false;
      filled++;
    }
    return filled > 0;
  });
  let chosen: string[];
  let unused: string[] = [];
  if (features) {
    const missing = features.filter((f) => !numeric.includes(f));
    if (missing.length > 0) throw new TrainerError(`${what} lacks the numeric feature columns ${missing.map((f) => `"${f}"`).join(', ')}`);
    chosen = [...features];
    unused = numeric.filter((c) => !features.includes(c));
  } else {
    chosen = numeric;
    const skipped = header.filter((c) => c !== labelColumn && c !== orderColumn && c !== instanceColumn && !numeric.includes(c));
    if (skipped.length > 0) warn(`${what}: non-numeric or empty columns ${skipped.map((c) => `"${c}"`).join(', ')} are not features; skipped`);
  }
  if (chosen.length === 0)
    throw new TrainerError(
      `${what} has no numeric feature columns besides the label "${labelColumn}"${orderColumn ? ` and the ordering column "${orderColumn}"` : ''}`,
    );

  const index = chosen.map((f) => header.indexOf(f));
  const d = chosen.length;
  const values = new Float64Array(order.length * d);
  order.forEach((i, r) => {
    const row = labeled.rows[i]!;
    index.forEach((c, j) => {
      const v = row[c]!.trim();
      values[r * d + j] = v === '' ? NaN : Number(v);
    });
  });
  return { labelColumn, orderColumn, instanceColumn, instances, features: chosen, values, labels: order.map((i) => labeled.labels[i]!), unused };
}

/** The same series with its feature columns in the given order (a subset or permutation of its own). */
export function reorderFeatures(series: Series, features: readonly string[]): Series {
  const from = features.map((f) => series.features.indexOf(f));
  const d = series.features.length;
  const values = new Float64Array(series.labels.length * features.length);
  for (let r = 0; r < series.labels.length; r++) from.forEach((j, k) => (values[r * features.length + k] = series.values[r * d + j]!));
  return { ...series, features: [...features], values };
}

export interface Block {
  label: string;
  windows: Window[];
}

/**
 * Runs of one label, cut into blocks of up to `sequence_length` windows that share no row
 * with the next block: the next block starts at the first row its predecessor's last window
 * does not cover. Blocks are the unit of the train/validation split (see splitWindows).
 */
export function blocksOf(labels: readonly string[], sequenceLength: number): Block[] {
  const stride = strideFor(sequenceLength);
  const span = (sequenceLength - 1) * stride + sequenceLength;
  const blocks: Block[] = [];
  for (let runStart = 0; runStart < labels.length;) {
    let runEnd = runStart + 1;
    while (runEnd < labels.length && labels[runEnd] === labels[runStart]) runEnd++;
    for (let b = runStart; b + sequenceLength <= runEnd; b += span) {
      const windows: Window[] = [];
      for (let s = b; s + sequenceLength <= Math.min(b + span, runEnd); s += stride) windows.push({ start: s, label: labels[runStart]! });
      blocks.push({ label: labels[runStart]!, windows });
    }
    runStart = runEnd;
  }
  return blocks;
}

/**
 * The split is stratified by label over blocks, not windows. Overlapping windows put in both
 * sides would let validation windows share most of their rows with training windows, and the
 * model would be scored on data it has memorised (a shuffled-label run would then score far
 * above chance). Blocks share no row, so no validation window overlaps a training window.
 * Neighbouring blocks of one recording are still correlated in time, so this estimate is
 * somewhat optimistic next to a held-out recording: pass a validation dataset for that.
 */
export function splitWindows(labels: readonly string[], sequenceLength: number, fraction: number, seed: number): { train: Window[]; val: Window[] } {
  const blocks = blocksOf(labels, sequenceLength);
  const split =
    fraction > 0
      ? stratifiedSplit(
          blocks.map((b) => b.label),
          fraction,
          seed,
        )
      : { train: blocks.map((_, i) => i), val: [] };
  return { train: split.train.flatMap((i) => blocks[i]!.windows), val: split.val.flatMap((i) => blocks[i]!.windows) };
}

export interface Normalization {
  mean: number[];
  std: number[];
}

/** Per-feature mean and standard deviation over the rows the given (training) windows cover. */
export function fitNormalization(series: Series, windows: readonly Window[], sequenceLength: number): Normalization {
  const d = series.features.length;
  const covered = new Uint8Array(series.labels.length);
  for (const w of windows) covered.fill(1, w.start, w.start + (w.length ?? sequenceLength));
  // Welford: a plain sum of squares loses precision on large-valued columns.
  const count = new Array<number>(d).fill(0);
  const mean = new Array<number>(d).fill(0);
  const m2 = new Array<number>(d).fill(0);
  covered.forEach((isCovered, r) => {
    if (!isCovered) return;
    for (let j = 0; j < d; j++) {
      const v = series.values[r * d + j]!;
      if (Number.isNaN(v)) continue;
      count[j]!++;
      const delta = v - mean[j]!;
      mean[j]! += delta / count[j]!;
      m2[j]! += delta * (v - mean[j]!);
    }
  });
  const std = m2.map((m, j) => {
    const variance = count[j]! > 0 ? m / count[j]! : 0;
    return variance > 1e-12 * Math.max(1, mean[j]! * mean[j]!) ? Math.sqrt(variance) : 1;
  });
  return { mean, std };
}

/**
 * Standardized windows as one [windows × sequence_length × features] array; a missing value
 * becomes the mean (0), and so do the padding rows after a short instance's last row.
 */
export function windowData(series: Series, windows: readonly Window[], sequenceLength: number, norm: Normalization): Float32Array {
  const d = series.features.length;
  const out = new Float32Array(windows.length * sequenceLength * d);
  windows.forEach((w, k) => {
    for (let t = 0; t < (w.length ?? sequenceLength); t++) {
      for (let j = 0; j < d; j++) {
        const v = series.values[(w.start + t) * d + j]!;
        out[(k * sequenceLength + t) * d + j] = Number.isNaN(v) ? 0 : (v - norm.mean[j]!) / norm.std[j]!;
      }
    }
  });
  return out;
}
