/**
 * MiniRocket behind the Learner interface (learner.ts): fitted once on the training windows,
 * no epochs, no early stopping. With model_type minirocket and sequence_length "auto" a window
 * is a whole recording (prepare.ts), shorter recordings padded after their end with the
 * training mean, which is how aeon is fed unequal lengths too (bench/README.md).
 * A stop request during the fit ends the attempt without a checkpoint: the fit takes seconds,
 * and a retry simply fits again.
 */
import { mkdir } from 'node:fs/promises';
import type { ResolvedModel } from './auto.js';
import type { FitHooks, FitPlan, Learner } from './learner.js';
import { fitMiniRocket, loadMiniRocket } from './minirocket/index.js';
import type { MiniRocketModel, Series } from './minirocket/index.js';
import type { LoopOutcome } from './train.js';

/** Windows [n × length × channels] as MiniRocket series (views, no copy). */
export function windowsAsSeries(x: Float32Array, length: number, channels: number): Series[] {
  const per = length * channels;
  return Array.from({ length: x.length / per }, (_, i) => ({ values: x.subarray(i * per, (i + 1) * per), length }));
}

export class RocketLearner implements Learner {
  readonly modelType: ResolvedModel = 'minirocket';
  readonly weightShapes: number[][] = [];
  private model: MiniRocketModel | null;

  constructor(
    private readonly s: { sequenceLength: number; features: number; classes: number; numFeatures: number; seed: number },
    model: MiniRocketModel | null = null,
  ) {
    this.model = model;
  }

  get params(): number {
    return this.model ? this.model.numFeatures * this.model.classes : 0;
  }

  async fit(plan: FitPlan, hooks: FitHooks): Promise<LoopOutcome> {
    const series = windowsAsSeries(plan.train.x, this.s.sequenceLength, this.s.features);
    const model = await fitMiniRocket(
      series,
      plan.train.y,
      this.s.classes,
      this.s.features,
      { numFeatures: this.s.numFeatures, seed: this.s.seed },
      { shouldStop: () => hooks.stop.shouldStop() },
    );
    if (!model) return { stopped: true };
    this.model = model;
    return { stopped: false, history: [], bestEpoch: 0, epochsRun: 0, earlyStopped: false };
  }

  predict(x: Float32Array): Float32Array {
    if (!this.model) throw new Error('MiniRocket: predict before fit');
    return this.model.probabilities(windowsAsSeries(x, this.s.sequenceLength, this.s.features));
  }

  async save(dir: string): Promise<{ files: [string, string][]; bytes: number }> {
    if (!this.model) throw new Error('MiniRocket: save before fit');
    await mkdir(dir, { recursive: true });
    const saved = await this.model.save(dir);
    return { files: saved.files.map((f) => [f.name, f.format] as [string, string]), bytes: saved.bytes };
  }

  dispose(): void {
    this.model = null;
  }
}

export async function loadRocket(dir: string): Promise<MiniRocketModel> {
  return loadMiniRocket(dir);
}
