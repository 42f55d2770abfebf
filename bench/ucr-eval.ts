// Issue #18's evaluation: sequence-classifier on public UCR/UEA datasets (the copies bundled in
// the aeon PyPI package, standard train/test splits), per-recording test accuracy over seeds and
// training time, side by side with aeon's MiniRocket and 1-NN DTW run in the same script on the
// same splits.
//
// Run: npm run bench:ucr -- [--datasets BasicMotions,JapaneseVowels,GunPoint] [--seeds 0,1,2]
//        [--archs auto,minirocket,original,enhanced_cnn_lstm,resnet_lstm,transformer]
//        [--baselines minirocket,dtw | none] [--trainyard=false] [--python .venv-bench/bin/python]
//        [--out bench/ucr-eval.json] [--job-timeout 3600] [--hyper '{"epochs":2}']
// Python: a venv with aeon 1.6.0 (bench/README.md). --hyper is for smoke runs only: the figures
// are the defaults, so a run with it is labelled as such in the JSON and the table title.
//
// 1. bench/ucr/export.py writes each split as a CSV in the instance format (instance, t, label, c0..).
// 2. bench/ucr/baselines.py runs aeon (before the server starts, so nothing competes for the CPU).
// 3. A real Trainyard (startRuntime on PGlite, bench/lib/app.ts) gets the CSVs over HTTP as
//    datasets with {label_column, instance_column, order_column}, then one sequence-classifier
//    job per dataset × architecture × seed with test_dataset_id = the test split, one at a time
//    (WORKER_CONCURRENCY 1), reading test_accuracy and training_time_s from the result.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import path from 'node:path';
import { sequenceClassifier } from '../src/trainers/builtin/sequence-classifier/catalog.js';
import { api as apiClient, startBenchApp, tempDir } from './lib/app.js';
import { sleep } from './lib/stats.js';
import { markdownTable, summarize, verdicts, type UcrRun } from './lib/ucr-report.js';

const DATASETS = ['BasicMotions', 'JapaneseVowels', 'GunPoint'];
const ARCHS = (sequenceClassifier.hyperparameters.properties as { model_type: { enum: string[] } }).model_type.enum;
const DATASET_OPTIONS = { label_column: 'label', instance_column: 'instance', order_column: 't' };

function option(name: string): string | undefined {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const arg = argv[i]!;
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[i + 1];
}
const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const datasets = list(option('datasets') ?? DATASETS.join(','));
const seeds = list(option('seeds') ?? '0,1,2').map(Number);
const archs = list(option('archs') ?? ARCHS.join(','));
const baselines = option('baselines') === 'none' ? [] : list(option('baselines') ?? 'minirocket,dtw');
const withTrainyard = option('trainyard') !== 'false';
const python = option('python') ?? '.venv-bench/bin/python';
const outFile = option('out') ?? 'bench/ucr-eval.json';
const jobTimeoutMs = 1000 * Number(option('job-timeout') ?? 3600);
const hyper = JSON.parse(option('hyper') ?? '{}') as Record<string, unknown>;
for (const d of datasets) if (!DATASETS.includes(d)) throw new Error(`--datasets: "${d}" is not one of ${DATASETS.join(', ')}`);
for (const a of archs) if (!ARCHS.includes(a)) throw new Error(`--archs: "${a}" is not one of ${ARCHS.join(', ')}`);
if (seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error('--seeds: comma-separated non-negative integers');
if (!existsSync(python)) throw new Error(`${python} not found: create it (bench/README.md, "UCR/UEA") or pass --python`);

/** Runs one of bench/ucr/*.py and parses its JSON lines. */
function py(script: string, args: string[]): Record<string, unknown>[] {
  const r = spawnSync(python, [path.join('bench/ucr', script), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${script} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const tmp = tempDir('ucr');
const runs: UcrRun[] = [];
const exports = py('export.py', [tmp.dir, ...datasets]);
const csvOf = (dataset: string, split: string) => exports.find((e) => e.dataset === dataset && e.split === split)!;
for (const e of exports)
  console.error(`exported ${e.dataset} ${e.split}: ${e.instances} recordings × ${e.channels} channels, ${e.min_length}..${e.max_length} steps`);

for (const dataset of baselines.length ? datasets : []) {
  for (const r of py('baselines.py', [dataset, '--seeds', seeds.join(','), '--methods', baselines.join(',')])) {
    runs.push({
      dataset,
      method: `aeon:${r.method}`,
      seed: r.seed as number,
      ok: true,
      accuracy: r.accuracy as number,
      fit_s: r.fit_s as number,
      predict_s: r.predict_s as number,
      extra: { fed: r.fed },
    });
    console.error(
      `aeon ${r.method} ${dataset} seed ${r.seed}: ${(100 * (r.accuracy as number)).toFixed(1)} % in ${(r.fit_s as number).toFixed(2)} s (${r.fed})`,
    );
  }
}

interface Job {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  result: { metrics?: Record<string, number> } | null;
  started_at: string | null;
  finished_at: string | null;
}

const datasetStats: Record<string, unknown> = {};
if (withTrainyard) {
  const app = await startBenchApp('pglite', { env: { WORKER_POLL_MS: '50' } });
  try {
    const api = apiClient(app.url);
    const { token } = await api.user('ucr');
    const must = <T>(r: { status: number; body: T }, want: number, what: string): T => {
      if (r.status !== want) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    const createDataset = async (dataset: string, split: string): Promise<string> => {
      const file = csvOf(dataset, split).path as string;
      const form = new FormData();
      form.append('file', new Blob([await readFile(file)], { type: 'text/csv' }), path.basename(file));
      const f = must(await api.call<{ id: string }>('POST', '/v1/files', { token, body: form }), 201, `upload ${file}`);
      const json = { name: `${dataset}-${split}`, kind: 'tabular-csv', file_ids: [f.id], options: DATASET_OPTIONS };
      const d = must(await api.call<{ id: string }>('POST', '/v1/datasets', { token, json }), 201, `dataset ${dataset} ${split}`);
      for (const until = Date.now() + 120_000; Date.now() < until; await sleep(50)) {
        const ds = must(
          await api.call<{ status: string; stats: Record<string, unknown>; errors: unknown }>('GET', `/v1/datasets/${d.id}`, { token }),
          200,
          'dataset',
        );
        if (ds.status === 'ready') {
          datasetStats[`${dataset}_${split}`] = ds.stats.instances;
          console.error(`dataset ${dataset} ${split} ready: ${JSON.stringify(ds.stats.instances)}`);
          return d.id;
        }
        if (ds.status !== 'processing') throw new Error(`dataset ${dataset} ${split} is ${ds.status}: ${JSON.stringify(ds.errors)}`);
      }
      throw new Error(`dataset ${dataset} ${split} not ready after 120 s`);
    };

    for (const dataset of datasets) {
      const train = await createDataset(dataset, 'train');
      const test = await createDataset(dataset, 'test');
      for (const arch of archs) {
        for (const seed of seeds) {
          const method = `trainyard:${arch}`;
          const body = {
            trainer: 'sequence-classifier',
            dataset_id: train,
            test_dataset_id: test,
            // 'auto' is the default: leaving model_type out is what a user with defaults sends.
            hyperparameters: { ...(arch === 'auto' ? {} : { model_type: arch }), seed, ...hyper },
            output: { model_name: `ucr-${dataset}-${arch}-${seed}`.toLowerCase() },
          };
          const created = await api.call<{ id: string; error?: { message: string } }>('POST', '/v1/jobs', { token, json: body });
          if (created.status !== 202) {
            // A build without issue #18's test set refuses the field: say so rather than run without it.
            if (JSON.stringify(created.body).includes('test_dataset_id'))
              throw new Error(`this build does not take test_dataset_id on a job: ${JSON.stringify(created.body)}`);
            runs.push({ dataset, method, seed, ok: false, error: `create: HTTP ${created.status} ${JSON.stringify(created.body)}` });
            continue;
          }
          const done = (await api.waitForJob(token, created.body.id, jobTimeoutMs, 500)) as unknown as Job;
          const job = must(await api.call<Job>('GET', `/v1/jobs/${done.id}`, { token }), 200, 'job');
          const m = job.result?.metrics ?? {};
          const wall = job.started_at && job.finished_at ? (Date.parse(job.finished_at) - Date.parse(job.started_at)) / 1000 : undefined;
          const ok = job.status === 'succeeded' && typeof m.test_accuracy === 'number';
          const run: UcrRun = { dataset, method, seed, ok, extra: { job_id: job.id, metrics: m } };
          if (ok) Object.assign(run, { accuracy: m.test_accuracy, fit_s: m.training_time_s, wall_s: wall });
          else run.error = job.status === 'succeeded' ? 'no test_accuracy in the result' : `${job.status}: ${job.error?.code} ${job.error?.message}`;
          runs.push(run);
          console.error(
            `${method} ${dataset} seed ${seed}: ${ok ? `${(100 * m.test_accuracy!).toFixed(1)} %, training ${m.training_time_s?.toFixed(1)} s, wall ${wall?.toFixed(1)} s` : run.error}`,
          );
        }
      }
    }
  } finally {
    await app.close();
  }
}
tmp.remove();

const summary = summarize(runs);
const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
const smoke = Object.keys(hyper).length > 0;
const title = `UCR/UEA, ${new Date().toISOString().slice(0, 10)}, commit ${commit}, ${cpus().length} cores${smoke ? `, SMOKE RUN with ${JSON.stringify(hyper)}` : ''}`;
console.log(`\n### ${title}\n\n${markdownTable(summary)}\n`);
for (const v of verdicts(summary)) console.log(`- ${v}`);
await mkdir(path.dirname(outFile), { recursive: true });
await writeFile(
  outFile,
  JSON.stringify(
    {
      title,
      commit,
      node: process.version,
      cpus: cpus().length,
      seeds,
      archs,
      baselines,
      hyper,
      datasets: datasetStats,
      summary,
      verdicts: verdicts(summary),
      runs,
    },
    null,
    1,
  ) + '\n',
);
console.error(`wrote ${outFile}`);
