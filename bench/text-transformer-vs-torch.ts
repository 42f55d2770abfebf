// Issue #15, target 3's second half: is the text-classifier's transformer (tfjs, pure-JS CPU
// backend) more than 3× slower than PyTorch? The trainer's own Transformer class (its
// trainBatch: forward, backward, Adam) against a PyTorch twin of the same network
// (bench/text_transformer_torch.py), on the same token batches in the same order, default
// sizes (DEFAULT_SIZES.transformer), batch 32, Adam 0.005, one thread each (tfjs's CPU backend
// runs on the one JS thread) and PyTorch again on every core. Texts: TEXTS token sequences of
// 16..max_length tokens (uniform), from a 20,000-token vocabulary, two classes told apart by
// which half of the vocabulary a few tokens come from (so both losses fall).
//
//   npx tsx bench/text-transformer-vs-torch.ts [--texts 10000] [--epochs 2] [--python PATH]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '../src/trainers/builtin/runtime.js';
import { DEFAULT_SIZES } from '../src/trainers/builtin/text-classifier/model.js';
import { Transformer, type TransformerConfig } from '../src/trainers/builtin/text-classifier/transformer.js';
import { printTable } from './lib/stats.js';

const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const TEXTS = Number(option('texts') ?? 10_000);
const EPOCHS = Number(option('epochs') ?? 2);
const VOCAB = 20_000;
const MAX_LEN = 128;
const BATCH = 32;
const LR = 0.005;
const hasTorch = (p: string): boolean => existsSync(p) && spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const python = option('python') ?? process.env.TRAINYARD_PYTHON ?? ['.venv-trainers/bin/python'].find(hasTorch);
if (!python || !hasTorch(python)) throw new Error('no Python with torch: set up .venv-trainers (trainyard setup python) or pass --python');

// The texts, batched once: both sides see these batches in this order every epoch.
const rng = new Rng(7);
const batches: { ids: number[][]; labels: number[] }[] = [];
for (let start = 0; start < TEXTS; start += BATCH) {
  const ids: number[][] = [];
  const labels: number[] = [];
  for (let i = start; i < Math.min(TEXTS, start + BATCH); i++) {
    const label = i % 2;
    const len = 16 + Math.floor(rng.next() * (MAX_LEN - 15));
    const text = Array.from({ length: len }, () => 2 + Math.floor(rng.next() * (VOCAB - 2)));
    // A few tokens from the label's half of the vocabulary.
    for (let k = 0; k < 4; k++) text[Math.floor(rng.next() * len)] = 2 + label * (VOCAB / 2) + Math.floor(rng.next() * (VOCAB / 2 - 2));
    ids.push(text);
    labels.push(label);
  }
  batches.push({ ids, labels });
}
const config = { vocab: VOCAB, classes: 2, ...DEFAULT_SIZES.transformer } as TransformerConfig & Record<string, number>;

function tfjsEpochs(): { seconds: number[]; loss: number[] } {
  const model = new Transformer(config, LR, new Rng(1));
  const inputs = batches.map((b) => b.ids.map((t) => Int32Array.from(t)));
  const dropout = new Rng(2);
  const seconds: number[] = [];
  const loss: number[] = [];
  for (let e = 0; e < EPOCHS; e++) {
    const t0 = performance.now();
    let sum = 0;
    batches.forEach((b, i) => (sum += model.trainBatch(inputs[i]!, b.labels, dropout).loss));
    seconds.push((performance.now() - t0) / 1000);
    loss.push(sum / TEXTS);
  }
  return { seconds, loss };
}

function torchEpochs(file: string, threads: number): { seconds: number[]; loss: number[]; torch: string } {
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'text_transformer_torch.py');
  const env = { ...process.env, OMP_NUM_THREADS: String(threads) };
  const r = spawnSync(python!, [script, '--data', file, '--epochs', String(EPOCHS), '--threads', String(threads)], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds_per_epoch: number[]; loss: number[]; torch: string };
  return { seconds: out.seconds_per_epoch, loss: out.loss, torch: out.torch };
}

const dir = await mkdtemp(path.join(tmpdir(), 'trainyard-text-tf-'));
try {
  const file = path.join(dir, 'batches.json');
  await writeFile(file, JSON.stringify({ config, learning_rate: LR, batches }));
  const cores = availableParallelism();
  console.log(
    `${TEXTS} texts of 16..${MAX_LEN} tokens, vocabulary ${VOCAB}, ${JSON.stringify(DEFAULT_SIZES.transformer)}, batch ${BATCH}, ${EPOCHS} epochs; ${cores} cores`,
  );
  const torch1 = torchEpochs(file, 1);
  const tfjs = tfjsEpochs();
  const torchAll = cores > 1 ? torchEpochs(file, cores) : null;
  // The first epoch carries warm-up (JIT, allocator): the last one is the steady state.
  const last = (xs: number[]) => xs[xs.length - 1]!;
  const rows = [
    ['tfjs (the trainer, pure-JS CPU backend)', 1, tfjs.seconds, tfjs.loss],
    [`PyTorch ${torch1.torch}`, 1, torch1.seconds, torch1.loss],
    ...(torchAll ? [[`PyTorch ${torchAll.torch}`, cores, torchAll.seconds, torchAll.loss]] : []),
  ] as [string, number, number[], number[]][];
  printTable(
    ['loop', 'threads', 's / epoch (each epoch)', 'mean loss (each epoch)', 'tfjs ÷ this (last epoch)'],
    rows.map(([name, threads, s, l]) => [
      name,
      threads,
      s.map((x) => x.toFixed(2)).join(', '),
      l.map((x) => x.toFixed(4)).join(', '),
      `${(last(tfjs.seconds) / last(s)).toFixed(2)}×`,
    ]),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
