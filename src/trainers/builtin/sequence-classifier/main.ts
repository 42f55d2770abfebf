/**
 * The sequence-classifier trainer program: `node main.js --spec job.json`. Reads a
 * tabular-csv dataset as a time series (one stream, or recordings named by the dataset's
 * instance_column), trains a model family on windows of consecutive rows (learner.ts), and
 * writes the model's files, preprocessing.json, README.md and metrics.json into output_dir
 * (artifact name = file name). In instance mode a recording is classified by the mean of its
 * windows' probabilities, and validation, cross-validation and the test set are scored per
 * recording. SIGTERM stops at the next batch with a checkpoint of the last completed epoch.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { JobSpec } from '../../protocol.js';
import { classificationReport, cvMetrics, testMetrics } from '../evaluation.js';
import type { ClassificationReport } from '../evaluation.js';
import { EXIT_STOPPED, log, runTrainer, send } from '../runtime.js';
import type { StopSignal } from '../runtime.js';
import { PREPROCESSING_FILE, PREPROCESSING_FORMAT, writeAtomic } from './artifacts.js';
import type { Preprocessing } from './artifacts.js';
import { modelCard } from './card.js';
import { readCheckpoint } from './checkpoint.js';
import { strideFor } from './data.js';
import { runFits } from './fits.js';
import { createLearner } from './learner.js';
import { finite, score } from './metrics.js';
import { loadWarmStart, prepare, readHyper } from './prepare.js';
import type { Hyper, Prepared } from './prepare.js';
import { knownUnits, sampleSet, scoreGroups } from './sets.js';
import { initBackend } from './tf.js';

/** A hash: the split's unit indices alone can run to tens of kilobytes. */
function fingerprint(prep: Prepared, hyper: Hyper, warm: boolean): string {
  const { epochs: _epochs, ...fixed } = hyper; // asking for more epochs on a retry is fine
  const described = JSON.stringify({
    ...fixed,
    classes: prep.classes,
    features: prep.features,
    instance_column: prep.instanceColumn,
    resolved: prep.resolved,
    units: prep.units.length,
    train: prep.split.train,
    val: prep.split.val,
    folds: prep.folds,
    val_dataset: prep.valData?.units.length ?? null,
    warm,
  });
  return createHash('sha256').update(described).digest('hex');
}

/** The test set, scored once with the returned model: per recording in instance mode. Never seen before this point. */
function scoreTest(prep: Prepared, predict: (x: Float32Array) => Float32Array): ClassificationReport | null {
  if (!prep.test) return null;
  const known = knownUnits(prep.test.units, null, prep.classIndex);
  const instances = prep.test.series.instances !== null;
  if (known.dropped > 0)
    log('warn', `test dataset: skipped ${known.dropped} ${instances ? 'recordings' : 'blocks'} whose class is not among the trained classes`);
  if (known.units.length === 0) {
    log('warn', `test dataset ${prep.test.id}: nothing to score (no window of a trained class)`);
    return null;
  }
  const set = sampleSet(prep.test.series, known.units, prep.sequenceLength, prep.normalization, prep.classIndex, instances);
  const s = scoreGroups(predict(set.x), set, prep.classes.length);
  return classificationReport(set.groupY, s.predicted, prep.classes);
}

async function train(spec: JobSpec, stop: StopSignal): Promise<number> {
  const hyper = readHyper(spec.hyperparameters ?? {});
  const backend = await initBackend((m) => log('info', m));
  const warm = spec.init_from ? await loadWarmStart(spec.init_from) : null;
  const prep = await prepare(spec, hyper, warm, (m) => log('warn', m));
  const instances = prep.instanceColumn !== null;
  const k = prep.classes.length;
  log(
    'info',
    `${prep.units.length} ${instances ? 'recordings' : 'blocks of windows'}, windows of ${prep.sequenceLength}×${prep.features.length}, ${k} classes, ${prep.modelType}${warm ? ' (warm start)' : ''}${prep.resolved.auto.length > 0 ? ` (auto: ${prep.resolved.auto.map((a) => `${a} ${String(prep.resolved[a as keyof typeof prep.resolved])}`).join(', ')})` : ''}`,
  );
  const learnerSpec = { modelType: prep.modelType, sequenceLength: prep.sequenceLength, features: prep.features.length, classes: k, hyper, warm };
  const expected = fingerprint(prep, hyper, warm !== null);
  let ckpt: Awaited<ReturnType<typeof readCheckpoint>> = null;
  if (spec.resume_from) {
    const probe = await createLearner(learnerSpec);
    const shapes = probe.weightShapes;
    probe.dispose();
    ckpt = await readCheckpoint(spec.resume_from, expected, shapes);
  }
  if (ckpt) log('info', `resumed from ${spec.resume_from} after epoch ${ckpt.state.epoch}`);

  const started = performance.now();
  const elapsed = (): number => (ckpt?.elapsedS ?? 0) + (performance.now() - started) / 1000;
  const fits = await runFits({
    prep,
    learnerSpec,
    epochs: hyper.epochs,
    batchSize: hyper.batch_size,
    stop,
    checkpointDir: spec.checkpoint_dir,
    fingerprint: expected,
    resume: ckpt,
    elapsed,
    onEpoch: (record, learner, val) => {
      // The loop scores windows; in instance mode the figures that count are per recording.
      // merge: early stopping still reads the loop's per-window val_loss (train.ts); a scoring
      // hook in trainLoop would let it stop on the per-recording loss computed here.
      if (instances && val.y.length > 0) {
        const s = scoreGroups(learner.predict(val.x), val, k);
        const v = record.values;
        Object.assign(
          v,
          { val_window_accuracy: v.val_accuracy, val_window_loss: v.val_loss },
          finite({ val_accuracy: s.accuracy, val_loss: s.loss, val_auc: s.auc, val_f1: s.f1 }),
        );
      }
      send({ type: 'metrics', ...record });
    },
  });
  if (fits.stopped) return EXIT_STOPPED;
  const { learner, outcome, val } = fits;
  // The torch backend (torch-learner.ts) says which torch and device trained the weights.
  const trainedWith = learner.trainedWith ?? backend;
  const trainingTime = elapsed();
  if (val.y.length === 0 && !fits.folds) log('warn', 'no validation windows: validation metrics and early stopping are off');

  // Scores and timing of the returned (best) model. The timing is batched throughput per
  // window, after one warm-up call; without validation windows it is measured on the training windows.
  const timed = val.y.length > 0 ? val : fits.train;
  const per = prep.sequenceLength * prep.features.length;
  learner.predict(timed.x.subarray(0, per)); // warm-up
  const t0 = performance.now();
  const timedProbs = learner.predict(timed.x);
  const inferenceMs = (performance.now() - t0) / timed.y.length;
  const windowProbs = fits.valProbs && timed === val ? fits.valProbs : timedProbs;
  if (fits.refitUnits) log('info', `MiniRocket: validation scored on the split; the returned model is refitted on all ${fits.refitUnits} training units`);
  const hasVal = val.y.length > 0;
  const final = scoreGroups(windowProbs, timed, k);
  const windowScores = score(windowProbs, timed.y, k);
  const chosen = outcome.history.find((h) => h.epoch === outcome.bestEpoch) ?? outcome.history[outcome.history.length - 1];
  const test = scoreTest(prep, (x) => learner.predict(x));
  const cv = fits.folds ? cvMetrics(fits.folds) : null;

  const out = (name: string): string => path.join(spec.output_dir, name);
  const saved = await learner.save(spec.output_dir);
  const metrics = finite({
    // The chosen epoch's training accuracy and loss (what "final training metrics" means when
    // early stopping restored the best weights): facades report both (src/compat/neurolab).
    accuracy: chosen?.values.accuracy ?? NaN,
    loss: chosen?.values.loss ?? NaN,
    ...(hasVal ? { val_accuracy: final.accuracy, val_loss: final.loss, val_auc: final.auc, val_f1: final.f1 } : {}),
    ...(hasVal && instances ? { val_window_accuracy: windowScores.accuracy, val_window_loss: windowScores.loss, val_instances: final.predicted.length } : {}),
    // With k-fold the validation figures are the folds' means (what `best` compares).
    ...(cv ? { ...cv, val_accuracy: cv.cv_accuracy!, val_f1: cv.cv_macro_f1! } : {}),
    ...(test ? testMetrics(test) : {}),
    training_time_s: trainingTime,
    inference_ms_per_sample: inferenceMs,
    model_size_bytes: saved.bytes,
    epochs_run: outcome.epochsRun,
    best_epoch: outcome.bestEpoch,
    train_windows: fits.train.y.length,
    val_windows: val.y.length,
  });
  const preprocessing: Preprocessing = {
    format: PREPROCESSING_FORMAT,
    version: 2,
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
    instance_column: prep.instanceColumn,
    padding: 'mean',
    aggregation: 'mean_probability',
    label_type: prep.labelType,
    auto: Object.fromEntries(prep.resolved.auto.map((a) => [a, prep.resolved[a as keyof typeof prep.resolved]])),
  };
  await writeAtomic(out(PREPROCESSING_FILE), JSON.stringify(preprocessing, null, 1) + '\n');
  const confusion = hasVal ? final.confusion : [];
  const card = modelCard({
    spec,
    hyper,
    prep,
    metrics,
    confusion,
    backend: trainedWith,
    warmStart: warm !== null,
    params: learner.params,
    bestEpoch: outcome.bestEpoch,
    earlyStopped: outcome.earlyStopped,
    windows: { train: fits.train.y.length, val: val.y.length },
    classWeights: fits.classWeights,
    test,
    folds: fits.folds,
  });
  await writeAtomic(out('README.md'), card);
  await writeAtomic(
    out('metrics.json'),
    JSON.stringify(
      {
        final: metrics,
        confusion_matrix: confusion,
        labels: prep.classes,
        epochs: outcome.history,
        ...(test ? { test } : {}),
        ...(fits.folds ? { cv: { folds: fits.folds, final_epochs: fits.finalEpochs } } : {}),
      },
      null,
      1,
    ) + '\n',
  );
  for (const [name, format] of [...saved.files, [PREPROCESSING_FILE, 'json'], ['README.md', 'markdown'], ['metrics.json', 'json']] as const) {
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
      instance_column: prep.instanceColumn,
      resolved: prep.resolved,
      backend: trainedWith,
      early_stopped: outcome.earlyStopped,
      ...(test ? { test } : {}),
      ...(fits.folds ? { cv: { folds: fits.folds, final_epochs: fits.finalEpochs } } : {}),
    },
  });
  return 0;
}

await runTrainer(train);
