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
import { loadRocket, windowsAsSeries } from './rocket-learner.js';
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

/** Class probabilities per window [count × n × d] → [count × classes], whatever the model family. */
interface Scorer {
  score(x: Float32Array, count: number): Promise<Float32Array>;
  bytes: number;
  release(): void;
}

async function deepScorer(dir: string, prep: Preprocessing): Promise<Scorer> {
  await initBackend();
  const { model, bytes } = await loadModel(dir);
  const [n, d] = [prep.sequence_length, prep.features.length];
  const inputShape = model.inputs[0]?.shape;
  if (inputShape?.[1] !== n || inputShape?.[2] !== d) {
    model.dispose();
    throw new Error(`model.json expects windows of ${inputShape?.slice(1).join('×')}, preprocessing.json describes ${n}×${d}`);
  }
  return {
    bytes,
    async score(x, count) {
      const output = tf.tidy(() => model.predict(tf.tensor3d(x, [count, n, d])) as tf.Tensor);
      const probs = (await output.data()) as Float32Array;
      output.dispose();
      return probs;
    },
    release: () => model.dispose(),
  };
}

async function rocketScorer(dir: string, prep: Preprocessing): Promise<Scorer> {
  const model = await loadRocket(dir);
  if (model.channels !== prep.features.length || model.classes !== prep.classes.length)
    throw new Error(
      `minirocket.json has ${model.channels} channels and ${model.classes} classes, preprocessing.json ${prep.features.length} and ${prep.classes.length}`,
    );
  return {
    bytes: model.numFeatures * (model.classes + 2) * 4,
    score: async (x) => model.probabilities(windowsAsSeries(x, prep.sequence_length, prep.features.length)),
    release: () => undefined,
  };
}

export async function loadPredictor(dir: string): Promise<Predictor> {
  const prep = await readPreprocessing(dir);
  const [n, d, k] = [prep.sequence_length, prep.features.length, prep.classes.length];
  const labelType = readLabelType(prep.label_type);
  const { score, bytes, release } = prep.model_type === 'minirocket' ? await rocketScorer(dir, prep) : await deepScorer(dir, prep);
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
      const windowProbs = await score(x, windows.length);
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
      if (!disposed) release();
      disposed = true;
    },
  };
}
