/**
 * The sequence-classifier trainer program: `node main.js --spec job.json`. Reads a
 * tabular-csv dataset as a time series, trains one of four TensorFlow.js architectures on
 * windows of consecutive rows, and writes model.json, weights.bin, preprocessing.json,
 * README.md and metrics.json into output_dir (artifact name = file name). SIGTERM stops at
 * the next batch with a checkpoint of the last completed epoch.
 */
import path from 'node:path';
import type { JobSpec } from '../../protocol.js';
import { EXIT_STOPPED, ProgressReporter, log, runTrainer, send } from '../runtime.js';
import type { StopSignal } from '../runtime.js';
import { PREPROCESSING_FILE, PREPROCESSING_FORMAT, saveModel, writeAtomic } from './artifacts.js';
import type { Preprocessing } from './artifacts.js';
import { modelCard } from './card.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { strideFor } from './data.js';
import { finite, score } from './metrics.js';
import { buildModel } from './models.js';
import { loadWarmStart, prepare, readHyper } from './prepare.js';
import type { Hyper, Prepared } from './prepare.js';
import { initBackend } from './tf.js';
import { predictProbs, trainLoop } from './train.js';
import type { EpochRecord } from './train.js';

function fingerprint(prep: Prepared, hyper: Hyper, warm: boolean): string {
  const { epochs: _epochs, ...fixed } = hyper; // asking for more epochs on a retry is fine
  return JSON.stringify({
    ...fixed,
    classes: prep.classes,
    features: prep.features,
    sequence_length: prep.sequenceLength,
    model_type: prep.modelType,
    train: prep.train.y.length,
    val: prep.val.y.length,
    warm,
  });
}

async function train(spec: JobSpec, stop: StopSignal): Promise<number> {
  const hyper = readHyper(spec.hyperparameters ?? {});
  const backend = await initBackend((m) => log('info', m));
  const warm = spec.init_from ? await loadWarmStart(spec.init_from) : null;
  const prep = await prepare(spec, hyper, warm, (m) => log('warn', m));
  const windowShape: [number, number] = [prep.sequenceLength, prep.features.length];
  const nTrain = prep.train.y.length;
  log(
    'info',
    `${nTrain} training and ${prep.val.y.length} validation windows of ${prep.sequenceLength}×${prep.features.length}, ${prep.classes.length} classes, ${prep.modelType}${warm ? ' (warm start)' : ''}`,
  );
  if (prep.val.y.length === 0) log('warn', 'no validation windows: validation metrics and early stopping are off');
  if (prep.classWeights.some((w) => w !== 1))
    log('info', `imbalanced classes; loss weights ${prep.classes.map((c, k) => `${c}=${prep.classWeights[k]!.toFixed(3)}`).join(', ')}`);

  const model =
    warm?.model ??
    buildModel({
      modelType: prep.modelType,
      sequenceLength: prep.sequenceLength,
      features: prep.features.length,
      classes: prep.classes.length,
      dropout: hyper.dropout_rate,
      l1: hyper.l1_reg,
      l2: hyper.l2_reg,
      useSeparable: hyper.use_separable,
      useRelativePos: hyper.use_relative_pos,
      seed: hyper.seed,
    });
  const expected = fingerprint(prep, hyper, warm !== null);
  const ckpt = spec.resume_from
    ? await readCheckpoint(
        spec.resume_from,
        expected,
        model.getWeights().map((w) => [...w.shape]),
      )
    : null;
  if (ckpt) log('info', `resumed from ${spec.resume_from} after epoch ${ckpt.state.epoch}`);

  const batches = Math.ceil(nTrain / Math.min(hyper.batch_size, nTrain));
  const progress = new ProgressReporter(hyper.epochs * batches, hyper.epochs);
  const started = performance.now();
  const elapsed = (): number => (ckpt?.elapsedS ?? 0) + (performance.now() - started) / 1000;
  const outcome = await trainLoop(
    model,
    { train: prep.train, val: prep.val, windowShape, classes: prep.classes.length, classWeights: prep.classWeights },
    // The old behaviour until readHyper reads lr_schedule and min_epochs (issue #18, seqcore's part).
    {
      epochs: hyper.epochs,
      batchSize: hyper.batch_size,
      learningRate: hyper.learning_rate,
      lrSchedule: 'constant',
      patience: hyper.patience,
      minEpochs: 0,
      seed: hyper.seed,
    },
    {
      stop,
      progress,
      onEpoch: (record: EpochRecord) => send({ type: 'metrics', ...record }),
      onStop: async (state, perEpoch) => {
        const step = state.epoch * perEpoch;
        const file = await writeCheckpoint(spec.checkpoint_dir, state, step, expected, elapsed());
        send({ type: 'checkpoint', step, path: file });
        log('info', `stopped; checkpoint after epoch ${state.epoch} saved`);
      },
    },
    ckpt?.state ?? null,
  );
  if (outcome.stopped) return EXIT_STOPPED;
  const trainingTime = elapsed();
  progress.report(outcome.epochsRun * batches, outcome.epochsRun, true);

  // Scores and timing of the returned (best) model. The timing is batched throughput (what a
  // predict call with many instances costs per instance), after one warm-up call; without
  // validation windows it is measured on the training windows.
  const timed = prep.val.y.length > 0 ? prep.val : prep.train;
  predictProbs(model, timed.x.subarray(0, windowShape[0] * windowShape[1]), windowShape, prep.classes.length); // warm-up
  const t0 = performance.now();
  const probs = predictProbs(model, timed.x, windowShape, prep.classes.length);
  const inferenceMs = (performance.now() - t0) / timed.y.length;
  const final = score(probs, timed.y, prep.classes.length);
  const chosen = outcome.history.find((h) => h.epoch === outcome.bestEpoch) ?? outcome.history[outcome.history.length - 1];

  const out = (name: string): string => path.join(spec.output_dir, name);
  const weightBytes = await saveModel(model, spec.output_dir);
  const hasVal = prep.val.y.length > 0;
  const metrics = finite({
    // The chosen epoch's training accuracy and loss (what "final training metrics" means when
    // early stopping restored the best weights): facades report both (src/compat/neurolab).
    accuracy: chosen?.values.accuracy ?? NaN,
    loss: chosen?.values.loss ?? NaN,
    ...(hasVal ? { val_accuracy: final.accuracy, val_loss: final.loss, val_auc: final.auc, val_f1: final.f1 } : {}),
    training_time_s: trainingTime,
    inference_ms_per_sample: inferenceMs,
    model_size_bytes: weightBytes,
    epochs_run: outcome.epochsRun,
    best_epoch: outcome.bestEpoch,
    train_windows: nTrain,
    val_windows: prep.val.y.length,
  });
  const preprocessing: Preprocessing = {
    format: PREPROCESSING_FORMAT,
    version: 1,
    model_type: prep.modelType,
    label_column: prep.labelColumn,
    order_column: prep.orderColumn,
    features: prep.features,
    sequence_length: prep.sequenceLength,
    stride: strideFor(prep.sequenceLength),
    normalization: prep.normalization,
    classes: prep.classes,
    ...(hyper.subject_id ? { subject_id: hyper.subject_id } : {}),
    ...(hyper.session_id ? { session_id: hyper.session_id } : {}),
  };
  await writeAtomic(out(PREPROCESSING_FILE), JSON.stringify(preprocessing, null, 1) + '\n');
  const confusion = hasVal ? final.confusion : [];
  const card = modelCard({
    spec,
    hyper,
    prep,
    metrics,
    confusion,
    backend,
    warmStart: warm !== null,
    params: model.countParams(),
    bestEpoch: outcome.bestEpoch,
    earlyStopped: outcome.earlyStopped,
  });
  await writeAtomic(out('README.md'), card);
  await writeAtomic(
    out('metrics.json'),
    JSON.stringify({ final: metrics, confusion_matrix: confusion, labels: prep.classes, epochs: outcome.history }, null, 1) + '\n',
  );
  for (const [name, format] of [
    ['model.json', 'tfjs-layers-json'],
    ['weights.bin', 'binary'],
    [PREPROCESSING_FILE, 'json'],
    ['README.md', 'markdown'],
    ['metrics.json', 'json'],
  ] as const) {
    send({ type: 'artifact', name, path: out(name), format });
  }
  send({
    type: 'result',
    metrics,
    details: {
      confusion_matrix: confusion,
      labels: prep.classes,
      warm_start: warm !== null,
      model_type: prep.modelType,
      features: prep.features,
      sequence_length: prep.sequenceLength,
      backend,
      early_stopped: outcome.earlyStopped,
    },
  });
  return 0;
}

await runTrainer(train);
