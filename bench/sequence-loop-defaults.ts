/**
 * Issue #18: the sequence-classifier training loop's defaults on real recordings. Trains the
 * deep architectures through buildModel + trainLoop directly (whole recordings as windows, so
 * the CSV windowing is out of the picture) on a UEA dataset exported from aeon, once with the
 * old defaults (30 epochs, patience 5, constant rate) and once with the new ones (100 epochs,
 * patience auto, min_epochs 10, warmup_cosine), and prints per-recording test accuracy over
 * seeds.
 *
 * Export the data first (aeon is in .venv-bench; nothing is downloaded):
 *   .venv-bench/bin/python -c "from aeon.datasets import load_basic_motions as l; import json; \
 *     json.dump({s: dict(zip(('x','y'), (lambda X, y: (X.tolist(), [str(v) for v in y]))(*l(split=s)))) \
 *     for s in ('train','test')}, open('/tmp/basic_motions.json','w'))"
 *   npx tsx bench/sequence-loop-defaults.ts /tmp/basic_motions.json [arch,...] [seeds] [config,...]
 */
import { readFileSync } from 'node:fs';
import type { ProgressReporter } from '../src/trainers/builtin/runtime.js';
import { Rng, StopSignal } from '../src/trainers/builtin/runtime.js';
import { buildModel, MODEL_TYPES } from '../src/trainers/builtin/sequence-classifier/models.js';
import type { ModelType } from '../src/trainers/builtin/sequence-classifier/models.js';
import { initBackend } from '../src/trainers/builtin/sequence-classifier/tf.js';
import { evaluate, resolvePatience, trainLoop } from '../src/trainers/builtin/sequence-classifier/train.js';
import type { Batches, TrainConfig } from '../src/trainers/builtin/sequence-classifier/train.js';

type Split = { x: number[][][]; y: string[] }; // x: recording × channel × step, as aeon gives it

const CONFIGS: Record<string, (seed: number) => TrainConfig> = {
  old: (seed) => ({ epochs: 30, batchSize: 32, learningRate: 0.001, lrSchedule: 'constant', patience: 5, minEpochs: 0, seed }),
  new: (seed) => ({
    epochs: 100,
    batchSize: 32,
    learningRate: 0.001,
    lrSchedule: 'warmup_cosine',
    patience: resolvePatience('auto', 100),
    minEpochs: 10,
    seed,
  }),
  // Variants to attribute the gain: the new budget and patience without the schedule, and the schedule with patience 5.
  new_constant: (seed) => ({
    epochs: 100,
    batchSize: 32,
    learningRate: 0.001,
    lrSchedule: 'constant',
    patience: resolvePatience('auto', 100),
    minEpochs: 10,
    seed,
  }),
  new_p5: (seed) => ({ epochs: 100, batchSize: 32, learningRate: 0.001, lrSchedule: 'warmup_cosine', patience: 5, minEpochs: 10, seed }),
  new_p20: (seed) => ({ epochs: 100, batchSize: 32, learningRate: 0.001, lrSchedule: 'warmup_cosine', patience: 20, minEpochs: 10, seed }),
  new_lr3: (seed) => ({
    epochs: 100,
    batchSize: 32,
    learningRate: 0.003,
    lrSchedule: 'warmup_cosine',
    patience: resolvePatience('auto', 100),
    minEpochs: 10,
    seed,
  }),
  e200: (seed) => ({
    epochs: 200,
    batchSize: 32,
    learningRate: 0.001,
    lrSchedule: 'warmup_cosine',
    patience: resolvePatience('auto', 200),
    minEpochs: 10,
    seed,
  }),
};

const [file, archArg, seedArg, configArg] = process.argv.slice(2);
if (!file) throw new Error('usage: sequence-loop-defaults.ts data.json [arch,...] [seeds] [config,...]');
const data = JSON.parse(readFileSync(file, 'utf8')) as { train: Split; test: Split };
const archs = (archArg ? archArg.split(',') : MODEL_TYPES) as ModelType[];
const seeds = Array.from({ length: Number(seedArg ?? 3) }, (_, i) => i + 1);
const configs = configArg ? configArg.split(',') : ['old', 'new'];

const channels = data.train.x[0]!.length;
const steps = data.train.x[0]![0]!.length;
const classes = [...new Set(data.train.y)].sort();
// Per-channel standardization fitted on all training recordings (the trainer fits on its training windows).
const mean = new Float64Array(channels);
const std = new Float64Array(channels);
for (let c = 0; c < channels; c++) {
  const v = data.train.x.flatMap((r) => r[c]!);
  mean[c] = v.reduce((a, b) => a + b, 0) / v.length;
  std[c] = Math.sqrt(v.reduce((a, b) => a + (b - mean[c]!) ** 2, 0) / v.length) || 1;
}
function batches(split: Split, rows: number[]): Batches {
  const x = new Float32Array(rows.length * steps * channels);
  rows.forEach((r, i) => {
    for (let t = 0; t < steps; t++) for (let c = 0; c < channels; c++) x[(i * steps + t) * channels + c] = (split.x[r]![c]![t]! - mean[c]!) / std[c]!;
  });
  return { x, y: Int32Array.from(rows, (r) => classes.indexOf(split.y[r]!)) };
}
/** 20% of the training recordings per class for validation (early stopping), seeded. */
function split(seed: number): { train: number[]; val: number[] } {
  const rng = new Rng(seed);
  const out = { train: [] as number[], val: [] as number[] };
  for (const cls of classes) {
    const rows = rng.shuffle(data.train.y.flatMap((y, i) => (y === cls ? [i] : [])));
    const nVal = Math.max(1, Math.round(rows.length * 0.2));
    out.val.push(...rows.slice(0, nVal));
    out.train.push(...rows.slice(nVal));
  }
  return out;
}

await initBackend();
const test = batches(
  data.test,
  data.test.y.map((_, i) => i),
);
const stop = new StopSignal();
console.log(`${data.train.y.length} train / ${data.test.y.length} test recordings of ${steps}×${channels}, ${classes.length} classes`);
console.log('arch\tconfig\tseed\ttest_acc\tval_acc\tepochs_run\tbest_epoch\tseconds');
const summary: string[] = [];
for (const arch of archs) {
  for (const config of configs) {
    const accs: number[] = [];
    let seconds = 0;
    for (const seed of seeds) {
      const s = split(seed);
      const model = buildModel({
        modelType: arch,
        sequenceLength: steps,
        features: channels,
        classes: classes.length,
        dropout: 0.3,
        l1: 1e-5,
        l2: 1e-4,
        useSeparable: true,
        useRelativePos: true,
        seed,
      });
      const cfg = CONFIGS[config]!(seed);
      const t0 = performance.now();
      const outcome = await trainLoop(
        model,
        {
          train: batches(data.train, s.train),
          val: batches(data.train, s.val),
          windowShape: [steps, channels],
          classes: classes.length,
          classWeights: classes.map(() => 1),
        },
        cfg,
        { stop, progress: { report: () => {} } as unknown as ProgressReporter, onEpoch: () => {}, onStop: async () => {} },
        null,
      );
      const secs = (performance.now() - t0) / 1000;
      if (outcome.stopped) throw new Error('stopped');
      const acc = evaluate(model, test, [steps, channels], classes.length).accuracy;
      const val = outcome.history.find((h) => h.epoch === outcome.bestEpoch)?.values.val_accuracy ?? NaN;
      console.log([arch, config, seed, acc.toFixed(3), val.toFixed(3), outcome.epochsRun, outcome.bestEpoch, secs.toFixed(1)].join('\t'));
      accs.push(acc);
      seconds += secs;
      model.dispose();
    }
    const m = accs.reduce((a, b) => a + b, 0) / accs.length;
    const sd = Math.sqrt(accs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, accs.length - 1));
    summary.push(
      `| ${arch} | ${config} | ${(100 * m).toFixed(1)} ± ${(100 * sd).toFixed(1)} | ${accs.map((a) => (100 * a).toFixed(1)).join(', ')} | ${(seconds / accs.length).toFixed(1)} s |`,
    );
  }
}
console.log('\n| architecture | config | test accuracy % (mean ± sd) | per seed | time/run |\n|---|---|---|---|---|');
console.log(summary.join('\n'));
