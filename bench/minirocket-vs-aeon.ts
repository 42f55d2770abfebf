/**
 * Trainyard's MiniRocket against aeon's MiniRocketClassifier on the standard train/test splits
 * of BasicMotions (multivariate), JapaneseVowels (multivariate, unequal lengths) and GunPoint
 * (univariate), all shipped inside aeon. Both sides fit the same exported data in the same run,
 * 3 seeds each, single-threaded; the figures are test accuracy and fit time (wall and CPU).
 *
 *   npx tsx bench/minirocket-vs-aeon.ts [--python .venv-bench/bin/python] [--seeds 0,1,2]
 *
 * aeon's MiniRocket rejects unequal lengths, so JapaneseVowels is zero-padded at the end for
 * aeon (see minirocket_aeon.py); Trainyard runs it both on that padded copy and on the series
 * at their own lengths. aeon's fit time is taken after a numba warm-up fit; the cold figure (first
 * fit in a fresh process) is printed too. Targets (issue #18): accuracy within 1 point of aeon's,
 * fit time at most 3× aeon's.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fitMiniRocket, type Series } from '../src/trainers/builtin/sequence-classifier/minirocket/index.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const python = arg('python', process.env.TRAINYARD_BENCH_PYTHON ?? '.venv-bench/bin/python');
const seeds = arg('seeds', '0,1,2').split(',').map(Number);

interface Split {
  channels: number;
  classes: string[];
  y: number[];
  series: { length: number; values: number[] }[];
}
interface AeonRun {
  seed: number;
  accuracy: number;
  fit_s: number;
  cpu_s: number;
  alpha: number;
}
interface AeonReport {
  cold_fit_s: number;
  cold_cpu_s: number;
  datasets: Record<string, { padded_length: number; runs: AeonRun[] }>;
}

const dir = mkdtempSync(path.join(tmpdir(), 'minirocket-bench-'));
try {
  const py = spawnSync(python, ['bench/minirocket_aeon.py', dir, seeds.join(',')], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (py.status !== 0) throw new Error(`aeon side failed (${python}):\n${py.stderr}`);
  const aeon = JSON.parse(py.stdout.trim().split('\n').at(-1)!) as AeonReport;
  const read = (name: string, split: string): Split => JSON.parse(readFileSync(path.join(dir, `${name}-${split}.json`), 'utf8')) as Split;
  const toSeries = (s: Split, padTo = 0): Series[] =>
    s.series.map((x) => {
      const length = Math.max(x.length, padTo);
      const values = new Float32Array(length * s.channels);
      values.set(x.values);
      return { values, length };
    });

  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = (xs: number[]): number => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
  const pct = (xs: number[]): string => `${(100 * mean(xs)).toFixed(2)} ± ${(100 * std(xs)).toFixed(2)}`;
  const secs = (xs: number[]): string => mean(xs).toFixed(3);

  console.log(`aeon cold first fit (BasicMotions, numba compile/cache load): ${aeon.cold_fit_s.toFixed(2)} s wall, ${aeon.cold_cpu_s.toFixed(2)} s CPU`);
  console.log('| dataset | aeon acc % | ours acc % | aeon fit s (CPU) | ours fit s (CPU) | time ratio wall (CPU) | alphas aeon / ours |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, a] of Object.entries(aeon.datasets)) {
    const train = read(name, 'train');
    const test = read(name, 'test');
    const variants: [string, number][] =
      name === 'JapaneseVowels'
        ? [
            ['padded', a.padded_length],
            ['own lengths', 0],
          ]
        : [['', 0]];
    for (const [label, padTo] of variants) {
      const trainSeries = toSeries(train, padTo);
      const testSeries = toSeries(test, padTo);
      const accs: number[] = [];
      const walls: number[] = [];
      const cpus: number[] = [];
      const alphas: number[] = [];
      for (const seed of seeds) {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        const model = await fitMiniRocket(trainSeries, Int32Array.from(train.y), train.classes.length, train.channels, { numFeatures: 10_000, seed });
        const c1 = process.cpuUsage(c0);
        walls.push((performance.now() - t0) / 1000);
        cpus.push((c1.user + c1.system) / 1e6);
        const scores = model!.decision(testSeries);
        const K = model!.classes;
        let correct = 0;
        test.y.forEach((truth, i) => {
          let best = 0;
          for (let k = 1; k < K; k++) if (scores[i * K + k]! > scores[i * K + best]!) best = k;
          if (best === truth) correct++;
        });
        accs.push(correct / test.y.length);
        alphas.push(model!.alpha);
      }
      const aWall = a.runs.map((r) => r.fit_s);
      const aCpu = a.runs.map((r) => r.cpu_s);
      const ratio = `${(mean(walls) / mean(aWall)).toFixed(2)}× (${(mean(cpus) / mean(aCpu)).toFixed(2)}×)`;
      const fmtAlpha = (xs: number[]): string => xs.map((x) => x.toPrecision(2)).join(',');
      console.log(
        `| ${name}${label ? ` (${label})` : ''} | ${pct(a.runs.map((r) => r.accuracy))} | ${pct(accs)} | ${secs(aWall)} (${secs(aCpu)}) | ${secs(walls)} (${secs(cpus)}) | ${ratio} | ${fmtAlpha(a.runs.map((r) => r.alpha))} / ${fmtAlpha(alphas)} |`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
