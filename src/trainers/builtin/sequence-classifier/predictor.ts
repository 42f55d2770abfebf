/**
 * In-process inference for `POST /v1/models/{name}/predict`: loads a version's artifacts
 * (files named by artifact name) and turns raw rows into class probabilities, applying the
 * saved normalization. An instance is one window's rows (stream mode; a longer recording is
 * windowed and voted) or one whole recording of any length (instance mode, preprocessing.json
 * instance_column), scored as training scored recordings. Errors thrown by predict() are about the request (the server maps
 * them to 400), so their messages say what was wrong with which instance.
 */
import { loadModel, readPreprocessing } from './artifacts.js';
import type { Preprocessing } from './artifacts.js';
import { initBackend, tf } from './tf.js';
import { instanceWindows, vote } from './units.js';
import { readLabelType, typedLabel } from '../labels.js';
import type { Prediction, Predictor } from '../../predictor.js';

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function numberOf(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && NUMBER.test(v.trim())) return Number(v.trim());
  return undefined;
}

const isRow = (v: unknown): boolean => Array.isArray(v) || (v !== null && typeof v === 'object');
const isMissing = (v: unknown): boolean => v === null || v === undefined || (typeof v === 'string' && v.trim() === '');

/**
 * One instance's rows, standardized: [rows × features]. A row is an object keyed by feature
 * name (other keys, such as the timestamp or the label, are ignored) or an array in feature
 * order. A missing value (null, an empty string, an absent key) becomes the training mean (0
 * once standardized), as in training, and is counted; a value present but not a number is an error.
 */
function encodeRows(p: Preprocessing, instance: unknown, at: number): { values: Float32Array; rows: number; filled: number } {
  const n = p.sequence_length;
  const d = p.features.length;
  let rows = instance;
  // One-row windows: a bare row (an object, or an array of numbers) is accepted as well as [row].
  if (n === 1 && isRow(instance) && !(Array.isArray(instance) && instance.length === 1 && isRow(instance[0]))) {
    if (!Array.isArray(instance) || instance.every((v) => !isRow(v))) rows = [instance];
  }
  const instances = Boolean(p.instance_column);
  const expected = instances ? 'an array of rows (one recording)' : `an array of ${n} rows`;
  if (!Array.isArray(rows)) throw new Error(`instance ${at}: expected ${expected}, got ${rows === null ? 'null' : typeof rows}`);
  // Stream mode: a window of sequence_length rows, or a longer recording (windows + vote); instance mode: any length.
  if (rows.length === 0 || (!instances && rows.length < n))
    throw new Error(`instance ${at}: expected ${instances ? 'at least 1 row' : `${n} rows (sequence_length) or more`}, got ${rows.length}`);
  const values = new Float32Array(rows.length * d);
  let filled = 0;
  rows.forEach((row, t) => {
    const where = `instance ${at}, row ${t}`;
    let cells: unknown[];
    if (Array.isArray(row)) {
      if (row.length !== d) throw new Error(`${where}: expected ${d} values (${p.features.join(', ')}), got ${row.length}`);
      cells = row;
    } else if (row !== null && typeof row === 'object') {
      cells = p.features.map((f) => (row as Record<string, unknown>)[f]);
    } else {
      throw new Error(`${where}: expected an object of features or an array of ${d} numbers, got ${row === null ? 'null' : typeof row}`);
    }
    cells.forEach((v, j) => {
      if (isMissing(v)) {
        filled++;
        return; // 0: the training mean after standardization
      }
      const x = numberOf(v);
      if (x === undefined) throw new Error(`${where}: feature ${p.features[j]} is not a finite number (${JSON.stringify(v) ?? String(v)})`);
      values[t * d + j] = (x - p.normalization.mean[j]!) / p.normalization.std[j]!;
    });
  });
  return { values, rows: rows.length, filled };
}

export async function loadPredictor(dir: string): Promise<Predictor> {
  await initBackend();
  const prep = await readPreprocessing(dir);
  const { model, bytes } = await loadModel(dir);
  const [n, d, k] = [prep.sequence_length, prep.features.length, prep.classes.length];
  const labelType = readLabelType(prep.label_type);
  const inputShape = model.inputs[0]?.shape;
  if (inputShape?.[1] !== n || inputShape?.[2] !== d) {
    model.dispose();
    throw new Error(`model.json expects windows of ${inputShape?.slice(1).join('×')}, preprocessing.json describes ${n}×${d}`);
  }
  let disposed = false;
  return {
    bytes,
    async predict(instances: unknown[]): Promise<Prediction[]> {
      if (disposed) throw new Error('predictor disposed');
      if (!Array.isArray(instances)) throw new Error('instances must be an array');
      if (instances.length === 0) return [];
      // Every instance cut into windows the way training cut a recording (units.ts
      // instanceWindows: a short one padded, a long one windowed), scored together, then the
      // windows' probabilities averaged per instance.
      const encoded = instances.map((instance, i) => encodeRows(prep, instance, i));
      const windows = encoded.flatMap((e, g) => instanceWindows(0, e.rows, n, '').map((w) => ({ ...w, g })));
      const x = new Float32Array(windows.length * n * d);
      windows.forEach((w, i) => x.set(encoded[w.g]!.values.subarray(w.start * d, (w.start + (w.length ?? n)) * d), i * n * d));
      const output = tf.tidy(() => model.predict(tf.tensor3d(x, [windows.length, n, d])) as tf.Tensor);
      const windowProbs = (await output.data()) as Float32Array;
      output.dispose();
      const probs = vote(
        windowProbs,
        Int32Array.from(windows, (w) => w.g),
        instances.length,
        k,
      );
      return encoded.map((e, i) => {
        const probabilities: Record<string, number> = {};
        let best = 0;
        for (let c = 0; c < k; c++) {
          probabilities[prep.classes[c]!] = probs[i * k + c]!;
          if (probs[i * k + c]! > probs[i * k + best]!) best = c;
        }
        return { label: typedLabel(prep.classes[best]!, labelType), probabilities, ...(e.filled > 0 ? { filled: e.filled } : {}) };
      });
    },
    dispose(): void {
      if (!disposed) model.dispose();
      disposed = true;
    },
  };
}
