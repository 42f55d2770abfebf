/**
 * A model family behind one interface, so main.ts runs the split, the folds, the test set and
 * the artifacts the same way whatever learns: fit on windows (with the loop's hooks), predict
 * class probabilities per window, save artifacts. The deep (TensorFlow.js) architectures are
 * one implementation; MiniRocket (./minirocket/) plugs in as another.
 */
import { TrainerError } from '../runtime.js';
import type { ProgressReporter, StopSignal } from '../runtime.js';
import { MODEL_FILE, WEIGHTS_FILE, loadModel, saveModel } from './artifacts.js';
import type { ResolvedModel } from './auto.js';
import { buildModel } from './models.js';
import { RocketLearner } from './rocket-learner.js';
import type { Hyper, WarmStart } from './prepare.js';
import type { SampleSet } from './sets.js';
import { predictProbs, trainLoop } from './train.js';
import type { EpochRecord, LoopOutcome, LoopState } from './train.js';
import type { tf } from './tf.js';

export interface FitHooks {
  stop: StopSignal;
  progress: ProgressReporter;
  onEpoch(record: EpochRecord): void;
  onStop(state: LoopState, batchesPerEpoch: number): Promise<void>;
}

export interface FitPlan {
  train: SampleSet;
  /** Empty: no early stopping, the last epoch is returned. */
  val: SampleSet;
  classWeights: number[];
  epochs: number;
  patience: number;
}

export interface Learner {
  readonly modelType: ResolvedModel;
  fit(plan: FitPlan, hooks: FitHooks, resume: LoopState | null): Promise<LoopOutcome>;
  /** Class probabilities per window, row-major [windows × classes]. */
  predict(x: Float32Array): Float32Array;
  /** Writes the model's files into `dir`; returns them (name = file name) and the weights' size. */
  save(dir: string): Promise<{ files: [name: string, format: string][]; bytes: number }>;
  readonly params: number;
  /** Shapes a checkpoint must match. */
  readonly weightShapes: number[][];
  /** Set when something other than tfjs trained the weights (the torch backend: its version and device). */
  readonly trainedWith?: string | null;
  dispose(): void;
}

export interface LearnerSpec {
  modelType: ResolvedModel;
  sequenceLength: number;
  features: number;
  classes: number;
  hyper: Hyper;
  warm: WarmStart | null;
}

/** The tfjs architectures; torch-learner.ts subclasses it to train the same model with PyTorch. */
export class DeepLearner implements Learner {
  constructor(
    readonly modelType: ResolvedModel,
    protected readonly model: tf.LayersModel,
    protected readonly s: LearnerSpec,
  ) {}

  get params(): number {
    return this.model.countParams();
  }

  get weightShapes(): number[][] {
    return this.model.getWeights().map((w) => [...w.shape]);
  }

  private get shape(): [number, number] {
    return [this.s.sequenceLength, this.s.features];
  }

  fit(plan: FitPlan, hooks: FitHooks, resume: LoopState | null): Promise<LoopOutcome> {
    const h = this.s.hyper;
    return trainLoop(
      this.model,
      { train: plan.train, val: plan.val, windowShape: this.shape, classes: this.s.classes, classWeights: plan.classWeights },
      {
        epochs: plan.epochs,
        batchSize: h.batch_size,
        learningRate: h.learning_rate,
        lrSchedule: h.lr_schedule,
        minEpochs: plan.patience > 0 ? h.min_epochs : 0,
        patience: plan.patience,
        seed: h.seed,
      },
      hooks,
      resume,
    );
  }

  predict(x: Float32Array): Float32Array {
    return predictProbs(this.model, x, this.shape, this.s.classes);
  }

  async save(dir: string): Promise<{ files: [string, string][]; bytes: number }> {
    const bytes = await saveModel(this.model, dir);
    return {
      files: [
        [MODEL_FILE, 'tfjs-layers-json'],
        [WEIGHTS_FILE, 'binary'],
      ],
      bytes,
    };
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** A fresh learner (each cross-validation fold gets its own); a warm start reloads the previous version's weights. */
export async function createLearner(s: LearnerSpec): Promise<Learner> {
  if (s.modelType === 'minirocket')
    return new RocketLearner({
      sequenceLength: s.sequenceLength,
      features: s.features,
      classes: s.classes,
      numFeatures: s.hyper.minirocket_features,
      seed: s.hyper.seed,
    });
  const h = s.hyper;
  const model = s.warm
    ? (await loadModel(s.warm.dir)).model
    : buildModel({
        modelType: s.modelType,
        sequenceLength: s.sequenceLength,
        features: s.features,
        classes: s.classes,
        dropout: h.dropout_rate,
        l1: h.l1_reg,
        l2: h.l2_reg,
        useSeparable: h.use_separable,
        useRelativePos: h.use_relative_pos,
        seed: h.seed,
      });
  if (h.backend === 'tfjs') return new DeepLearner(s.modelType, model, s);
  // Imported here, not at the top: torch-learner.ts extends DeepLearner from this module.
  const { TorchLearner, trainerPython } = await import('./torch-learner.js');
  const python = trainerPython();
  if (python) return new TorchLearner(s, model, python, h.backend);
  if (h.backend === 'torch') {
    model.dispose();
    throw new TrainerError('backend torch: no Python trainer environment on this machine (TRAINER_PYTHON); use backend tfjs or auto');
  }
  return new DeepLearner(s.modelType, model, s);
}
