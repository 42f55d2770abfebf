/** The model card (README.md) a version ships with: what it was trained on, how, and how well. */
import type { JobSpec } from '../../protocol.js';
import type { Hyper, Prepared } from './prepare.js';

export interface CardInput {
  spec: JobSpec;
  hyper: Hyper;
  prep: Prepared;
  metrics: Record<string, number>;
  confusion: number[][];
  backend: string;
  warmStart: boolean;
  params: number;
  bestEpoch: number;
  earlyStopped: boolean;
}

const ARCHITECTURES: Record<string, string> = {
  original: 'Dense baseline: flatten → dense(64, ReLU) → dropout → dense(32, ReLU) → softmax.',
  enhanced_cnn_lstm:
    'Two 1-D convolutions (16 filters, kernel 3; depthwise-separable when `use_separable`) → max-pool(2) → dropout → LSTM(16) → dropout → softmax.',
  resnet_lstm:
    '1-D convolution stem → two residual blocks (conv → ReLU → conv, added to the input, ReLU) → max-pool(2) → dropout → LSTM(16) → dropout → softmax.',
  transformer:
    'Per-step projection to 16 → sinusoidal positional encoding → 2-head self-attention (learned relative-position bias when `use_relative_pos`) → add & layer norm → feed-forward(32) → add & layer norm → global average pooling → softmax.',
};

const fmt = (v: number | undefined, digits = 4): string => (v === undefined ? '–' : v.toFixed(digits));
const row = (...cells: unknown[]): string => `| ${cells.join(' | ')} |`;

export function modelCard(c: CardInput): string {
  const { spec, hyper, prep, metrics: m } = c;
  const code = (s: string): string => `\`${s}\``;
  const windows = (b: { y: Int32Array }): number => b.y.length;
  return [
    `# Sequence classifier: ${prep.labelColumn}`,
    '',
    `Classifies windows of ${prep.sequenceLength} consecutive rows (${prep.features.length} features each) into ${prep.classes.length} classes.`,
    'Serve it with `loadPredictor` from the sequence-classifier trainer (`predictor.ts`): it applies the saved',
    'normalization from `preprocessing.json` and runs `model.json` + `weights.bin` (TensorFlow.js layers format;',
    'the custom layers are registered by the trainer’s `layers.ts` and `fast-layers.ts`).',
    '',
    '## Data',
    '',
    row('', ''),
    row('---', '---'),
    row('Job', `${spec.job_id} (attempt ${spec.attempt})`),
    row('Trained at', new Date().toISOString()),
    row('Dataset', `${spec.inputs.dataset.id} (${spec.inputs.dataset.files.map((f) => f.filename).join(', ')})`),
    row('Validation', prep.validation),
    row('Label column', code(prep.labelColumn)),
    row('Row order', prep.orderColumn ? `sorted by ${code(prep.orderColumn)}` : 'file order'),
    row('Features', prep.features.map(code).join(', ')),
    row('Classes', prep.classes.map(code).join(', ')),
    row(
      'Windows',
      `${windows(prep.train)} training, ${windows(prep.val)} validation (stride ${Math.max(1, Math.floor(prep.sequenceLength / 2))}, all rows of a window share one label)`,
    ),
    row(
      'Class weights',
      prep.classWeights.every((w) => w === 1) ? 'none (balanced)' : prep.classWeights.map((w, k) => `${code(prep.classes[k]!)} ${w.toFixed(3)}`).join(', '),
    ),
    ...(hyper.subject_id ? [row('Subject', hyper.subject_id)] : []),
    ...(hyper.session_id ? [row('Session', hyper.session_id)] : []),
    '',
    '## Architecture',
    '',
    `${code(prep.modelType)}: ${ARCHITECTURES[prep.modelType]} ${c.params} parameters.`,
    ...(c.warmStart ? ['Warm-started from the previous version: its weights and normalization statistics, with a fresh optimizer.'] : []),
    '',
    row('Hyperparameter', 'Value'),
    row('---', '---'),
    ...Object.entries(hyper).map(([k, v]) => row(code(k), v)),
    row('backend', c.backend),
    '',
    `## Metrics (epoch ${c.bestEpoch} of ${m.epochs_run}${c.earlyStopped ? ', early stopping' : ''})`,
    '',
    row('Metric', 'Value'),
    row('---', '---:'),
    ...['accuracy', 'val_accuracy', 'val_loss', 'val_auc', 'val_f1'].map((k) => row(k, fmt(m[k]))),
    row('training_time_s', fmt(m.training_time_s, 1)),
    row('inference_ms_per_sample', fmt(m.inference_ms_per_sample, 3)),
    row('model_size_bytes', m.model_size_bytes),
    '',
    '## Confusion matrix (validation; rows: true, columns: predicted)',
    '',
    row('', ...prep.classes.map(code)),
    row('---', ...prep.classes.map(() => '---:')),
    ...c.confusion.map((r, k) => row(code(prep.classes[k]!), ...r)),
    '',
  ].join('\n');
}
