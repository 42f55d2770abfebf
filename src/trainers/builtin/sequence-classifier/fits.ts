/**
 * The fits a job runs: one (train on the split, early stopping on its validation units), or
 * k-fold cross-validation (one model per fold, scored per instance on its held-out units, then
 * the returned model trained on every unit for the folds' mean best epoch, with no early
 * stopping since nothing is left to validate on). A SIGTERM checkpoint records which fit it
 * interrupted and the folds already done, so a resumed job repeats none of them.
 */
import { cvMetrics } from '../evaluation.js';
import { ProgressReporter, log, send } from '../runtime.js';
import type { StopSignal } from '../runtime.js';
import { writeCheckpoint } from './checkpoint.js';
import type { FoldRecord, Phase } from './checkpoint.js';
import { fitNormalization } from './data.js';
import type { Normalization } from './data.js';
import { createLearner } from './learner.js';
import type { Learner, LearnerSpec } from './learner.js';
import type { Prepared } from './prepare.js';
import { classWeightsOf, emptySet, knownUnits, sampleSet, scoreGroups } from './sets.js';
import type { SampleSet } from './sets.js';
import type { EpochRecord, LoopOutcome, LoopState } from './train.js';
import type { Unit } from './units.js';

/** Progress of one fit inside the job's total (k-fold: the folds, then the final fit). */
class OffsetProgress extends ProgressReporter {
  constructor(
    private readonly inner: ProgressReporter,
    private readonly offset: number,
  ) {
    super(inner.totalSteps, inner.totalEpochs);
  }

  override report(step: number, epoch: number, force = false): void {
    this.inner.report(this.offset + step, epoch, force);
  }
}

export interface FitContext {
  prep: Prepared;
  learnerSpec: LearnerSpec;
  epochs: number;
  batchSize: number;
  stop: StopSignal;
  checkpointDir: string;
  fingerprint: string;
  resume: { state: LoopState; elapsedS: number; phase: Phase } | null;
  elapsed: () => number;
  /** Per-instance validation figures for each epoch's metrics event (instance mode). */
  onEpoch: (record: EpochRecord, learner: Learner, val: SampleSet) => void;
}

export type FitsOutcome =
  | { stopped: true }
  | {
      stopped: false;
      learner: Learner;
      outcome: Extract<LoopOutcome, { stopped: false }>;
      train: SampleSet;
      val: SampleSet;
      classWeights: number[];
      folds: FoldRecord[] | null;
      finalEpochs: number | null;
      /**
       * MiniRocket only: the split model's probabilities on `val`, taken before the returned
       * model was refitted on every unit (validation figures must come from a model that did
       * not see `val`).
       */
      valProbs?: Float32Array;
      /** Training units of the returned model, when it is not the split's (MiniRocket's refit). */
      refitUnits?: number;
    };

const batchesOf = (n: number, batchSize: number): number => Math.ceil(n / Math.max(1, Math.min(batchSize, n)));

function setsFor(prep: Prepared, trainUnits: Unit[], valUnits: Unit[], norm: Normalization): { train: SampleSet; val: SampleSet } {
  const instances = prep.instanceColumn !== null;
  const build = (units: Unit[], series = prep.series): SampleSet =>
    units.length > 0 ? sampleSet(series, units, prep.sequenceLength, norm, prep.classIndex, instances) : emptySet();
  const known = knownUnits(valUnits, null, prep.classIndex);
  if (known.dropped > 0) log('warn', `validation: ignored ${known.dropped} ${instances ? 'recordings' : 'blocks'} whose class is not in the training data`);
  if (prep.valData) {
    const v = knownUnits(prep.valData.units, null, prep.classIndex);
    if (v.dropped > 0) log('warn', `validation: ignored ${v.dropped} units of the validation dataset whose class is not in the training data`);
    return {
      train: build(trainUnits),
      val:
        v.units.length > 0
          ? sampleSet(prep.valData.series, v.units, prep.sequenceLength, norm, prep.classIndex, prep.valData.series.instances !== null)
          : emptySet(),
    };
  }
  return { train: build(trainUnits), val: build(known.units) };
}

/** The single split's training and validation tensors and class weights (what a bench compares against). */
export function splitData(prep: Prepared): { train: SampleSet; val: SampleSet; classWeights: number[] } {
  const sets = setsFor(
    prep,
    prep.split.train.map((i) => prep.units[i]!),
    prep.split.val.map((i) => prep.units[i]!),
    prep.normalization,
  );
  return { ...sets, classWeights: classWeightsOf(sets.train.y, prep.classes.length).weights };
}

export async function runFits(c: FitContext): Promise<FitsOutcome> {
  const { prep } = c;
  const pick = (idx: readonly number[]): Unit[] => idx.map((i) => prep.units[i]!);
  const all = prep.units.map((_, i) => i);
  const foldPlans = (prep.folds ?? []).map((valIdx) => {
    const held = new Set(valIdx);
    return { train: pick(all.filter((i) => !held.has(i))), val: pick(valIdx) };
  });
  const windowsIn = (units: Unit[]): number => units.reduce((a, u) => a + u.windows.length, 0);
  const finalTrain = pick(prep.split.train);
  const finalBatches = batchesOf(windowsIn(finalTrain), c.batchSize);
  const foldSteps = foldPlans.map((f) => c.epochs * batchesOf(windowsIn(f.train), c.batchSize));
  const progress = new ProgressReporter(foldSteps.reduce((a, b) => a + b, 0) + c.epochs * finalBatches, c.epochs);

  const done: FoldRecord[] = c.resume ? [...c.resume.phase.cv] : [];
  let offset = foldSteps.slice(0, done.length).reduce((a, b) => a + b, 0);
  for (let f = done.length; f < foldPlans.length; f++) {
    const plan = foldPlans[f]!;
    // Each fold fits its own normalization on its own training units (a warm start keeps the previous version's).
    const norm = c.learnerSpec.warm
      ? prep.normalization
      : fitNormalization(
          prep.series,
          plan.train.flatMap((u) => u.windows),
          prep.sequenceLength,
        );
    const sets = setsFor(prep, plan.train, plan.val, norm);
    const learner = await createLearner(c.learnerSpec);
    const resume = c.resume?.phase.fold === f ? c.resume.state : null;
    const outcome = await learner.fit(
      { ...sets, classWeights: classWeightsOf(sets.train.y, prep.classes.length).weights, epochs: c.epochs, patience: prep.patience },
      {
        stop: c.stop,
        progress: new OffsetProgress(progress, offset),
        onEpoch: () => {},
        onStop: (state, perEpoch) => checkpoint(c, state, offset + state.epoch * perEpoch, { cv: done, fold: f }),
      },
      resume,
    );
    if (outcome.stopped) return outcome;
    const s = scoreGroups(learner.predict(sets.val.x), sets.val, prep.classes.length);
    learner.dispose();
    done.push({
      fold: f + 1,
      train_units: plan.train.length,
      val_units: sets.val.groupY.length,
      best_epoch: outcome.bestEpoch,
      epochs_run: outcome.epochsRun,
      accuracy: s.accuracy,
      macro_f1: s.f1,
      loss: s.loss,
    });
    log(
      'info',
      `fold ${f + 1}/${foldPlans.length}: accuracy ${s.accuracy.toFixed(4)} on ${sets.val.groupY.length} held-out units, best epoch ${outcome.bestEpoch}`,
    );
    offset += foldSteps[f]!;
  }
  if (done.length > 0) {
    const cv = cvMetrics(done);
    log('info', `cross-validation: accuracy ${cv.cv_accuracy!.toFixed(4)} ± ${cv.cv_accuracy_std!.toFixed(4)} over ${done.length} folds`);
  }

  // The returned model: on the split (or every unit after cross-validation).
  const finalEpochs = done.length > 0 ? Math.max(1, Math.round(done.reduce((a, f) => a + f.best_epoch, 0) / done.length)) : null;
  const sets = setsFor(prep, finalTrain, done.length > 0 ? [] : pick(prep.split.val), prep.normalization);
  const classWeights = classWeightsOf(sets.train.y, prep.classes.length).weights;
  const learner = await createLearner(c.learnerSpec);
  const resume = c.resume && c.resume.phase.fold === null ? c.resume.state : null;
  const outcome = await learner.fit(
    { ...sets, classWeights, epochs: finalEpochs ?? c.epochs, patience: finalEpochs !== null ? 0 : prep.patience },
    {
      stop: c.stop,
      progress: new OffsetProgress(progress, offset),
      onEpoch: (record) => c.onEpoch(record, learner, sets.val),
      onStop: (state, perEpoch) => checkpoint(c, state, offset + state.epoch * perEpoch, { cv: done, fold: null }),
    },
    resume,
  );
  if (outcome.stopped) return outcome;
  progress.report(offset + outcome.epochsRun * finalBatches, outcome.epochsRun, true);
  const result = { stopped: false as const, learner, outcome, ...sets, classWeights, folds: done.length > 0 ? done : null, finalEpochs };
  // MiniRocket has no epochs to stop early, so its validation units only measure it: once
  // they have, the returned model is refitted on every unit (aeon's and sklearn's MiniRocket
  // fit the whole training set, choosing the ridge penalty by leave-one-out on it). On
  // JapaneseVowels this is 270 recordings instead of 216 (bench/README.md).
  if (learner.modelType === 'minirocket' && sets.val.y.length > 0 && !prep.valData && done.length === 0) {
    const valProbs = learner.predict(sets.val.x);
    const every = pick(all);
    const full = setsFor(prep, every, [], prep.normalization).train;
    const refit = await createLearner(c.learnerSpec);
    const again = await refit.fit(
      { train: full, val: emptySet(), classWeights, epochs: c.epochs, patience: 0 },
      { ...hooksFor(c, progress, offset, done), onEpoch: () => {} },
      null,
    );
    if (again.stopped) return again;
    learner.dispose();
    return { ...result, learner: refit, valProbs, refitUnits: every.length };
  }
  return result;
}

function hooksFor(c: FitContext, progress: ProgressReporter, offset: number, done: FoldRecord[]) {
  return {
    stop: c.stop,
    progress: new OffsetProgress(progress, offset),
    onStop: (state: LoopState, perEpoch: number) => checkpoint(c, state, offset + state.epoch * perEpoch, { cv: done, fold: null }),
  };
}

async function checkpoint(c: FitContext, state: LoopState, step: number, phase: Phase): Promise<void> {
  const file = await writeCheckpoint(c.checkpointDir, state, step, c.fingerprint, c.elapsed(), phase);
  send({ type: 'checkpoint', step, path: file });
  log('info', `stopped; checkpoint after epoch ${state.epoch}${phase.fold !== null ? ` of fold ${phase.fold + 1}` : ''} saved`);
}
