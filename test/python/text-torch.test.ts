import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/trainers/builtin/runtime.js';
import { textClassifier } from '../../src/trainers/builtin/text-classifier/catalog.js';
import { Transformer } from '../../src/trainers/builtin/text-classifier/transformer.js';
import { client, startTestApp } from '../helpers/app.js';
import { HAVE_PYTHON, TEST_PYTHON, pythonSnippet, trainerSandboxEnv } from '../helpers/python.js';
import { ofType } from '../helpers/trainer-run.js';
import { backendTrainer, resultOf } from '../helpers/torch-backend.js';
import { waitForDataset, waitForJob } from '../helpers/wait.js';

// Issue #15: the text-classifier transformer's PyTorch backend (backend: torch). The same
// network (weights.bin's names and layout), the same split, tokenizer, batching and Adam; trained
// by trainers/python/trainyard_text_torch, served by the tfjs predictor.

const CLASSES: Record<string, string[]> = {
  weather: ['rain', 'sunny', 'cloud', 'storm', 'wind', 'forecast'],
  sport: ['match', 'goal', 'team', 'score', 'coach', 'league'],
  food: ['recipe', 'bake', 'spicy', 'dinner', 'sauce', 'taste'],
};
const SHARED = 'the a today really we it was very and then our new big old some with for about after before'.split(' ');

/**
 * Overlapping classes: a text is 6-16 words, each a word of its class with probability 0.2 and
 * of another class with 0.08, shared filler otherwise; 12 % of the labels are flipped. A fair
 * model reaches ~80 %, so equal accuracies are not a ceiling both backends hit by default.
 */
function noisyJsonl(rows: number, seed: number): string {
  const rng = new Rng(seed);
  const labels = Object.keys(CLASSES);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  const out: string[] = [];
  for (let i = 0; i < rows; i++) {
    const label = labels[i % labels.length]!;
    const words: string[] = [];
    for (let w = 6 + rng.int(11); w > 0; w--) {
      const r = rng.next();
      words.push(r < 0.2 ? pick(CLASSES[label]!) : r < 0.28 ? pick(CLASSES[pick(labels)]!) : pick(SHARED));
    }
    out.push(JSON.stringify({ text: words.join(' '), label: rng.next() < 0.12 ? pick(labels) : label }));
  }
  return out.join('\n') + '\n';
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'text-torch-'));
  await writeFile(path.join(dir, 'texts.jsonl'), noisyJsonl(900, 4));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const train = backendTrainer(
  () => dir,
  textClassifier,
  { architecture: 'transformer', max_length: 32, learning_rate: 0.005, seed: 3 },
  () => ({ kind: 'text-classification-jsonl', files: [path.join(dir, 'texts.jsonl')] }),
);

describe.skipIf(!HAVE_PYTHON)('text-classifier transformer, backend torch', () => {
  it('the PyTorch network computes what the tfjs one computes, on the same weights', async () => {
    const config = { vocab: 50, classes: 3, dim: 16, heads: 2, layers: 2, ff: 24, dropout: 0.3 };
    const model = new Transformer(config, 0.01, new Rng(9));
    // Layer norms start at 1 and 0: moved, so a swapped gamma and beta would show.
    const weights = model.weights();
    for (const [name, w] of Object.entries(weights)) if (/_ln|ln\d_/.test(name)) w.data.forEach((_, i) => (w.data[i] = Math.sin(i + name.length) * 0.5 + 0.7));
    model.setWeights(weights);
    // Different lengths in one batch: padding must change nothing.
    const rng = new Rng(2);
    const inputs = [1, 5, 9, 3, 12, 7].map((len) => Int32Array.from({ length: len }, () => rng.int(config.vocab)));
    const probs = Array.from(model.predict(inputs));
    const input = path.join(dir, 'forward.json');
    const named = Object.entries(model.weights()).map(([name, w]) => ({ name, shape: w.shape, data: Array.from(w.data) }));
    await writeFile(input, JSON.stringify({ config, weights: named, inputs: inputs.map((x) => Array.from(x)), probs }));
    const out = await pythonSnippet(
      `
import json, sys, torch
from trainyard_text_torch.model import TextTransformer
spec = json.load(open(sys.argv[1]))
ws = spec["weights"]
model = TextTransformer(spec["config"], [w["name"] for w in ws], [w["shape"] for w in ws])
with torch.no_grad():
    for w in ws:
        model.tensors[w["name"]].copy_(torch.tensor(w["data"]).view(w["shape"]))
model.eval()
lengths = torch.tensor([len(x) for x in spec["inputs"]])
ids = torch.zeros(len(lengths), int(lengths.max()), dtype=torch.long)
for i, x in enumerate(spec["inputs"]):
    ids[i, : len(x)] = torch.tensor(x)
with torch.no_grad():
    p = torch.softmax(model(ids, lengths), -1).reshape(-1)
print(float((p - torch.tensor(spec["probs"])).abs().max()))`,
      [input],
    );
    expect(Number(out)).toBeLessThan(1e-5);
  });

  // Without dropout nothing random is left: the loop's loss scaling, Adam and the lazy embedding
  // update (only the rows a batch uses move) must give the tfjs model's weights after each step.
  it('without dropout, six optimizer steps in PyTorch give the weights the tfjs loop gives', async () => {
    const config = { vocab: 40, classes: 3, dim: 8, heads: 2, layers: 1, ff: 16, dropout: 0 };
    const model = new Transformer(config, 0.01, new Rng(5));
    const init = Object.entries(model.weights()).map(([name, w]) => ({ name, shape: w.shape, data: Array.from(w.data) }));
    const rng = new Rng(7);
    // Token ids from the lower half only: the upper rows of the embedding are never used and must not move.
    const batches = Array.from({ length: 6 }, () => {
      const x = Array.from({ length: 4 }, () => Array.from({ length: 1 + rng.int(6) }, () => rng.int(20)));
      return { x, y: x.map(() => rng.int(3)) };
    });
    for (const b of batches)
      model.trainBatch(
        b.x.map((t) => Int32Array.from(t)),
        b.y,
        rng,
      );
    const after = Object.fromEntries(Object.entries(model.weights()).map(([name, w]) => [name, Array.from(w.data)]));
    const input = path.join(dir, 'steps.json');
    await writeFile(input, JSON.stringify({ config, init, batches, after }));
    const out = await pythonSnippet(
      `
import json, sys, torch
from trainyard_text_torch.model import TextTransformer, optimizers, train_step
spec = json.load(open(sys.argv[1]))
model = TextTransformer(spec["config"], [w["name"] for w in spec["init"]], [w["shape"] for w in spec["init"]])
with torch.no_grad():
    for w in spec["init"]:
        model.tensors[w["name"]].copy_(torch.tensor(w["data"]).view(w["shape"]))
untouched = model.tensors["embedding"][20:].detach().clone()
opts = optimizers(model, 0.01)
model.train()
for b in spec["batches"]:
    lengths = torch.tensor([len(x) for x in b["x"]])
    ids = torch.zeros(len(lengths), int(lengths.max()), dtype=torch.long)
    for i, x in enumerate(b["x"]):
        ids[i, : len(x)] = torch.tensor(x)
    train_step(model, opts, ids, lengths, torch.tensor(b["y"]))
diff = {n: float((p.detach().reshape(-1) - torch.tensor(spec["after"][n])).abs().max()) for n, p in model.tensors.items()}
moved = {n: float((p.detach().reshape(-1) - torch.tensor(w["data"])).abs().max()) for (n, p), w in zip(model.tensors.items(), spec["init"])}
print(json.dumps({"diff": diff, "moved": moved, "untouched": float((model.tensors["embedding"][20:] - untouched).abs().max())}))`,
      [input],
    );
    const r = JSON.parse(out) as { diff: Record<string, number>; moved: Record<string, number>; untouched: number };
    for (const [name, d] of Object.entries(r.diff)) {
      expect(r.moved[name], `${name} moved`).toBeGreaterThan(1e-3);
      expect(d, name).toBeLessThan(2e-5);
    }
    expect(r.untouched).toBe(0);
  });

  // The same split, tokenizer, initial weights and batching by construction: the two backends land within noise
  // of each other (dropout masks are each library's own, so not bit for bit).
  it('learns what the tfjs loop learns on the same split, reports every epoch, and ships a state dict', async () => {
    const hp = { epochs: 4, batch_size: 16 };
    const [torch, tfjs] = await Promise.all([train({ ...hp, backend: 'torch' }), train({ ...hp, backend: 'tfjs' }, { env: {} })]);
    const a = resultOf(torch);
    const b = resultOf(tfjs);
    expect(a.details?.backend).toMatch(/^torch .*\((cpu|cuda)/);
    expect(b.details?.backend).toBe('tfjs');
    expect(a.metrics.train_rows).toBe(b.metrics.train_rows);
    expect(a.metrics.val_rows).toBe(b.metrics.val_rows);
    expect(a.metrics.val_accuracy).toBeGreaterThan(0.6); // chance is 1/3
    expect(Math.abs(a.metrics.val_accuracy! - b.metrics.val_accuracy!)).toBeLessThan(0.08);
    const losses = ofType(torch, 'metrics').map((m) => m.values.loss!);
    expect(ofType(torch, 'metrics').map((m) => m.epoch)).toEqual([1, 2, 3, 4]);
    expect(losses[3]).toBeLessThan(losses[0]!);
    expect(ofType(torch, 'artifact').map((x) => x.name)).toEqual(expect.arrayContaining(['model.json', 'weights.bin', 'tokenizer.json', 'model.pt']));
    // The state dict holds the weights weights.bin holds, under the same names.
    const check = await pythonSnippet(`import json, sys, torch; sd = torch.load(sys.argv[1]); print(json.dumps({k: list(v.shape) for k, v in sd.items()}))`, [
      path.join(torch.out, 'model.pt'),
    ]);
    const manifest = (JSON.parse(await readFile(path.join(torch.out, 'model.json'), 'utf8')) as { weights: { name: string; shape: number[] }[] }).weights;
    expect(JSON.parse(check)).toEqual(Object.fromEntries(manifest.map((w) => [w.name, w.shape])));
  });

  it('a SIGTERM stops the PyTorch loop with a checkpoint, and the resumed job finishes the epochs', async () => {
    // Five epochs of ~0.3 s: the stop lands well before the run could end on its own, even on a loaded machine.
    const hp = { backend: 'torch', epochs: 5, batch_size: 8 };
    const stopped = await train(hp, { onEvent: (e, child) => e.type === 'metrics' && e.epoch === 1 && child.kill('SIGTERM') });
    expect(stopped.code, stopped.stderr.slice(-2000)).toBe(143);
    const ckpt = ofType(stopped, 'checkpoint');
    expect(ckpt).toHaveLength(1);
    expect(existsSync(ckpt[0]!.path)).toBe(true);
    // Either backend resumes the checkpoint: it holds the same arrays whichever loop wrote them.
    const [resumed, resumedTfjs] = await Promise.all([
      train(hp, { resumeFrom: ckpt[0]!.path }),
      train({ ...hp, backend: 'tfjs' }, { resumeFrom: ckpt[0]!.path, env: {} }),
    ]);
    for (const run of [resumed, resumedTfjs]) {
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
      const epochs = ofType(run, 'metrics').map((m) => m.epoch);
      expect(epochs[0]).toBeGreaterThan(1);
      expect(epochs).toEqual(Array.from({ length: 6 - epochs[0]! }, (_, i) => epochs[0]! + i));
      expect(resultOf(run).metrics.epochs).toBe(5);
    }
    expect(resultOf(resumedTfjs).details?.backend).toBe('tfjs');
  });

  // The stop lands while Python starts: before its handler is installed (the child dies, the
  // trainer sees it never got ready) or after (the loop reports the state before epoch 1).
  // Either way a cancel is a clean stop, not a failed job.
  it('a SIGTERM while Python starts stops cleanly with a checkpoint of the starting state', async () => {
    const stopped = await train(
      { backend: 'torch', epochs: 2 },
      { onEvent: (e, child) => e.type === 'log' && /training texts/.test(e.message) && child.kill('SIGTERM') },
    );
    expect(stopped.code, stopped.stderr.slice(-2000)).toBe(143);
    expect(ofType(stopped, 'checkpoint').map((c) => path.basename(c.path))).toEqual(['ckpt-0.json']);
    expect(ofType(stopped, 'metrics')).toEqual([]);
  });

  it('backend torch without a Python environment fails with a reason; auto falls back to tfjs', async () => {
    const torch = await train({ epochs: 1, backend: 'torch' }, { env: { TRAINER_PYTHON: '' } });
    expect(torch.code).not.toBe(0);
    expect(ofType(torch, 'log').find((l) => l.level === 'error')?.message).toMatch(/backend torch: no Python trainer environment/);
    // An environment that is configured but cannot start (missing, or torch does not import).
    const broken = await train({ epochs: 1, backend: 'auto' }, { env: { TRAINER_PYTHON: path.join(dir, 'no-such-python') } });
    expect(resultOf(broken).details?.backend).toBe('tfjs');
    expect(ofType(broken, 'log').some((l) => l.level === 'warn' && /training with tfjs instead/.test(l.message))).toBe(true);
  });
});

// Through the API as a user would: job with backend torch → version → predict, on both databases.
describe.skipIf(!HAVE_PYTHON).each(['pglite', 'postgres'] as const)('text-classifier backend torch through the API on %s', (db) => {
  it('trains, registers a version with the state dict and serves predictions', async () => {
    const t = await startTestApp({
      db,
      env: { TRAINER_PYTHON: TEST_PYTHON, WORKER_POLL_MS: '50', WORKER_DRAIN_MS: '0', SIGNUP_CREDIT_GRANT: '1000', ...trainerSandboxEnv() },
    });
    try {
      const api = client(t.url);
      const u = await api.user('texts');
      const file = await api.upload(u.token, 'texts.jsonl', noisyJsonl(300, 8));
      expect(file.status, JSON.stringify(file.body)).toBe(201);
      const d = await api.post('/v1/datasets', { name: 'topics', kind: 'text-classification-jsonl', file_ids: [file.body.id] }, u.token);
      const ds = await waitForDataset(api, u.token, d.body.id);
      const r = await api.post(
        '/v1/jobs',
        {
          trainer: 'text-classifier',
          dataset_id: ds.id,
          hyperparameters: { architecture: 'transformer', backend: 'torch', epochs: 2, max_length: 32 },
          output: { model_name: 'topics-torch' },
        },
        u.token,
      );
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      const done = await waitForJob(api, u.token, r.body.id, undefined, 120_000);
      expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
      expect(done.result.details.backend).toMatch(/^torch /);
      const v = (await api.get('/v1/models/topics-torch/versions/1', u.token)).body;
      expect(v.artifacts.map((a: { name: string }) => a.name)).toEqual(expect.arrayContaining(['model.json', 'weights.bin', 'tokenizer.json', 'model.pt']));
      const metrics = (await api.get(`/v1/jobs/${r.body.id}/metrics`, u.token)).body.metrics;
      expect(metrics.val_accuracy).toHaveLength(2);
      const p = await api.post('/v1/models/topics-torch/predict', { instances: ['storm and rain in the forecast today'] }, u.token);
      expect(p.status, JSON.stringify(p.body)).toBe(200);
      expect(Object.keys(CLASSES)).toContain(p.body.predictions[0].label);
    } finally {
      await t.close();
    }
  });
});
