/**
 * The end of a run: the final evaluation, the artifacts, the model card and the result event.
 * Every artifact is announced under its file name, because the server re-materialises a
 * version's artifacts into a folder named that way, and loadPredictor reads that folder.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { JobSpec } from '../../protocol.js';
import { log, send } from '../runtime.js';
import { evaluate, perClassMetrics, predictIndices, reportDetails, scoreProbs } from './metrics.js';
import { classificationReport, testMetrics, type ClassificationReport } from '../evaluation.js';
import type { LabelType } from '../labels.js';
import type { Report } from './metrics.js';
import { MODEL_FORMAT, packWeights } from './model.js';
import type { Architecture, ModelJson, TextModel } from './model.js';
import type { Tokenizer } from './tokenizer.js';

export interface EpochMetrics {
  epoch: number;
  step: number;
  values: Record<string, number>;
}

export interface FinishInput {
  spec: JobSpec;
  hyperparameters: Record<string, unknown>;
  architecture: Architecture;
  labels: string[];
  tokenizer: Tokenizer;
  model: TextModel;
  history: EpochMetrics[];
  train: { texts: string[] };
  val: { texts: string[]; x: Int32Array[]; y: Int32Array };
  /** Held-out test set, scored once here with the final model. */
  test: { id: string; texts: string[]; x: Int32Array[]; y: Int32Array } | null;
  labelType: LabelType;
  warmStart: boolean;
  trainingSeconds: number;
  /** What ran the training loop: typescript (fasttext), tfjs, or torch with its version and device. */
  backend: string;
  /** The torch backend's state dict, already in the output folder; null otherwise. */
  torchStateDict: string | null;
  /** The final model's validation probabilities when the torch backend already computed them; null: predict here. */
  valProbs: Float32Array | null;
}

/** The protocol drops a result with more than 200 metrics; per-class entries get what the rest leave. */
const MAX_METRICS = 200;

/** Texts the inference timing runs on. */
const TIMING_SAMPLE = 64;

/** Batch throughput of the whole path a request takes (normalise, tokenize, forward), best of two runs. */
function inferenceMs(model: TextModel, tokenizer: Tokenizer, texts: string[]): number {
  let best = Infinity;
  for (let run = 0; run < 2; run++) {
    const t0 = performance.now();
    model.predict(texts.map((t) => model.encode(tokenizer, t)));
    best = Math.min(best, (performance.now() - t0) / texts.length);
  }
  return best;
}

const cell = (s: unknown): string => String(s).replace(/\|/g, '\\|').replace(/`/g, "'");
const row = (...cells: unknown[]): string => `| ${cells.join(' | ')} |`;
const fmt = (v: number | undefined, digits = 4): string => (v === undefined ? '–' : v.toFixed(digits));

function modelCard(f: FinishInput, metrics: Record<string, number>, report: Report | null, test: ClassificationReport | null): string {
  const { spec, labels, model } = f;
  const val = spec.inputs.validation_dataset
    ? `dataset ${spec.inputs.validation_dataset.id}`
    : `${Number(f.hyperparameters.validation_split) * 100}% stratified split (seed ${String(f.hyperparameters.seed)})`;
  const lines = [
    `# Text classifier (${f.architecture})`,
    '',
    f.architecture === 'fasttext'
      ? "fastText-style model: the mean of the embeddings of a text's words, word bigrams and character 3-5-grams, then a softmax layer."
      : 'A small transformer encoder (sinusoidal positions, pre-LN self-attention blocks, mean pooling) with a softmax layer.',
    'Texts are NFKC-normalised, lower-cased, stripped of invisible format characters, and Cyrillic/Greek look-alike letters inside Latin words are',
    'folded to Latin, then split into words; the vocabulary (`tokenizer.json`) was fitted on the training split only.',
    'Files: `model.json` (architecture, sizes, labels, weight manifest), `weights.bin` (float32), `tokenizer.json`; load them with `loadPredictor`.',
    ...(f.torchStateDict ? ['`model.pt` holds the same weights as a PyTorch state dict (named as in `weights.bin`, kernels [in, out]).'] : []),
    '',
    '## Training',
    '',
    row('', ''),
    row('---', '---'),
    row('Job', `${spec.job_id} (attempt ${spec.attempt})`),
    row('Dataset', `${spec.inputs.dataset.id} (${spec.inputs.dataset.files.map((x) => cell(x.filename)).join(', ')})`),
    row('Validation', val),
    row('Warm start', f.warmStart ? 'yes: tokenizer and weights of the previous version' : 'no'),
    row('Labels', labels.map((l) => `\`${cell(l)}\``).join(', ')),
    row('Texts', `${f.train.texts.length} training, ${f.val.texts.length} validation`),
    row(
      'Vocabulary',
      `${f.tokenizer.size} tokens (${f.tokenizer.json.words.length} words, ${f.tokenizer.json.bigrams.length} bigrams, ${f.tokenizer.json.ngrams.length} n-grams)`,
    ),
    row('Trained with', cell(f.backend)),
    row(
      'Network',
      Object.entries(model.config)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ),
    ...Object.entries(f.hyperparameters).map(([k, v]) => row(`\`${k}\``, cell(v))),
    '',
    '## Metrics',
    '',
    row('Metric', 'Value'),
    row('---', '---:'),
    ...['accuracy', 'loss', 'val_accuracy', 'val_f1', 'val_loss']
      .filter((k) => k in metrics)
      .map((k) => row(k === 'val_f1' ? 'val_f1 (macro)' : k, fmt(metrics[k]))),
    row('training_time_s', fmt(metrics.training_time_s, 2)),
    row('inference_ms_per_sample', fmt(metrics.inference_ms_per_sample, 3)),
    row('model_size_bytes', metrics.model_size_bytes),
    '',
    ...(test ? [`Test set (dataset ${f.test!.id}, ${test.count} texts): accuracy ${fmt(test.accuracy)}, macro F1 ${fmt(test.macro_f1)}.`, ''] : []),
  ];
  if (report) {
    lines.push('## Per class (validation)', '', row('Label', 'Precision', 'Recall', 'F1', 'Support'), row('---', '---:', '---:', '---:', '---:'));
    labels.forEach((l, k) => {
      const c = report.per_class[k]!;
      lines.push(row(`\`${cell(l)}\``, fmt(c.precision), fmt(c.recall), fmt(c.f1), c.support));
    });
    lines.push(
      '',
      '## Confusion matrix (validation; rows: true label, columns: predicted)',
      '',
      row('', ...labels.map((l) => `\`${cell(l)}\``)),
      row('---', ...labels.map(() => '---:')),
    );
    labels.forEach((l, k) => lines.push(row(`\`${cell(l)}\``, ...report.confusion[k]!)));
    lines.push('');
  }
  return lines.join('\n');
}

export async function finish(f: FinishInput): Promise<void> {
  const { spec, model, labels, tokenizer } = f;
  const out = (name: string): string => path.join(spec.output_dir, name);
  const artifact = async (name: string, content: string | Buffer, format: string): Promise<number> => {
    await writeFile(out(name), content);
    send({ type: 'artifact', name, path: out(name), format });
    return (await stat(out(name))).size;
  };

  await mkdir(spec.output_dir, { recursive: true });
  const { manifest, bytes } = packWeights(model.weights());
  // Nothing run-specific (no time, no job id) in the model files: same seed and data, same bytes.
  const modelJson: ModelJson = {
    format: MODEL_FORMAT,
    version: 1,
    architecture: f.architecture,
    config: model.config,
    labels,
    label_type: f.labelType,
    tokenizer: 'tokenizer.json',
    weights_file: 'weights.bin',
    weights: manifest,
    hyperparameters: f.hyperparameters,
  };
  let size = await artifact('model.json', JSON.stringify(modelJson, null, 1) + '\n', 'json');
  size += await artifact('weights.bin', bytes, 'binary');
  size += await artifact('tokenizer.json', JSON.stringify(tokenizer.json) + '\n', 'json');
  // Beside the served files, not counted in model_size_bytes: that compares across backends.
  if (f.torchStateDict) send({ type: 'artifact', name: path.basename(f.torchStateDict), path: f.torchStateDict, format: 'pytorch-state-dict' });

  const last = f.history[f.history.length - 1]!;
  // 64 texts time the path well enough; all of a large validation set took longer than the training
  // itself with the torch backend (3 tfjs passes over 200 texts: 10.7 s after 1 s of epochs).
  const sample = (f.val.texts.length > 0 ? f.val.texts : f.train.texts).slice(0, TIMING_SAMPLE);
  const metrics: Record<string, number> = {
    loss: last.values.loss!,
    accuracy: last.values.accuracy!,
    training_time_s: f.trainingSeconds,
    inference_ms_per_sample: inferenceMs(model, tokenizer, sample),
    model_size_bytes: size,
    vocab_size: tokenizer.size,
    train_rows: f.train.texts.length,
    val_rows: f.val.texts.length,
    classes: labels.length,
    epochs: last.epoch,
  };
  let report: Report | null = null;
  if (f.val.y.length > 0) {
    const v = f.valProbs ? scoreProbs(f.valProbs, f.val.y, labels.length) : evaluate(model, f.val.x, f.val.y, labels.length);
    report = v.report;
    Object.assign(metrics, { val_loss: v.loss, val_accuracy: v.report.accuracy, val_f1: v.report.macro_f1 });
    const perClass = perClassMetrics(labels, v.report, MAX_METRICS - Object.keys(metrics).length - (f.test ? 2 : 0));
    if (perClass.omitted > 0)
      log('warn', `per-class metrics of ${perClass.omitted} classes are only in details and metrics.json (the result holds at most ${MAX_METRICS} metrics)`);
    Object.assign(metrics, perClass.values);
  } else {
    log('warn', 'no validation texts: val_* metrics are not reported');
  }
  const test = f.test ? classificationReport(f.test.y, predictIndices(model, f.test.x, labels.length), labels) : null;
  if (test) Object.assign(metrics, testMetrics(test));
  const details: Record<string, unknown> = {
    architecture: f.architecture,
    backend: f.backend,
    warm_start: f.warmStart,
    ...(report ? reportDetails(labels, report) : { labels }),
    ...(test ? { test } : {}),
  };

  await artifact('README.md', modelCard(f, metrics, report, test), 'markdown');
  const testPart = test ? { test } : {};
  await artifact('metrics.json', JSON.stringify({ final: metrics, details, epochs: f.history, ...testPart }, null, 1) + '\n', 'json');
  send({ type: 'result', metrics, details });
}
