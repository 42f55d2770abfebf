import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/trainers/builtin/runtime.js';
import { fitMiniRocket, loadMiniRocket, type MiniRocketModel, type Series } from '../../src/trainers/builtin/sequence-classifier/minirocket/index.js';
import { fitDilations } from '../../src/trainers/builtin/sequence-classifier/minirocket/kernels.js';

interface Data {
  series: Series[];
  y: Int32Array;
}

function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/**
 * Class c puts a bump (c = 1) or a dip (c = 0) of random width at a random position of
 * channel `c % channels`... generalised: with `classes` classes and `channels` channels, class
 * c has a bump in channel c % channels, sign + for c < channels and − otherwise. Noise
 * everywhere; lengths drawn from [minLen, maxLen].
 */
function shapes(n: number, classes: number, channels: number, minLen: number, maxLen: number, seed: number): Data {
  const rng = new Rng(seed);
  const series: Series[] = [];
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    y[i] = c;
    const length = minLen + rng.int(maxLen - minLen + 1);
    const values = new Float32Array(length * channels);
    for (let k = 0; k < values.length; k++) values[k] = 0.3 * gaussian(rng);
    const width = 3 + rng.int(4);
    const centre = rng.int(length);
    const ch = c % channels;
    const sign = classes === 2 && channels === 1 ? (c === 1 ? 1 : -1) : c < channels ? 1 : -1;
    for (let t = 0; t < length; t++) values[t * channels + ch]! += sign * 2 * Math.exp(-(((t - centre) / width) ** 2));
    series.push({ values, length });
  }
  return { series, y };
}

function argmaxAccuracy(model: MiniRocketModel, data: Data): number {
  const scores = model.decision(data.series);
  const K = model.classes;
  let correct = 0;
  data.y.forEach((truth, i) => {
    let best = 0;
    for (let k = 1; k < K; k++) if (scores[i * K + k]! > scores[i * K + best]!) best = k;
    if (best === truth) correct++;
  });
  return correct / data.y.length;
}

async function fit(data: Data, classes: number, channels: number, seed = 1, numFeatures = 10_000): Promise<MiniRocketModel> {
  const model = await fitMiniRocket(data.series, data.y, classes, channels, { numFeatures, seed });
  if (model === null) throw new Error('fit stopped without being asked to');
  return model;
}

describe('MiniRocket', () => {
  it('uses the reference dilations and feature counts', () => {
    // 10 000 features → 119 per kernel over 32 exponentially spaced dilations up to (150 − 1) / 8.
    const { dilations, featuresPerDilation } = fitDilations(150, 10_000);
    expect(dilations[0]).toBe(1);
    expect(dilations.at(-1)).toBe(Math.floor((150 - 1) / 8));
    expect(featuresPerDilation.reduce((s, v) => s + v, 0)).toBe(119);
  });

  it('learns bumps versus dips at random positions to high test accuracy', async () => {
    const train = shapes(60, 2, 1, 80, 80, 11);
    const test = shapes(200, 2, 1, 80, 80, 12);
    const model = await fit(train, 2, 1);
    expect(model.numFeatures).toBe(9996);
    expect(argmaxAccuracy(model, test)).toBeGreaterThanOrEqual(0.95);
  });

  it('sits at chance when the labels are shuffled, though it fits the training labels', async () => {
    // The label column of the whole data set is shuffled before the train/test split, so no
    // test label depends on its series: the test accuracy of a model that leaks nothing is
    // Binomial(300, ½) / 300, outside ±3.29 σ one time in a thousand.
    const all = shapes(360, 2, 1, 80, 80, 21);
    new Rng(5).shuffle(all.y);
    const train = { series: all.series.slice(0, 60), y: all.y.slice(0, 60) };
    const test = { series: all.series.slice(60), y: all.y.slice(60) };
    const model = await fit(train, 2, 1);
    const bound = 3.29 * Math.sqrt(0.25 / test.y.length);
    expect(Math.abs(argmaxAccuracy(model, test) - 0.5)).toBeLessThanOrEqual(bound);
    expect(argmaxAccuracy(model, train)).toBeGreaterThanOrEqual(0.9);
  });

  it('learns multivariate data where the class lives in one channel of three', async () => {
    const train = shapes(90, 6, 3, 60, 60, 31);
    const test = shapes(180, 6, 3, 60, 60, 32);
    const model = await fit(train, 6, 3);
    expect(model.channels).toBe(3);
    expect(argmaxAccuracy(model, test)).toBeGreaterThanOrEqual(0.9);
  });

  it('handles variable lengths, each series over its own length, including series shorter than the kernel', async () => {
    const train = shapes(60, 2, 1, 5, 120, 41);
    const test = shapes(200, 2, 1, 40, 120, 42);
    const model = await fit(train, 2, 1);
    expect(argmaxAccuracy(model, test)).toBeGreaterThanOrEqual(0.9);
    const tiny: Series[] = [{ values: Float32Array.of(1, -1, 2), length: 3 }, test.series[0]!];
    const together = model.decision(tiny);
    expect(together.every(Number.isFinite)).toBe(true);
    // A series' scores do not depend on the other series it is scored with.
    expect([...model.decision([test.series[0]!])]).toEqual([...together.slice(2, 4)]);
  });

  it('gives the same decisions after save and load, and the same model for the same seed', async () => {
    const train = shapes(40, 3, 2, 30, 50, 51);
    const test = shapes(30, 3, 2, 30, 50, 52);
    const model = await fit(train, 3, 2, 7, 840);
    const dir = await mkdtemp(path.join(tmpdir(), 'minirocket-'));
    try {
      const saved = await model.save(dir);
      expect(saved.files.map((f) => f.name).sort()).toEqual((await readdir(dir)).sort());
      expect(saved.bytes).toBeGreaterThan(840 * 4);
      const loaded = await loadMiniRocket(dir);
      expect([loaded.channels, loaded.classes, loaded.numFeatures, loaded.alpha]).toEqual([2, 3, 840, model.alpha]);
      expect([...loaded.decision(test.series)]).toEqual([...model.decision(test.series)]);
      const probs = loaded.probabilities(test.series);
      for (let i = 0; i < test.series.length; i++) expect(probs[3 * i]! + probs[3 * i + 1]! + probs[3 * i + 2]!).toBeCloseTo(1, 5);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const again = await fit(train, 3, 2, 7, 840);
    expect([...again.decision(test.series)]).toEqual([...model.decision(test.series)]);
    const other = await fit(train, 3, 2, 8, 840);
    expect([...other.decision(test.series)]).not.toEqual([...model.decision(test.series)]);
  });

  it('stops when asked and reports progress', async () => {
    const train = shapes(40, 2, 1, 50, 50, 61);
    const seen: number[] = [];
    const stopped = await fitMiniRocket(
      train.series,
      train.y,
      2,
      1,
      { numFeatures: 840, seed: 1 },
      { progress: (d) => seen.push(d), shouldStop: () => seen.length >= 1 },
    );
    expect(stopped).toBeNull();
    expect(seen.length).toBe(1);
  });
});
