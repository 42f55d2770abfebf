/**
 * Serving a text-classifier version in-process: `loadPredictor(dir)` reads model.json,
 * weights.bin and tokenizer.json (files named by their artifact names) and applies exactly the
 * training-time preprocessing. Also the reading side used by warm starts. tfjs is imported only
 * for transformer models, so serving a fasttext model never loads it.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Rng } from '../runtime.js';
import { FastText } from './fasttext.js';
import type { FastTextConfig } from './fasttext.js';
import { ARCHITECTURES, DEFAULT_SIZES, MODEL_FORMAT, unpackWeights } from './model.js';
import type { Architecture, ModelJson, TextModel, Weights } from './model.js';
import { Tokenizer } from './tokenizer.js';
import type { TransformerConfig } from './transformer.js';
import type { Prediction, Predictor } from '../../predictor.js';
import { readLabelType, typedLabel } from '../labels.js';

/** A fresh network of either architecture; weights are random until set. */
export async function createModel(architecture: Architecture, config: Record<string, number>, learningRate: number, rng: Rng): Promise<TextModel> {
  if (architecture === 'fasttext') return new FastText(config as FastTextConfig & Record<string, number>, learningRate, rng);
  const { Transformer } = await import('./transformer.js');
  return new Transformer(config as TransformerConfig & Record<string, number>, learningRate, rng);
}

export interface ModelDir {
  model: ModelJson;
  tokenizer: Tokenizer;
  weights: Weights;
  bytes: number;
}

/** Errors name the folder and the file, since they end up in a job log or an HTTP 500. */
export async function readModelDir(dir: string): Promise<ModelDir> {
  const read = async (name: string): Promise<Buffer> => {
    // Names come from model.json: never let one step outside the folder.
    if (name !== path.basename(name)) throw new Error(`${dir}: model.json names "${name}", which is not a plain file name`);
    try {
      return await readFile(path.join(dir, name));
    } catch (err) {
      throw new Error(`${dir}: cannot read ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  };
  const parse = (buf: Buffer, name: string): unknown => {
    try {
      return JSON.parse(buf.toString('utf8'));
    } catch (err) {
      throw new Error(`${dir}: ${name} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  };
  const modelBuf = await read('model.json');
  const model = parse(modelBuf, 'model.json') as ModelJson;
  const ok =
    model?.format === MODEL_FORMAT &&
    model.version === 1 &&
    ARCHITECTURES.includes(model.architecture) &&
    Array.isArray(model.labels) &&
    model.labels.length >= 2 &&
    model.labels.every((l) => typeof l === 'string') &&
    typeof model.tokenizer === 'string' &&
    typeof model.weights_file === 'string' &&
    Array.isArray(model.weights) &&
    !!model.config &&
    typeof model.config === 'object';
  if (!ok) throw new Error(`${dir}: model.json is not a ${MODEL_FORMAT} version 1 model`);
  const sizes = ['vocab', 'classes', ...Object.keys(DEFAULT_SIZES[model.architecture]).filter((k) => k !== 'dropout')];
  const bad = sizes.filter((k) => !Number.isInteger(model.config[k]) || model.config[k]! < 1 || model.config[k]! > 1e8);
  if (bad.length > 0) throw new Error(`${dir}: model.json config has no valid ${bad.join(', ')}`);
  const tokBuf = await read(model.tokenizer);
  const tokenizer = Tokenizer.fromJson(parse(tokBuf, model.tokenizer), `${dir}/${model.tokenizer}`);
  const weightsBuf = await read(model.weights_file);
  const weights = unpackWeights(model.weights, weightsBuf, `${dir}/${model.weights_file}`);
  if (model.config.vocab !== tokenizer.size || model.config.classes !== model.labels.length) {
    throw new Error(
      `${dir}: model.json (vocab ${model.config.vocab}, ${model.config.classes} classes) does not match its tokenizer (${tokenizer.size}) or labels (${model.labels.length})`,
    );
  }
  return { model, tokenizer, weights, bytes: modelBuf.byteLength + tokBuf.byteLength + weightsBuf.byteLength };
}

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** An instance is a string or `{ text: string }` (other keys, such as a label, are ignored). */
export function instanceText(value: unknown, index: number): string {
  let text: unknown = value;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    if (!('text' in value)) throw new Error(`instances[${index}] is an object without a "text" field`);
    text = (value as { text: unknown }).text;
    if (typeof text !== 'string') throw new Error(`instances[${index}].text must be a string, got ${describe(text)}`);
  } else if (typeof value !== 'string') {
    throw new Error(`instances[${index}] must be a string or an object with a "text" string, got ${describe(value)}`);
  }
  if ((text as string).trim() === '') throw new Error(`instances[${index}] has an empty text`);
  return text as string;
}

/** Texts per forward pass in `predict`; between passes the event loop gets a turn. */
const CHUNK = 128;

export async function loadPredictor(dir: string): Promise<Predictor> {
  const loaded = await readModelDir(dir);
  const { labels, architecture, config } = loaded.model;
  const labelType = readLabelType(loaded.model.label_type);
  // The learning rate and the PRNG only matter for training; the weights are set right away.
  const model = await createModel(architecture, config, 0, new Rng(0));
  model.setWeights(loaded.weights);
  let disposed = false;
  return {
    bytes: loaded.bytes,
    async predict(instances: unknown[]): Promise<Prediction[]> {
      if (disposed) throw new Error('predictor was disposed');
      if (!Array.isArray(instances)) throw new Error(`instances must be an array, got ${describe(instances)}`);
      // Validate everything first: one bad instance fails the request before any work is done.
      const texts = instances.map((v, i) => instanceText(v, i));
      const c = labels.length;
      const out: Prediction[] = [];
      for (let s = 0; s < texts.length; s += CHUNK) {
        // A turn of the event loop between chunks: a big request must not stall the server's other requests.
        if (s > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        const chunk = texts.slice(s, s + CHUNK);
        const probs = model.predict(chunk.map((t) => model.encode(loaded.tokenizer, t)));
        chunk.forEach((_, n) => {
          const probabilities: Record<string, number> = {};
          let best = 0;
          for (let k = 0; k < c; k++) {
            probabilities[labels[k]!] = probs[n * c + k]!;
            if (probs[n * c + k]! > probs[n * c + best]!) best = k;
          }
          out.push({ label: typedLabel(labels[best]!, labelType), probabilities });
        });
      }
      return out;
    },
    dispose(): void {
      disposed = true;
      model.dispose();
    },
  };
}
