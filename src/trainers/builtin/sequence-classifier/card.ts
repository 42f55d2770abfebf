/** The model card (README.md) a version ships with: what it was trained on, how, and how well. */
import type { JobSpec } from '../../protocol.js';
import type { ClassificationReport } from '../evaluation.js';
import type { FoldRecord } from './checkpoint.js';
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
  windows: { train: number; val: number };
  classWeights: number[];
  test: ClassificationReport | null;
  folds: FoldRecord[] | null;
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
  const instances = prep.instanceColumn !== null;
  return [
    `# Sequence classifier: ${prep.labelColumn}`,
    '',
    instances
      ? `Classifies whole recordings (one per value of ${code(prep.instanceColumn!)}) into ${prep.classes.length} classes: each recording is cut into windows of ${prep.sequenceLength} rows (${prep.features.length} features each, stride ${Math.max(1, Math.floor(prep.sequenceLength / 2))}, plus one window ending at its last row), a recording shorter than that is padded after its end with the training mean, and its class probabilities are the mean of its windows' (soft vote). Validation and test figures are per recording.`
      : `Classifies windows of ${prep.sequenceLength} consecutive rows (${prep.features.length} features each) into ${prep.classes.length} classes.`,
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
    row('Row order', `${prep.orderColumn ? `sorted by ${code(prep.orderColumn)}` : 'file order'}${instances ? ' within each recording' : ''}`),
    ...(instances ? [row('Recordings', `${prep.units.length} (${code(prep.instanceColumn!)})`)] : []),
    ...(prep.resolved.auto.length > 0
      ? [row('Auto settings', prep.resolved.auto.map((a) => `${code(a)} → ${String(prep.resolved[a as keyof typeof prep.resolved])}`).join(', '))]
      : []),
    ...(c.test
      ? [
          row(
            'Test set',
            `${prep.test!.id}: ${c.test.count} ${instances ? 'recordings' : 'windows'}, scored once at the end (never used for training, normalization or early stopping)`,
          ),
        ]
      : []),
    row('Features', prep.features.map(code).join(', ')),
    row('Classes', prep.classes.map(code).join(', ')),
    row(
      'Windows',
      `${c.windows.train} training, ${c.windows.val} validation (stride ${Math.max(1, Math.floor(prep.sequenceLength / 2))}, all rows of a window share one label)`,
    ),
    row(
      'Class weights',
      c.classWeights.every((w) => w === 1) ? 'none (balanced)' : c.classWeights.map((w, k) => `${code(prep.classes[k]!)} ${w.toFixed(3)}`).join(', '),
    ),
    ...(hyper.subject_id ? [row('Subject', hyper.subject_id)] : []),
    ...(hyper.session_id ? [row('Session', hyper.session_id)] : []),
    '',
    '## Architecture',
    '',
    `${code(prep.modelType)}: ${ARCHITECTURES[prep.modelType] ?? ''} ${c.params} parameters.`,
    ...(c.warmStart ? ['Warm-started from the previous version: its weights and normalization statistics, with a fresh optimizer.'] : []),
    '',
    row('Hyperparameter', 'Value'),
    row('---', '---'),
    ...Object.entries(hyper).map(([k, v]) => row(code(k), typeof v === 'object' ? JSON.stringify(v) : v)),
    row('backend', c.backend),
    '',
    `## Metrics (epoch ${c.bestEpoch} of ${m.epochs_run}${c.earlyStopped ? ', early stopping' : ''})`,
    '',
    row('Metric', 'Value'),
    row('---', '---:'),
    ...['accuracy', 'val_accuracy', 'val_loss', 'val_auc', 'val_f1', 'val_window_accuracy', 'cv_accuracy', 'cv_accuracy_std', 'test_accuracy', 'test_macro_f1']
      .filter((k) => k === 'accuracy' || k.startsWith('val_a') || m[k] !== undefined)
      .map((k) => row(k, fmt(m[k]))),
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
    ...(c.folds
      ? [
          '## Cross-validation (per held-out unit; the returned model was then trained on all of them)',
          '',
          row('Fold', 'Held out', 'Accuracy', 'Macro F1', 'Best epoch'),
          row('---', '---:', '---:', '---:', '---:'),
          ...c.folds.map((f) => row(f.fold, f.val_units, fmt(f.accuracy), fmt(f.macro_f1), f.best_epoch)),
          '',
        ]
      : []),
    ...(c.test
      ? [
          `## Test set (${c.test.count} ${instances ? 'recordings' : 'windows'}; rows: true, columns: predicted)`,
          '',
          row('', ...c.test.labels.map(code), 'precision', 'recall', 'f1'),
          row('---', ...c.test.labels.map(() => '---:'), '---:', '---:', '---:'),
          ...c.test.confusion_matrix.map((r, k) => {
            const pc = c.test!.per_class[c.test!.labels[k]!]!;
            return row(code(c.test!.labels[k]!), ...r, fmt(pc.precision), fmt(pc.recall), fmt(pc.f1));
          }),
          '',
        ]
      : []),
  ].join('\n');
}
