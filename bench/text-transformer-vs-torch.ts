// Issue #15, target 3 for the text-classifier's transformer, three sides in one run on the same
// texts, split, tokenizer and batches (the trainer's own: data.ts splitExamples, fitTokenizer,
// epochBatches with its length bucketing), default sizes (DEFAULT_SIZES.transformer), batch 32,
// Adam 0.005, validation every epoch:
//   - tfjs: the trainer's Transformer class (trainBatch, then predict on the validation texts);
//   - bare PyTorch: a twin of the network in a plain loop (bench/text_transformer_torch.py), one
//     thread, and again on every core;
//   - the torch backend through the whole API: a PGlite server whose worker runs a
//     text-classifier job with backend torch on the same JSONL; its time per epoch is the gap
//     between consecutive metrics events' created_at (epochs 2..N).
// Texts: TEXTS texts of 16..128 words from a 20,000-word vocabulary, two classes told apart by
// which half of the vocabulary a few words come from (so every loss falls).
//
//   npx tsx bench/text-transformer-vs-torch.ts [--texts 1000] [--epochs 3] [--python PATH] [--api off]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '../src/trainers/builtin/runtime.js';
import { SHUFFLE_SALT, epochBatches, splitExamples } from '../src/trainers/builtin/text-classifier/data.js';
import { evaluate } from '../src/trainers/builtin/text-classifier/metrics.js';
import { DEFAULT_SIZES } from '../src/trainers/builtin/text-classifier/model.js';
import { fitTokenizer } from '../src/trainers/builtin/text-classifier/tokenizer.js';
import { Transformer, type TransformerConfig } from '../src/trainers/builtin/text-classifier/transformer.js';
import { api as benchApi, startBenchApp } from './lib/app.js';
import { printTable } from './lib/stats.js';

const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const TEXTS = Number(option('texts') ?? 1000);
const EPOCHS = Number(option('epochs') ?? 3);
const VIA_API = option('api') !== 'off';
const VOCAB = 20_000;
const MAX_LEN = 128;
const HYPER = {
  architecture: 'transformer',
  epochs: EPOCHS,
  batch_size: 32,
  learning_rate: 0.005,
  max_length: MAX_LEN,
  vocab_size: VOCAB,
  validation_split: 0.2,
  seed: 1,
};
const hasTorch = (p: string): boolean => existsSync(p) && spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const python = option('python') ?? process.env.TRAINYARD_PYTHON ?? ['.venv-trainers/bin/python'].find(hasTorch);
if (!python || !hasTorch(python)) throw new Error('no Python with torch: set up .venv-trainers (trainyard setup python) or pass --python');

// The texts, then what the trainer makes of them: split, tokenizer, token ids, each epoch's batches.
const rng = new Rng(7);
const texts: string[] = [];
const labels: string[] = [];
for (let i = 0; i < TEXTS; i++) {
  const label = i % 2;
  const len = 16 + Math.floor(rng.next() * (MAX_LEN - 15));
  const words = Array.from({ length: len }, () => Math.floor(rng.next() * VOCAB));
  // A few words from the label's half of the vocabulary.
  for (let k = 0; k < 4; k++) words[Math.floor(rng.next() * len)] = label * (VOCAB / 2) + Math.floor(rng.next() * (VOCAB / 2));
  texts.push(words.map((w) => `w${w}`).join(' '));
  labels.push(`c${label}`);
}
const split = splitExamples({ texts, labels, skipped: 0 }, HYPER.validation_split, HYPER.seed);
const tokenizer = fitTokenizer(split.train.texts, { vocabSize: VOCAB, maxLength: MAX_LEN, bigrams: false });
const encode = (ts: string[]): Int32Array[] => ts.map((t) => tokenizer.sequence(t));
const train = { x: encode(split.train.texts), y: Int32Array.from(split.train.labels, (l) => Number(l.slice(1))) };
const val = { x: encode(split.val.texts), y: Int32Array.from(split.val.labels, (l) => Number(l.slice(1))) };
const shuffle = new Rng(HYPER.seed ^ SHUFFLE_SALT);
const lengths = train.x.map((x) => x.length);
const epochs = Array.from({ length: EPOCHS }, () => epochBatches(train.y.length, HYPER.batch_size, lengths, shuffle));
const config = { vocab: tokenizer.size, classes: 2, ...DEFAULT_SIZES.transformer } as TransformerConfig & Record<string, number>;

interface Side {
  seconds: number[];
  loss: number[];
}

/** The trainer's tfjs loop, without the process around it: trainBatch over the epoch's batches, then the validation pass. */
function tfjsEpochs(): Side {
  const model = new Transformer(config, HYPER.learning_rate, new Rng(1));
  const dropout = new Rng(2);
  const seconds: number[] = [];
  const loss: number[] = [];
  for (const batches of epochs) {
    const t0 = performance.now();
    let sum = 0;
    for (const rows of batches)
      sum += model.trainBatch(
        rows.map((r) => train.x[r]!),
        rows.map((r) => train.y[r]!),
        dropout,
      ).loss;
    evaluate(model, val.x, val.y, 2);
    seconds.push((performance.now() - t0) / 1000);
    loss.push(sum / train.y.length);
  }
  return { seconds, loss };
}

function torchEpochs(file: string, threads: number): Side & { torch: string } {
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'text_transformer_torch.py');
  const env = { ...process.env, OMP_NUM_THREADS: String(threads) };
  const r = spawnSync(python!, [script, '--data', file, '--threads', String(threads)], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds_per_epoch: number[]; loss: number[]; torch: string };
  return { seconds: out.seconds_per_epoch, loss: out.loss, torch: out.torch };
}

/** One text-classifier job with backend torch through the API: epoch times from its metrics events' created_at. */
async function apiEpochs(jsonl: string): Promise<Side & { backend: string; jobS: number }> {
  const sandbox: Record<string, string> = process.env.TRAINER_SANDBOX ? { TRAINER_SANDBOX: process.env.TRAINER_SANDBOX } : {};
  const app = await startBenchApp('pglite', { env: { TRAINER_PYTHON: path.resolve(python!), WORKER_POLL_MS: '50', ...sandbox } });
  try {
    const client = benchApi(app.url);
    const u = await client.user('bench');
    const form = new FormData();
    form.append('file', new Blob([jsonl]), 'texts.jsonl');
    const f = await client.call<{ id: string }>('POST', '/v1/files', { token: u.token, body: form });
    const d = await client.call<{ id: string }>('POST', '/v1/datasets', {
      token: u.token,
      json: { name: 'texts', kind: 'text-classification-jsonl', file_ids: [f.body.id] },
    });
    for (let st = ''; st !== 'ready'; await new Promise((r) => setTimeout(r, 100))) {
      st = (await client.call<{ status: string }>('GET', `/v1/datasets/${d.body.id}`, { token: u.token })).body.status;
      if (st === 'failed') throw new Error('dataset failed');
    }
    const t0 = performance.now();
    const job = await client.createJob(u.token, {
      trainer: 'text-classifier',
      dataset_id: d.body.id,
      hyperparameters: { ...HYPER, backend: 'torch' },
      output: { model_name: 'bench-texts' },
    });
    // Polled slowly: polling fast enough to time an epoch would itself load the machine the job runs on.
    let status = 'queued';
    while (!['succeeded', 'failed', 'cancelled'].includes(status)) {
      await new Promise((r) => setTimeout(r, 250));
      status = (await client.call<{ status: string }>('GET', `/v1/jobs/${job.id}`, { token: u.token })).body.status;
    }
    const jobS = (performance.now() - t0) / 1000;
    const done = (
      await client.call<{ status: string; error: unknown; result: { details: { backend: string } } }>('GET', `/v1/jobs/${job.id}`, { token: u.token })
    ).body;
    if (done.status !== 'succeeded') throw new Error(`API job: ${done.status} ${JSON.stringify(done.error)}`);
    const ev = await client.call<{ data: { type: string; data: Record<string, unknown>; created_at: string }[] }>(
      'GET',
      `/v1/jobs/${job.id}/events?limit=1000`,
      {
        token: u.token,
      },
    );
    const metrics = ev.body.data.filter((e) => e.type === 'metrics');
    if (metrics.length !== EPOCHS) throw new Error(`API job: ${metrics.length} metrics events for ${EPOCHS} epochs`);
    const at = metrics.map((e) => Date.parse(e.created_at) / 1000);
    return {
      seconds: at.slice(1).map((t, i) => t - at[i]!),
      loss: metrics.map((e) => (e.data.values as Record<string, number>).loss!),
      backend: done.result.details.backend,
      jobS,
    };
  } finally {
    await app.close();
  }
}

const dir = await mkdtemp(path.join(tmpdir(), 'trainyard-text-tf-'));
try {
  const file = path.join(dir, 'batches.json');
  await writeFile(
    file,
    JSON.stringify({
      config,
      learning_rate: HYPER.learning_rate,
      train: train.x.map((x) => Array.from(x)),
      train_labels: Array.from(train.y),
      val: val.x.map((x) => Array.from(x)),
      epochs,
    }),
  );
  const cores = availableParallelism();
  console.log(
    `${TEXTS} texts (${train.y.length} train, ${val.y.length} validation) of 16..${MAX_LEN} words, tokenizer ${tokenizer.size} tokens, ${JSON.stringify(DEFAULT_SIZES.transformer)}, batch ${HYPER.batch_size}, ${EPOCHS} epochs; ${cores} cores; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const torch1 = torchEpochs(file, 1);
  const api = VIA_API ? await apiEpochs(texts.map((t, i) => JSON.stringify({ text: t, label: labels[i] })).join('\n') + '\n') : null;
  const torch1b = torchEpochs(file, 1);
  const tfjs = tfjsEpochs();
  const torchAll = cores > 1 ? torchEpochs(file, cores) : null;
  // Epoch 1 carries warm-up (JIT, allocator, the API side's start): epochs 2..N are the steady state.
  const steady = (xs: number[]): number => {
    const rest = xs.length > 1 ? xs.slice(1) : xs;
    return [...rest].sort((a, b) => a - b)[Math.floor((rest.length - 1) / 2)]!;
  };
  // The bare loop ran before and after the API job: the API side is compared with their mean.
  const bare = (steady(torch1.seconds) + steady(torch1b.seconds)) / 2;
  const rows: [string, number | string, number[], number[], number][] = [
    ['tfjs (the trainer, pure-JS CPU backend)', 1, tfjs.seconds, tfjs.loss, steady(tfjs.seconds)],
    [`bare PyTorch ${torch1.torch} (before the API job)`, 1, torch1.seconds, torch1.loss, steady(torch1.seconds)],
    [`bare PyTorch ${torch1b.torch} (after it)`, 1, torch1b.seconds, torch1b.loss, steady(torch1b.seconds)],
    ...(torchAll
      ? [[`bare PyTorch ${torchAll.torch}`, cores, torchAll.seconds, torchAll.loss, steady(torchAll.seconds)] as [string, number, number[], number[], number]]
      : []),
    ...(api
      ? [
          [`backend torch through the API (${api.backend}; job ${api.jobS.toFixed(1)} s)`, 1, api.seconds, api.loss, steady(api.seconds)] as [
            string,
            number,
            number[],
            number[],
            number,
          ],
        ]
      : []),
  ];
  printTable(
    [
      'loop',
      'threads',
      's / epoch (each epoch; API: epochs 2..N)',
      'mean loss (each epoch)',
      'steady s / epoch',
      'tfjs ÷ this',
      'this ÷ bare PyTorch (1 thread)',
    ],
    rows.map(([name, threads, s, l, st]) => [
      name,
      threads,
      s.map((x) => x.toFixed(3)).join(', '),
      l.map((x) => x.toFixed(4)).join(', '),
      st.toFixed(3),
      `${(steady(tfjs.seconds) / st).toFixed(1)}×`,
      `${(st / bare).toFixed(2)}×`,
    ]),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
