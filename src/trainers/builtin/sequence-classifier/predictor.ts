/**
 * In-process inference for `POST /v1/models/{name}/predict`: loads a version's artifacts
 * (files named by artifact name) and turns raw rows into class probabilities, applying the
 * saved normalization. Errors thrown by predict() are about the request (the server maps
 * them to 400), so their messages say what was wrong with which instance.
 */
import { loadModel, readPreprocessing } from './artifacts.js';
import type { Preprocessing } from './artifacts.js';
import { initBackend, tf } from './tf.js';
import type { Prediction, Predictor } from '../../predictor.js';

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function numberOf(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && NUMBER.test(v.trim())) return Number(v.trim());
  return undefined;
}

const isRow = (v: unknown): boolean => Array.isArray(v) || (v !== null && typeof v === 'object');

/**
 * Standardized values of one instance into `out`. A row is an object keyed by feature name
 * (other keys, such as the timestamp or the label, are ignored) or an array in feature order.
 */
function encodeInstance(p: Preprocessing, instance: unknown, at: number, out: Float32Array, offset: number): void {
  const n = p.sequence_length;
  const d = p.features.length;
  let rows = instance;
  // One-row windows: a bare row (an object, or an array of numbers) is accepted as well as [row].
  if (n === 1 && isRow(instance) && !(Array.isArray(instance) && instance.length === 1 && isRow(instance[0]))) {
    if (!Array.isArray(instance) || instance.every((v) => !isRow(v))) rows = [instance];
  }
  if (!Array.isArray(rows)) throw new Error(`instance ${at}: expected an array of ${n} rows, got ${rows === null ? 'null' : typeof rows}`);
  if (rows.length !== n) throw new Error(`instance ${at}: expected ${n} rows (sequence_length), got ${rows.length}`);
  rows.forEach((row, t) => {
    const where = `instance ${at}, row ${t}`;
    let values: unknown[];
    if (Array.isArray(row)) {
      if (row.length !== d) throw new Error(`${where}: expected ${d} values (${p.features.join(', ')}), got ${row.length}`);
      values = row;
    } else if (row !== null && typeof row === 'object') {
      const missing = p.features.filter((f) => !(f in row));
      if (missing.length > 0) throw new Error(`${where}: missing features ${missing.join(', ')}`);
      values = p.features.map((f) => (row as Record<string, unknown>)[f]);
    } else {
      throw new Error(`${where}: expected an object of features or an array of ${d} numbers, got ${row === null ? 'null' : typeof row}`);
    }
    values.forEach((v, j) => {
      const x = numberOf(v);
      if (x === undefined) throw new Error(`${where}: feature ${p.features[j]} is not a finite number (${JSON.stringify(v) ?? String(v)})`);
      out[offset + t * d + j] = (x - p.normalization.mean[j]!) / p.normalization.std[j]!;
    });
  });
}

export async function loadPredictor(dir: string): Promise<Predictor> {
  await initBackend();
  const prep = await readPreprocessing(dir);
  const { model, bytes } = await loadModel(dir);
  const [n, d, k] = [prep.sequence_length, prep.features.length, prep.classes.length];
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
      const x = new Float32Array(instances.length * n * d);
      instances.forEach((instance, i) => encodeInstance(prep, instance, i, x, i * n * d));
      const output = tf.tidy(() => model.predict(tf.tensor3d(x, [instances.length, n, d])) as tf.Tensor);
      const probs = await output.data();
      output.dispose();
      return instances.map((_, i) => {
        const probabilities: Record<string, number> = {};
        let best = 0;
        for (let c = 0; c < k; c++) {
          probabilities[prep.classes[c]!] = probs[i * k + c]!;
          if (probs[i * k + c]! > probs[i * k + best]!) best = c;
        }
        return { label: prep.classes[best]!, probabilities };
      });
    },
    dispose(): void {
      if (!disposed) model.dispose();
      disposed = true;
    },
  };
}
