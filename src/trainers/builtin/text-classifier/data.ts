/**
 * JSONL in, labelled texts out, and the train/validation split. The dataset was validated
 * when it was created, so a line that does not parse here is skipped with a count rather than
 * failing the job; the field names come from the dataset options, as in the validator.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { SpecDataset } from '../../protocol.js';
import { TrainerError, log } from '../runtime.js';
import type { Rng } from '../runtime.js';
import { stratifiedSplit } from '../linear-classifier/data.js';

export const DATASET_KIND = 'text-classification-jsonl';

export interface Examples {
  texts: string[];
  labels: string[];
  /** Lines that were not a JSON object with a non-empty text and a label. */
  skipped: number;
  /** Every label was a JSON integer (3, not "3"): predict answers them as integers again. */
  integerLabels?: boolean;
}

export function fieldsOf(ds: SpecDataset): { textField: string; labelField: string } {
  if (ds.kind !== DATASET_KIND) throw new TrainerError(`dataset ${ds.id} is of kind ${ds.kind}; text-classifier needs ${DATASET_KIND}`);
  const opt = (key: string, fallback: string): string => {
    const v = ds.options?.[key];
    return typeof v === 'string' && v !== '' ? v : fallback;
  };
  return { textField: opt('text_field', 'text'), labelField: opt('label_field', 'label') };
}

/** Labels may be strings or integers in the file; the model's classes are their string forms. */
function labelOf(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() === '' ? null : value.trim();
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  return null;
}

export async function readExamples(ds: SpecDataset): Promise<Examples> {
  const { textField, labelField } = fieldsOf(ds);
  const out: Examples = { texts: [], labels: [], skipped: 0, integerLabels: true };
  if (ds.files.length === 0) throw new TrainerError(`dataset ${ds.id} has no files`);
  for (const file of ds.files) {
    const lines = createInterface({ input: createReadStream(file.path, 'utf8'), crlfDelay: Infinity });
    let first = true;
    try {
      for await (let line of lines) {
        if (first && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
        first = false;
        if (line.trim() === '') continue;
        let obj: Record<string, unknown> | null = null;
        try {
          const parsed: unknown = JSON.parse(line);
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) obj = parsed as Record<string, unknown>;
        } catch {
          // counted below
        }
        const text = obj?.[textField];
        const raw = obj?.[labelField];
        const label = labelOf(raw);
        if (typeof text !== 'string' || text.trim() === '' || label === null) {
          out.skipped++;
          continue;
        }
        out.texts.push(text);
        out.labels.push(label);
        if (typeof raw !== 'number') out.integerLabels = false;
      }
    } catch (err) {
      throw new TrainerError(`${file.filename}: cannot read: ${(err as Error).message}`);
    }
  }
  if (out.texts.length === 0) throw new TrainerError(`dataset ${ds.id} has no usable rows (fields "${textField}" and "${labelField}")`);
  return out;
}

/**
 * The held-out test set (issue #18): same kind and fields as the training data, read in full
 * and scored once at the end. Texts of a label the model does not know are skipped, and said so.
 */
export async function readTestExamples(ds: SpecDataset, labels: readonly string[]): Promise<Examples> {
  if (ds.kind !== DATASET_KIND)
    throw new TrainerError(`test dataset ${ds.id} is of kind ${ds.kind}; text-classifier needs ${DATASET_KIND} like the training data`);
  let all: Examples;
  try {
    all = await readExamples(ds);
  } catch (err) {
    throw new TrainerError(`test dataset: ${(err as Error).message}; give it the same text and label fields as the training data`, { cause: err });
  }
  if (all.skipped > 0) log('warn', `test dataset: skipped ${all.skipped} lines without a usable text and label`);
  const known = new Set(labels);
  const keep = all.labels.flatMap((l, i) => (known.has(l) ? [i] : []));
  if (keep.length < all.labels.length) {
    const unseen = [...new Set(all.labels.filter((l) => !known.has(l)))].sort();
    log('warn', `test dataset: skipped ${all.labels.length - keep.length} texts of labels not in the training data (${unseen.join(', ')})`);
  }
  if (keep.length === 0) throw new TrainerError(`test dataset ${ds.id} has no texts of a label the model was trained on (${labels.join(', ')})`);
  return pick(all, keep);
}

export interface Split {
  train: Examples;
  val: Examples;
}

const pick = (ex: Examples, which: readonly number[]): Examples => ({
  texts: which.map((i) => ex.texts[i]!),
  labels: which.map((i) => ex.labels[i]!),
  skipped: 0,
});

/**
 * The same stratified split as the linear classifier: it depends on the labels and the seed
 * only, so a test (or a user) can recompute which rows were held out.
 */
export function splitExamples(all: Examples, fraction: number, seed: number): Split {
  const { train, val } = stratifiedSplit(all.labels, fraction, seed);
  return { train: pick(all, train), val: pick(all, val) };
}

export { stratifiedSplit };

/** The shuffle stream's salt (seed ^ SHUFFLE_SALT): initialisation and split draw from other streams. */
export const SHUFFLE_SALT = 0x5bd1e995;

/** Texts sorted by length within windows of this many batches, so a batch pads little but stays random. */
const BUCKET_WINDOW = 16;

/**
 * One epoch's batches of row indices. The shuffle starts from the identity, so the order
 * depends on the PRNG state alone (which is what a checkpoint stores). With `lengths`, each
 * window of shuffled rows is sorted by length before it is cut, and the batches are shuffled
 * again: a transformer's batch costs as much as its longest text times the batch size.
 */
export function epochBatches(n: number, batchSize: number, lengths: readonly number[] | null, rng: Rng): number[][] {
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const batches: number[][] = [];
  const window = lengths ? batchSize * BUCKET_WINDOW : n;
  for (let w = 0; w < n; w += window) {
    const part = order.slice(w, w + window);
    // Array.prototype.sort is stable, so equal lengths keep their shuffled order.
    if (lengths) part.sort((a, b) => lengths[a]! - lengths[b]!);
    for (let b = 0; b < part.length; b += batchSize) batches.push(part.slice(b, b + batchSize));
  }
  return lengths ? rng.shuffle(batches) : batches;
}
