/**
 * CSV in, numbers out: reading the dataset files, the stratified split, and the feature
 * encoding (numeric as is, small categoricals one-hot, then standardization). Everything that
 * is fitted (column kinds, categories, means, deviations) is fitted on training rows only, so
 * validation metrics measure what the model would do on data it never saw.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { Rng, TrainerError } from '../runtime.js';

export const MAX_CATEGORIES = 50;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export interface Table {
  header: string[];
  rows: string[][];
  /** Records whose field count differs from the header's; they cannot be assigned to columns. */
  malformed: number;
}

/** Reads one dataset (one or more files sharing a header) row by row from disk. */
export async function readCsvTable(files: readonly { path: string; filename?: string }[]): Promise<Table> {
  let header: string[] | undefined;
  const rows: string[][] = [];
  let malformed = 0;
  for (const file of files) {
    const name = file.filename ?? file.path;
    let fileHeader: string[] | undefined;
    // Header names stay untrimmed: the dataset validator matched label_column against them as is.
    const consume = async (records: AsyncIterable<string[]>): Promise<void> => {
      for await (const record of records) {
        if (!fileHeader) {
          fileHeader = record;
          if (!header) header = fileHeader;
          else if (fileHeader.join('\u0000') !== header.join('\u0000'))
            throw new TrainerError(`${name}: header differs from the first file's (${header.join(',')})`);
        } else if (record.length !== header!.length) malformed++;
        else rows.push(record);
      }
    };
    try {
      // pipeline, not pipe(): a read error (missing file) must reject instead of leaving the parser waiting forever.
      await pipeline(createReadStream(file.path), parse({ bom: true, relax_column_count: true, skip_empty_lines: true }), consume);
    } catch (err) {
      if (err instanceof TrainerError) throw err;
      throw new TrainerError(`${name}: cannot read CSV: ${(err as Error).message}`);
    }
    if (!fileHeader) throw new TrainerError(`${name}: empty file, a header row is required`);
  }
  if (!header) throw new TrainerError('the dataset has no files');
  return { header, rows, malformed };
}

export interface Labeled {
  rows: string[][];
  labels: string[];
  /** Rows without a label: nothing to learn from them. */
  unlabeled: number;
}

export function withLabels(table: Table, labelColumn: string, what = 'dataset'): Labeled {
  const at = table.header.indexOf(labelColumn);
  if (at < 0) throw new TrainerError(`label column "${labelColumn}" not found in the ${what}; columns: ${table.header.join(', ')}`);
  const rows: string[][] = [];
  const labels: string[] = [];
  for (const row of table.rows) {
    const label = row[at]!.trim();
    if (label === '') continue;
    rows.push(row);
    labels.push(label);
  }
  return { rows, labels, unlabeled: table.rows.length - rows.length };
}

/** Row indices of each class, in row order. */
function indicesByClass(labels: readonly string[]): Map<string, number[]> {
  const byClass = new Map<string, number[]>();
  labels.forEach((label, i) => {
    const list = byClass.get(label);
    if (list) list.push(i);
    else byClass.set(label, [i]);
  });
  return byClass;
}

/**
 * Each class is shuffled and split on its own so rare classes show up in validation in the
 * same proportion as in training. A class keeps at least one row in training (a class the
 * model never saw cannot be predicted). Indices come back sorted, independent of class order.
 */
export function stratifiedSplit(labels: readonly string[], fraction: number, seed: number): { train: number[]; val: number[] } {
  const byClass = indicesByClass(labels);
  const rng = new Rng(seed);
  const train: number[] = [];
  const val: number[] = [];
  for (const label of [...byClass.keys()].sort()) {
    const members = rng.shuffle(byClass.get(label)!);
    const nVal = Math.min(Math.round(members.length * fraction), members.length - 1);
    val.push(...members.slice(0, nVal));
    train.push(...members.slice(nVal));
  }
  const asc = (a: number, b: number): number => a - b;
  return { train: train.sort(asc), val: val.sort(asc) };
}

export type FeatureEncoding = { kind: 'numeric'; column: string; name: string } | { kind: 'one-hot'; column: string; value: string; name: string };

export interface Encoding {
  features: FeatureEncoding[];
  /** Training mean of each encoded feature; also what a missing numeric value becomes. */
  mean: number[];
  /** Training standard deviation (1 where a feature is constant, so it encodes to 0, not NaN). */
  std: number[];
}

type Lookup = (column: string) => unknown;

function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  return NUMBER.test(v) ? Number(v) : undefined;
}

const textOf = (value: unknown): string => (value === null || value === undefined ? '' : String(value).trim());

/** A present value that is not a number, where a number is expected (predict answers 400 with it). */
export class NotNumericError extends Error {
  constructor(
    readonly column: string,
    readonly value: unknown,
  ) {
    super(`feature "${column}" must be a number, got ${JSON.stringify(value)}`);
  }
}

/** Missing per the policy shared by every trainer: absent, null, or an empty (blank) cell. */
const isMissing = (value: unknown): boolean => value === null || value === undefined || (typeof value === 'string' && value.trim() === '');

/**
 * Raw (unstandardized) values of one row; `fill` stands in for missing numerics. Returns how
 * many numeric values were missing and filled. A present value that is not a number is filled
 * too unless `strict` (predict, test set), where it is an error: silently treating "abc" as
 * the training mean would hide a broken client.
 */
function encodeRaw(features: readonly FeatureEncoding[], fill: readonly number[], get: Lookup, out: Float64Array, offset: number, strict = false): number {
  let filled = 0;
  features.forEach((f, j) => {
    const value = get(f.column);
    if (f.kind !== 'numeric') {
      out[offset + j] = textOf(value) === f.value ? 1 : 0;
      return;
    }
    const n = numberOf(value);
    if (n !== undefined) out[offset + j] = n;
    else {
      if (strict && !isMissing(value)) throw new NotNumericError(f.column, value);
      out[offset + j] = fill[j]!;
      filled++;
    }
  });
  return filled;
}

/** Writes the standardized feature vector of one row into `out` at `offset`; returns how many missing numerics were filled. */
export function encodeInto(enc: Encoding, get: Lookup, out: Float64Array, offset = 0, strict = false): number {
  const filled = encodeRaw(enc.features, enc.mean, get, out, offset, strict);
  for (let j = 0; j < enc.features.length; j++) out[offset + j] = (out[offset + j]! - enc.mean[j]!) / enc.std[j]!;
  return filled;
}

/** A row's values by column name; the map is built once per table, not once per row. */
export function tableLookup(header: readonly string[]): (row: readonly string[]) => Lookup {
  const index = new Map(header.map((column, i) => [column, i]));
  return (row) => (column) => {
    const at = index.get(column);
    return at === undefined ? undefined : row[at];
  };
}

/**
 * Decides the features from the training rows: a column is numeric when every filled cell is
 * a number, categorical otherwise; categoricals with too many values (ids, free text) would
 * add a weight per value and learn nothing general, so they are skipped.
 */
export function fitEncoding(
  header: readonly string[],
  rows: readonly string[][],
  train: readonly number[],
  labelColumn: string,
  warn: (message: string) => void,
): Encoding {
  const features: FeatureEncoding[] = [];
  const fill: number[] = [];
  header.forEach((column, c) => {
    if (column === labelColumn) return;
    let sum = 0;
    let filled = 0;
    let numeric = true;
    const categories = new Set<string>();
    for (const i of train) {
      const v = rows[i]![c]!.trim();
      if (v === '') continue;
      if (numeric && NUMBER.test(v)) {
        sum += Number(v);
        filled++;
      } else numeric = false;
      if (categories.size <= MAX_CATEGORIES) categories.add(v);
    }
    if (categories.size === 0) {
      warn(`column "${column}" is empty in the training rows; skipped`);
    } else if (numeric) {
      features.push({ kind: 'numeric', column, name: column });
      fill.push(sum / filled);
    } else if (categories.size > MAX_CATEGORIES) {
      warn(`column "${column}" has more than ${MAX_CATEGORIES} distinct non-numeric values; skipped`);
    } else {
      for (const value of [...categories].sort()) {
        features.push({ kind: 'one-hot', column, value, name: `${column}=${value}` });
        fill.push(0);
      }
    }
  });
  if (features.length === 0) throw new TrainerError(`no usable feature columns besides the label "${labelColumn}"`);

  // Welford's running mean/variance: a plain sum of squares loses all precision on
  // large-valued columns (timestamps, amounts in cents).
  const d = features.length;
  const raw = new Float64Array(d);
  const mean = new Array<number>(d).fill(0);
  const m2 = new Array<number>(d).fill(0);
  const lookup = tableLookup(header);
  train.forEach((i, r) => {
    encodeRaw(features, fill, lookup(rows[i]!), raw, 0);
    for (let j = 0; j < d; j++) {
      const delta = raw[j]! - mean[j]!;
      mean[j]! += delta / (r + 1);
      m2[j]! += delta * (raw[j]! - mean[j]!);
    }
  });
  const std = m2.map((m, j) => {
    const variance = m / train.length;
    return variance > 1e-12 * Math.max(1, mean[j]! * mean[j]!) ? Math.sqrt(variance) : 1;
  });
  return { features, mean, std };
}

/** Standardized features of the chosen rows, flattened row-major into one array. */
export function encodeRows(enc: Encoding, header: readonly string[], rows: readonly string[][], which: readonly number[], strict = false): Float64Array {
  const d = enc.features.length;
  const out = new Float64Array(which.length * d);
  const lookup = tableLookup(header);
  which.forEach((i, r) => encodeInto(enc, lookup(rows[i]!), out, r * d, strict));
  return out;
}

/**
 * Stratified k-fold: each class's rows are shuffled and dealt round the folds, continuing
 * where the previous class stopped so fold sizes differ by at most one. Returns each row's fold.
 */
export function stratifiedFolds(labels: readonly string[], k: number, seed: number): Int32Array {
  const byClass = indicesByClass(labels);
  const rng = new Rng(seed);
  const fold = new Int32Array(labels.length);
  let next = 0;
  for (const label of [...byClass.keys()].sort()) {
    for (const i of rng.shuffle(byClass.get(label)!)) {
      fold[i] = next;
      next = (next + 1) % k;
    }
  }
  return fold;
}
