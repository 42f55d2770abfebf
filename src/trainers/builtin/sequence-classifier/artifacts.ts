/**
 * The files a trained model is made of, and tensors as JSON. The server re-materialises
 * artifacts into a folder named by artifact name, so every name here is also the file name.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import './fast-layers.js'; // registers the custom layers a model.json may name
import './layers.js';
import type { Normalization } from './data.js';
import type { LabelType } from '../labels.js';
import type { ResolvedModel } from './auto.js';
import { tf } from './tf.js';

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';
export const PREPROCESSING_FILE = 'preprocessing.json';
export const PREPROCESSING_FORMAT = 'trainyard.sequence-classifier.preprocessing';

/**
 * Everything needed to turn raw rows into the model's input, and its output into labels.
 * Version 2 (issue #18) adds the optional fields below `session_id`; a version 1 file (stream
 * mode, string labels) still loads and means what it meant.
 */
export interface Preprocessing {
  format: typeof PREPROCESSING_FORMAT;
  version: 1 | 2;
  model_type: ResolvedModel;
  label_column: string;
  /** Column the rows were sorted by (excluded from the features), or null for file order. */
  order_column: string | null;
  features: string[];
  sequence_length: number;
  stride: number;
  normalization: Normalization;
  /** Output index → label. */
  classes: string[];
  subject_id?: string;
  session_id?: string;
  /** Instance mode: the column that named recordings; predict then takes one recording per instance. */
  instance_column?: string | null;
  /** How a recording shorter than sequence_length is padded: rows of the training mean after its end. */
  padding?: 'mean';
  /** How a recording's windows are combined: the mean of their probabilities. */
  aggregation?: 'mean_probability';
  label_type?: LabelType;
  /** The settings given as "auto" and what they resolved to. */
  auto?: Record<string, unknown>;
}

export async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  // Write-then-rename: a kill mid-write must not leave a truncated file under the real name.
  await writeFile(`${file}.tmp`, data);
  await rename(`${file}.tmp`, file);
}

/**
 * tfjs layers format (what tf.loadLayersModel reads): model.json holds the topology and the
 * weights manifest, weights.bin the float32 weights. Saved by hand because `file://` needs
 * tfjs-node. Returns the size of the weights in bytes.
 */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<number> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved?.weightData || !saved.weightSpecs) throw new Error('tfjs returned no weights to save');
  const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(saved.weightData));
  const json = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: null,
    modelTopology: saved.modelTopology,
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: saved.weightSpecs }],
  };
  await writeAtomic(path.join(dir, WEIGHTS_FILE), weights);
  await writeAtomic(path.join(dir, MODEL_FILE), JSON.stringify(json));
  return weights.byteLength;
}

/** Loads model.json + weights.bin from a folder; `bytes` is the size of the weights. */
export async function loadModel(dir: string): Promise<{ model: tf.LayersModel; bytes: number }> {
  const json = JSON.parse(await readFile(path.join(dir, MODEL_FILE), 'utf8')) as {
    modelTopology?: object;
    weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  };
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) throw new Error(`${MODEL_FILE} is not a tfjs layers model`);
  const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
  const paths = json.weightsManifest.flatMap((group) => group.paths);
  // Shards in manifest order, by base name only: the folder is the only place weights come from.
  const buffers = await Promise.all(paths.map((p) => readFile(path.join(dir, path.basename(p)))));
  const weightData = tf.io.CompositeArrayBuffer.join(buffers.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer));
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData }));
  return { model, bytes: weightData.byteLength };
}

export async function readPreprocessing(dir: string): Promise<Preprocessing> {
  const p = JSON.parse(await readFile(path.join(dir, PREPROCESSING_FILE), 'utf8')) as Preprocessing;
  const ok =
    p?.format === PREPROCESSING_FORMAT &&
    Array.isArray(p.features) &&
    Array.isArray(p.classes) &&
    Number.isInteger(p.sequence_length) &&
    p.normalization?.mean?.length === p.features.length &&
    p.normalization?.std?.length === p.features.length;
  if (!ok) throw new Error(`${PREPROCESSING_FILE} is not sequence-classifier preprocessing`);
  return p;
}

export interface EncodedTensor {
  shape: number[];
  /** float32, little-endian, base64. */
  data: string;
}

export function encodeTensors(tensors: readonly tf.Tensor[]): EncodedTensor[] {
  return tensors.map((t) => {
    const values = t.dataSync() as Float32Array;
    return { shape: [...t.shape], data: Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64') };
  });
}

export function decodeTensors(encoded: readonly EncodedTensor[]): tf.Tensor[] {
  return encoded.map((e) => {
    const bytes = Buffer.from(e.data, 'base64');
    const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    return tf.tensor(values, e.shape, 'float32');
  });
}
