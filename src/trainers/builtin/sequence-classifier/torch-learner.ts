/**
 * The PyTorch backend (issue #15): the same architectures, trained by
 * `python -m trainyard_sequence_torch` (trainers/python) instead of train.ts's tfjs loop.
 *
 * Only the loop moves. This side still builds the tfjs model (its seeded initial weights are
 * handed over, so both backends start from the same point), prepares the data and split, the
 * class weights and every batch's learning rate, scores each epoch's validation probabilities
 * with the same metrics code, and after training takes the weights back into the tfjs model:
 * predict, save, the model card and serving are the tfjs path's, unchanged. The PyTorch state
 * dict ships beside them as `model.pt`.
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TrainerError, log } from '../runtime.js';
import { TorchUnavailable, concatF32, readF32, runTorchChild, writeArray } from '../torch-child.js';
import type { BackendChoice, ChildEvent } from '../torch-child.js';
import { DeepLearner } from './learner.js';
import type { FitHooks, FitPlan, LearnerSpec } from './learner.js';
import { finite, score } from './metrics.js';
import { tf } from './tf.js';
import { learningRateAt } from './train.js';
import type { EpochRecord, LoopOutcome, LoopState } from './train.js';

export { trainerPython } from '../torch-child.js';
export type { BackendChoice } from '../torch-child.js';
export const TORCH_STATE_FILE = 'model.pt';
/** train.ts's shuffle stream: the same batch order on both backends. */
const SHUFFLE_SALT = 0x5bd1e995;

export class TorchLearner extends DeepLearner {
  private stateDict: string | null = null;
  /** What trained the returned weights, for the result and the model card. */
  trainedWith: string | null = null;

  constructor(
    spec: LearnerSpec,
    model: tf.LayersModel,
    private readonly python: string,
    private readonly choice: BackendChoice,
  ) {
    super(spec.modelType, model, spec);
  }

  override async fit(plan: FitPlan, hooks: FitHooks, resume: LoopState | null): Promise<LoopOutcome> {
    const dir = await mkdtemp(path.join(tmpdir(), 'sequence-torch-'));
    try {
      await this.writeJob(dir, plan, resume);
      return await this.run(dir, plan, hooks, resume);
    } catch (err) {
      if (!(err instanceof TorchUnavailable)) throw err;
      // Stopped while Python started (the SIGTERM reached it before its handler): the tfjs loop
      // sees the stop before its first batch and checkpoints the state we started from.
      if (hooks.stop.stopRequested) return super.fit(plan, hooks, resume);
      if (this.choice !== 'auto') throw new TrainerError(err.message);
      log('warn', `${err.message}; backend auto: training with tfjs instead`);
      return super.fit(plan, hooks, resume);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async writeJob(dir: string, plan: FitPlan, resume: LoopState | null): Promise<void> {
    const h = this.s.hyper;
    const n = plan.train.y.length;
    const batchSize = Math.min(h.batch_size, n);
    const batches = Math.ceil(n / batchSize);
    const lr = new Float64Array(plan.epochs * batches);
    const cfg = { epochs: plan.epochs, learningRate: h.learning_rate, lrSchedule: h.lr_schedule };
    for (let e = 1; e <= plan.epochs; e++) for (let b = 0; b < batches; b++) lr[(e - 1) * batches + b] = learningRateAt(cfg, e, b, batches);
    const weights = this.model.getWeights();
    const put = (file: string, a: Float32Array | Int32Array | Float64Array): Promise<string> => writeArray(dir, file, a);
    const flat = (file: string, ts: readonly tf.Tensor[]): Promise<string> => put(file, concatF32(ts.map((t) => t.dataSync() as Float32Array)));
    const per = [this.s.sequenceLength, this.s.features];
    await Promise.all([
      put('train_x.f32', plan.train.x),
      put('train_y.i32', plan.train.y),
      put('val_x.f32', plan.val.x),
      put('val_y.i32', plan.val.y),
      put('lr.f64', lr),
      flat('init.f32', weights),
    ]);
    let resumed: Record<string, unknown> | null = null;
    if (resume) {
      const opt = resume.optimizer;
      resumed = {
        epoch: resume.epoch,
        rng_state: resume.rngState,
        wait: resume.wait,
        weights: await flat('resume-weights.f32', resume.weights),
        ...(opt ? { iterations: opt.iterations, moments: await flat('resume-moments.f32', opt.moments) } : {}),
        best: resume.best ? { epoch: resume.best.epoch, val_loss: resume.best.valLoss, weights: await flat('resume-best.f32', resume.best.weights) } : null,
      };
    }
    const job = {
      arch: this.modelType,
      sequence_length: this.s.sequenceLength,
      features: this.s.features,
      classes: this.s.classes,
      dropout: h.dropout_rate,
      l1: h.l1_reg,
      l2: h.l2_reg,
      use_separable: h.use_separable,
      use_relative_pos: h.use_relative_pos,
      batch_size: h.batch_size,
      epochs: plan.epochs,
      patience: plan.patience,
      min_epochs: plan.patience > 0 ? h.min_epochs : 0,
      seed: h.seed,
      shuffle_seed: (h.seed ^ SHUFFLE_SALT) >>> 0,
      class_weights: plan.classWeights,
      device: 'auto',
      weights: weights.map((w) => ({ shape: w.shape })),
      init: 'init.f32',
      train_x: { file: 'train_x.f32', dtype: 'f32', shape: [n, ...per] },
      train_y: { file: 'train_y.i32', dtype: 'i32', shape: [n] },
      val_x: { file: 'val_x.f32', dtype: 'f32', shape: [plan.val.y.length, ...per] },
      val_y: { file: 'val_y.i32', dtype: 'i32', shape: [plan.val.y.length] },
      lr: 'lr.f64',
      resume: resumed,
    };
    await writeFile(path.join(dir, 'job.json'), JSON.stringify(job));
  }

  private run(dir: string, plan: FitPlan, hooks: FitHooks, resume: LoopState | null): Promise<LoopOutcome> {
    const history: EpochRecord[] = resume ? resume.history.filter((r) => r.epoch <= resume.epoch) : [];
    return runTorchChild(this.python, 'trainyard_sequence_torch', dir, hooks.stop, (e) => this.onEvent(dir, e, plan, hooks, history));
  }

  private async onEvent(dir: string, e: ChildEvent, plan: FitPlan, hooks: FitHooks, history: EpochRecord[]): Promise<LoopOutcome | null> {
    const k = this.s.classes;
    const shapes = this.weightShapes;
    switch (e.type) {
      case 'ready':
        this.trainedWith = `torch ${String(e.torch)} (${String(e.device)})`;
        log('info', `PyTorch backend: torch ${String(e.torch)} on ${String(e.device)}, ${String(e.threads)} threads`);
        return null;
      case 'progress':
        hooks.progress.report((Number(e.epoch) - 1) * this.batchesOf(plan) + Number(e.batch), Number(e.epoch));
        return null;
      case 'epoch': {
        const values: Record<string, number> = { loss: Number(e.loss), accuracy: Number(e.accuracy) };
        if (typeof e.val_probs === 'string') {
          const probs = await readF32(path.join(dir, e.val_probs));
          const s = score(probs, plan.val.y, k);
          Object.assign(values, { val_loss: s.loss, val_accuracy: s.accuracy, val_auc: s.auc, val_f1: s.f1 });
        }
        // The epoch's weights in the tfjs model: onEpoch scores per recording with it (instance mode).
        this.setFlat(await readF32(path.join(dir, String(e.weights))));
        const epoch = Number(e.epoch);
        const record: EpochRecord = { epoch, step: epoch * Number(e.batches), values: finite(values) };
        history.push(record);
        hooks.progress.report(epoch * Number(e.batches), epoch, true);
        hooks.onEpoch(record);
        return null;
      }
      case 'stopped': {
        const tensors = async (file: unknown, shapeList: number[][]): Promise<tf.Tensor[]> => split(await readF32(path.join(dir, String(file))), shapeList);
        const best = e.best as { epoch: number; val_loss: number; weights: string } | undefined;
        const state: LoopState = {
          epoch: Number(e.epoch),
          rngState: Number(e.rng_state),
          weights: await tensors(e.weights, shapes),
          optimizer:
            typeof e.moments === 'string'
              ? {
                  iterations: Number(e.iterations),
                  accBeta1: Math.pow(0.9, Number(e.iterations)),
                  accBeta2: Math.pow(0.999, Number(e.iterations)),
                  moments: await tensors(e.moments, [...shapes, ...shapes]),
                }
              : null,
          history: history.filter((r) => r.epoch <= Number(e.epoch)),
          best: best ? { epoch: best.epoch, valLoss: best.val_loss, weights: await tensors(best.weights, shapes) } : null,
          wait: Number(e.wait),
        };
        await hooks.onStop(state, this.batchesOf(plan));
        return { stopped: true };
      }
      case 'done': {
        this.setFlat(await readF32(path.join(dir, String(e.weights))));
        // Kept outside the exchange folder, which is removed when fit returns.
        this.stateDict = path.join(path.dirname(dir), `${path.basename(dir)}-${TORCH_STATE_FILE}`);
        await copyFile(path.join(dir, String(e.state_dict)), this.stateDict);
        return { stopped: false, history, bestEpoch: Number(e.best_epoch), epochsRun: Number(e.epochs_run), earlyStopped: e.early_stopped === true };
      }
      default:
        return null;
    }
  }

  private setFlat(flat: Float32Array): void {
    const ts = split(flat, this.weightShapes);
    this.model.setWeights(ts);
    tf.dispose(ts);
  }

  private batchesOf(plan: FitPlan): number {
    const n = plan.train.y.length;
    return Math.ceil(n / Math.min(this.s.hyper.batch_size, n));
  }

  override async save(dir: string): Promise<{ files: [string, string][]; bytes: number }> {
    const saved = await super.save(dir);
    if (!this.stateDict) return saved;
    await copyFile(this.stateDict, path.join(dir, TORCH_STATE_FILE));
    // bytes stays the served (tfjs) weights' size, so model_size_bytes compares across backends.
    return { files: [...saved.files, [TORCH_STATE_FILE, 'pytorch-state-dict']], bytes: saved.bytes };
  }
}

function split(flat: Float32Array, shapes: number[][]): tf.Tensor[] {
  let at = 0;
  const out = shapes.map((s) => {
    const size = s.reduce((a, b) => a * b, 1);
    const t = tf.tensor(flat.subarray(at, at + size), s);
    at += size;
    return t;
  });
  if (at !== flat.length) throw new TrainerError(`the PyTorch backend returned ${flat.length} weights where the model has ${at}`);
  return out;
}
