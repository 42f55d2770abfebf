import { beforeAll, describe, expect, it } from 'vitest';
import type { ProgressReporter } from '../../src/trainers/builtin/runtime.js';
import { Rng, StopSignal } from '../../src/trainers/builtin/runtime.js';
import { buildModel } from '../../src/trainers/builtin/sequence-classifier/models.js';
import { initBackend } from '../../src/trainers/builtin/sequence-classifier/tf.js';
import type { tf } from '../../src/trainers/builtin/sequence-classifier/tf.js';
import { evaluate, learningRateAt, resolvePatience, trainLoop } from '../../src/trainers/builtin/sequence-classifier/train.js';
import type { Batches, LoopHooks, LoopState, TrainConfig, TrainInput } from '../../src/trainers/builtin/sequence-classifier/train.js';

// The training loop itself, in process (the trainer program's tests run it end to end):
// the learning-rate schedule, min_epochs, patience 'auto', and exact resumption under a schedule.

const SHAPE: [number, number] = [4, 3];
const CLASSES = 2;

/** Windows whose class shows in feature 0 (mean ±1, noise sd 1); `shuffled` draws labels at random instead. */
function windows(n: number, seed: number, shuffled = false): Batches {
  const rng = new Rng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const per = SHAPE[0] * SHAPE[1];
  const x = new Float32Array(n * per);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % CLASSES;
    y[i] = shuffled ? rng.int(CLASSES) : k;
    for (let j = 0; j < per; j++) x[i * per + j] = gauss() + (j % SHAPE[1] === 0 ? (k === 0 ? -1 : 1) : 0);
  }
  return { x, y };
}

const input = (train: Batches, val: Batches): TrainInput => ({ train, val, windowShape: SHAPE, classes: CLASSES, classWeights: [1, 1] });
const model = (seed = 3): tf.LayersModel =>
  buildModel({
    modelType: 'original',
    sequenceLength: SHAPE[0],
    features: SHAPE[1],
    classes: CLASSES,
    dropout: 0.2,
    l1: 0,
    l2: 0,
    useSeparable: true,
    useRelativePos: true,
    seed,
  });
const quiet = { report: () => {} } as unknown as ProgressReporter;
const hooks = (over: Partial<LoopHooks> = {}): LoopHooks => ({ stop: new StopSignal(), progress: quiet, onEpoch: () => {}, onStop: async () => {}, ...over });
const weightsOf = (m: tf.LayersModel): number[][] => m.getWeights().map((w) => Array.from(w.dataSync()));

const CFG: TrainConfig = { epochs: 8, batchSize: 8, learningRate: 0.01, lrSchedule: 'warmup_cosine', patience: 0, minEpochs: 0, seed: 5 };

beforeAll(async () => {
  await initBackend();
});

describe('learning-rate schedule', () => {
  it('constant is the base rate at every batch', () => {
    const cfg = { epochs: 20, learningRate: 0.002, lrSchedule: 'constant' as const };
    for (const [e, b] of [
      [1, 0],
      [7, 3],
      [20, 4],
    ] as const)
      expect(learningRateAt(cfg, e, b, 5)).toBe(0.002);
  });

  it('warmup_cosine: linear per batch over max(1, 5%) of the epochs, then down to 5% of the base by the last batch', () => {
    const cfg = { epochs: 100, learningRate: 0.001, lrSchedule: 'warmup_cosine' as const };
    const B = 4;
    const rates = Array.from({ length: 100 * B }, (_, s) => learningRateAt(cfg, Math.floor(s / B) + 1, s % B, B));
    const warm = 5 * B; // 5% of 100 epochs
    expect(rates[0]).toBeCloseTo(0.001 / warm, 12);
    for (let s = 1; s < warm; s++) expect(rates[s]! - rates[s - 1]!).toBeCloseTo(0.001 / warm, 12);
    expect(rates[warm - 1]).toBeCloseTo(0.001, 12);
    expect(Math.max(...rates)).toBeCloseTo(0.001, 12);
    for (let s = warm + 1; s < rates.length; s++) expect(rates[s]!).toBeLessThan(rates[s - 1]!);
    expect(rates.at(-1)).toBeCloseTo(0.05 * 0.001, 12);
    // Halfway through the decay the cosine is at its midpoint.
    const mid = warm + (rates.length - 1 - warm) / 2;
    expect(rates[Math.floor(mid)]!).toBeGreaterThan(0.525 * 0.001);
    expect(rates[Math.ceil(mid)]!).toBeLessThan(0.525 * 0.001);

    // Short runs still warm up for one whole epoch; one epoch is all warm-up.
    const short = { ...cfg, epochs: 3 };
    expect(learningRateAt(short, 1, 0, 2)).toBeCloseTo(0.0005, 12);
    expect(learningRateAt(short, 1, 1, 2)).toBeCloseTo(0.001, 12);
    expect(learningRateAt(short, 3, 1, 2)).toBeCloseTo(0.00005, 12);
    expect(learningRateAt({ ...cfg, epochs: 1 }, 1, 0, 1)).toBeCloseTo(0.001, 12);
  });

  it("patience 'auto' scales with the epoch budget; a number is kept", () => {
    expect(resolvePatience('auto', 30)).toBe(5);
    expect(resolvePatience('auto', 100)).toBe(10);
    expect(resolvePatience('auto', 500)).toBe(50);
    expect(resolvePatience('auto', 1)).toBe(5);
    expect(resolvePatience(3, 100)).toBe(3);
    expect(resolvePatience(0, 100)).toBe(0);
  });
});

describe('trainLoop', () => {
  it('early stopping never ends a run before min_epochs, and returns the best weights', async () => {
    // Random labels at a high rate: val_loss stops improving within a few epochs.
    const data = input(windows(48, 1, true), windows(48, 2, true));
    const cfg = { ...CFG, epochs: 30, patience: 1, lrSchedule: 'constant' as const };
    const free = await trainLoop(model(), data, cfg, hooks(), null);
    const held = model();
    const bounded = await trainLoop(held, data, { ...cfg, minEpochs: 12 }, hooks(), null);
    if (free.stopped || bounded.stopped) throw new Error('stopped');
    expect(free.earlyStopped).toBe(true);
    expect(free.epochsRun).toBeLessThan(12);
    expect(bounded.epochsRun).toBeGreaterThanOrEqual(12);
    expect(bounded.epochsRun).toBeLessThan(30);
    expect(bounded.earlyStopped).toBe(true);
    // The same run up to where the first one stopped: min_epochs changes when it ends, not what it learns.
    expect(bounded.history.slice(0, free.epochsRun)).toEqual(free.history);
    const best = bounded.history.find((h) => h.epoch === bounded.bestEpoch)!;
    expect(bounded.bestEpoch).toBeLessThan(bounded.epochsRun);
    expect(evaluate(held, data.val, SHAPE, CLASSES).loss).toBeCloseTo(best.values.val_loss!, 6);
  });

  it('warmup_cosine trains, and changes what it learns compared with a constant rate', async () => {
    const data = input(windows(64, 3), windows(32, 4));
    const [a, b] = [model(), model()];
    const cosine = await trainLoop(a, data, CFG, hooks(), null);
    await trainLoop(b, data, { ...CFG, lrSchedule: 'constant' }, hooks(), null);
    if (cosine.stopped) throw new Error('stopped');
    expect(cosine.history.at(-1)!.values.val_accuracy).toBeGreaterThanOrEqual(0.75);
    expect(weightsOf(a)).not.toEqual(weightsOf(b));
  });

  it('a run stopped mid-epoch and resumed under warmup_cosine is bit-identical to an uninterrupted one', async () => {
    const data = input(windows(64, 5), windows(32, 6));
    const cfg = { ...CFG, patience: 3, minEpochs: 4 };
    const reference = model();
    const full = await trainLoop(reference, data, cfg, hooks(), null);

    // 64 windows in batches of 8: stop at the 4th batch of epoch 3.
    let checks = 0;
    const stop = { shouldStop: async () => ++checks === 2 * 8 + 4 } as unknown as StopSignal;
    let saved: LoopState | null = null;
    const first = await trainLoop(model(), data, cfg, hooks({ stop, onStop: async (s) => void (saved = s) }), null);
    expect(first.stopped).toBe(true);
    expect(saved!.epoch).toBe(2);

    // A fresh model, as a new process would build it, continues from the saved state.
    const resumedModel = model();
    const resumed = await trainLoop(resumedModel, data, cfg, hooks(), saved);
    if (resumed.stopped || full.stopped) throw new Error('stopped');
    expect(resumed.history).toEqual(full.history);
    expect(resumed.bestEpoch).toBe(full.bestEpoch);
    expect(weightsOf(resumedModel)).toEqual(weightsOf(reference));
  });
});
