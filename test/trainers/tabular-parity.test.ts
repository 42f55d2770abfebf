import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobSpec, ofType, runBuiltinTrainer, type TrainerRun } from '../helpers/trainer-run.js';
import { specHyperparameters } from '../../src/domain/jobs/hyperparameters.js';
import { linearClassifier } from '../../src/trainers/builtin/linear-classifier/catalog.js';
import { sequenceClassifier } from '../../src/trainers/builtin/sequence-classifier/catalog.js';

// Issue #18: tabular data is fine: on scikit-learn's iris, wine, breast cancer and digits,
// linear-classifier and sequence-classifier (windows of one row) match scikit-learn's
// LogisticRegression and MLP within noise on identical held-out rows. This keeps it that way.
//
// test/helpers/tabular_parity.py writes a fixed stratified 70/30 split of each dataset and
// scores both scikit-learn models on the 30%; the real trainer programs then train on the 70%
// with the 30% as their validation dataset. Nothing is selected on those rows: linear-classifier
// keeps its last epoch and sequence-classifier runs with patience 0 (no early stopping, no
// best-epoch restore), so val_accuracy is an honest held-out figure.
//
// Tolerance: a trainer passes when its accuracy ≥ best scikit-learn accuracy − max(0.03,
// 2·√(p(1−p)/n)), p that best accuracy and n the held-out rows: two binomial standard errors of
// the reference on n rows, and never tighter than 3 points (wine and iris have 45–54 test rows,
// where one row is ~2 points).

const PYTHON = path.resolve(process.env.TABULAR_PARITY_PYTHON ?? '.venv-tools/bin/python');
const HELPER = path.resolve('test/helpers/tabular_parity.py');
const DATASETS = ['iris', 'wine', 'breast_cancer', 'digits'] as const;

/** scikit-learn importable from PYTHON? .ci/run installs it into .venv-tools; on CI it must be there. */
function sklearnVersion(): Promise<string | null> {
  if (!existsSync(PYTHON)) return Promise.resolve(null);
  return new Promise((resolve) => execFile(PYTHON, ['-c', 'import sklearn; print(sklearn.__version__)'], (err, out) => resolve(err ? null : out.trim())));
}
const SKLEARN = await sklearnVersion();
if (!SKLEARN && process.env.CI) throw new Error(`CI: scikit-learn is missing from ${PYTHON}; .ci/run installs it into .venv-tools`);
// Said out loud, not skipped in silence.
if (!SKLEARN) console.warn(`SKIPPING the tabular parity test: no scikit-learn at ${PYTHON} (pip install scikit-learn==1.9.1 into .venv-tools)`);

interface Reference {
  train: number;
  test: number;
  features: number;
  classes: number;
  logistic_regression: number;
  mlp: number;
}

const LINEAR = { epochs: 100, learning_rate: 0.1, batch_size: 32, l2: 0, validation_split: 0.2, seed: 1 };
// Every value explicit (none left to the catalog's defaults, which issue #18 is tuning).
const SEQUENCE = {
  model_type: 'original',
  sequence_length: 1,
  epochs: 40,
  batch_size: 64,
  learning_rate: 0.01,
  lr_schedule: 'warmup_cosine',
  dropout_rate: 0.2,
  l1_reg: 0,
  l2_reg: 0.0001,
  patience: 0,
  min_epochs: 0,
  validation_split: 0.2,
  seed: 1,
};

let dir: string;
let reference: Record<string, Reference>;
const accuracy: Record<string, Record<string, number>> = { 'linear-classifier': {}, 'sequence-classifier': {} };

function runPython(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    // One BLAS thread: the trainers run beside it, and the two cores are shared.
    execFile(PYTHON, args, { env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' }, timeout: 120_000 }, (err, out, stderr) =>
      err ? reject(new Error(`${HELPER} failed: ${stderr || err.message}`)) : resolve(out),
    ),
  );
}

function train(trainer: 'linear-classifier' | 'sequence-classifier', name: string): Promise<TrainerRun> {
  const id = `${trainer}-${name}`;
  const data = (file: string) => ({ kind: 'tabular-csv', options: { label_column: 'label' }, files: [path.join(dir, name, file)] });
  const def = trainer === 'linear-classifier' ? linearClassifier : sequenceClassifier;
  const spec = jobSpec({
    job_id: id,
    trainer,
    hyperparameters: specHyperparameters(def, trainer === 'linear-classifier' ? LINEAR : SEQUENCE),
    dataset: data('train.csv'),
    validation: data('test.csv'),
    output_dir: path.join(dir, id, 'out'),
    checkpoint_dir: path.join(dir, id, 'ckpt'),
  });
  return runBuiltinTrainer(spec, path.join(dir, `${id}.json`));
}

const tolerance = (p: number, n: number): number => Math.max(0.03, 2 * Math.sqrt((p * (1 - p)) / n));

describe.skipIf(!SKLEARN)('tabular parity with scikit-learn', () => {
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tabular-parity-'));
    reference = JSON.parse(await runPython([HELPER, dir])) as Record<string, Reference>;
    // Two trainer processes at a time: the two cores.
    const queue = DATASETS.flatMap((name) => (['linear-classifier', 'sequence-classifier'] as const).map((trainer) => ({ trainer, name })));
    const worker = async (): Promise<void> => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        const run = await train(job.trainer, job.name);
        const result = ofType(run, 'result')[0];
        if (run.code !== 0 || !result)
          throw new Error(`${job.trainer} on ${job.name} exited ${run.code}: ${run.stderr}\n${JSON.stringify(ofType(run, 'log'))}`);
        accuracy[job.trainer]![job.name] = result.metrics.val_accuracy!;
      }
    };
    await Promise.all([worker(), worker()]);
    const pct = (v: number): string => (100 * v).toFixed(1);
    const lines = DATASETS.map((d) => {
      const r = reference[d]!;
      return [d, r.test, pct(r.logistic_regression), pct(r.mlp), pct(accuracy['linear-classifier']![d]!), pct(accuracy['sequence-classifier']![d]!)].join('\t');
    });
    console.warn(['held-out accuracy %: dataset\trows\tLogReg\tMLP\tlinear\tsequence', ...lines].join('\n'));
  }, 180_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scikit-learn itself learns each dataset (the comparison is not between two failures)', () => {
    for (const d of DATASETS) {
      const r = reference[d]!;
      expect(r.test, d).toBeGreaterThanOrEqual(45);
      expect(Math.max(r.logistic_regression, r.mlp), d).toBeGreaterThanOrEqual(0.9);
    }
  });

  it.each(['linear-classifier', 'sequence-classifier'] as const)('%s is within noise of the better scikit-learn model on every dataset', (trainer) => {
    for (const d of DATASETS) {
      const r = reference[d]!;
      const best = Math.max(r.logistic_regression, r.mlp);
      const got = accuracy[trainer]![d]!;
      expect(got, `${trainer} on ${d}: ${got.toFixed(3)} vs scikit-learn ${best.toFixed(3)} on ${r.test} rows`).toBeGreaterThanOrEqual(
        best - tolerance(best, r.test),
      );
    }
  });
});
