import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/trainers/builtin/runtime.js';
import { sequenceClassifier } from '../../src/trainers/builtin/sequence-classifier/catalog.js';
import { MODEL_TYPES, buildModel } from '../../src/trainers/builtin/sequence-classifier/models.js';
import { predictProbs } from '../../src/trainers/builtin/sequence-classifier/train.js';
import { client, startTestApp } from '../helpers/app.js';
import { HAVE_PYTHON, TEST_PYTHON, pythonSnippet, trainerSandboxEnv } from '../helpers/python.js';
import { ofType } from '../helpers/trainer-run.js';
import { backendTrainer, resultOf } from '../helpers/torch-backend.js';
import { waitForDataset, waitForJob } from '../helpers/wait.js';

// Issue #15: the sequence-classifier's PyTorch backend (backend: torch). The same model (the
// tfjs model's weights, mapped), the same split, loss and schedule; trained by
// trainers/python/trainyard_sequence_torch, served by the tfjs predictor. Cost: 5.5 min on the
// shared 2-core machine under a load average of ~14 (each torch run pays `import torch` once);
// the two API runs ~50 s of it, the tfjs/torch comparisons ~2.8 min.

const SIGNATURE: Record<string, number[]> = { relaxed: [12, 4, 6, 8, 2], focused: [5, 11, 5, 7, 4], drowsy: [5, 3, 11, 13, 1.5] };

/** EEG-like band powers: episodes of one state, noise sd 8 over signatures a few units apart (a single row is a poor guess; a window of 8 a fair one). */
function noisyCsv(rows: number, seed: number): string {
  const rng = new Rng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const states = Object.keys(SIGNATURE);
  const lines = ['timestamp,alpha,beta,theta,delta,gamma,state'];
  for (let t = 0, prev = ''; t < rows;) {
    let state = states[rng.int(3)]!;
    while (state === prev) state = states[rng.int(3)]!;
    prev = state;
    for (let r = 30 + rng.int(31); r > 0 && t < rows; r--, t++)
      lines.push(
        [(t * 0.25).toFixed(2), ...SIGNATURE[state]!.map((m) => (m + 2.5 * Math.sin((2 * Math.PI * t) / 400) + 8 * gauss()).toFixed(3)), state].join(','),
      );
  }
  return lines.join('\n') + '\n';
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'seq-torch-'));
  await writeFile(path.join(dir, 'signal.csv'), noisyCsv(3000, 11));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const train = backendTrainer(
  () => dir,
  sequenceClassifier,
  { sequence_length: 8, lr_schedule: 'constant', learning_rate: 0.003, min_epochs: 0, seed: 3 },
  () => ({ kind: 'tabular-csv', options: { label_column: 'state' }, files: [path.join(dir, 'signal.csv')] }),
);

describe.skipIf(!HAVE_PYTHON)('sequence-classifier, backend torch', () => {
  it('each architecture in PyTorch computes what the tfjs model computes, on the same weights', async () => {
    const L = 8;
    const F = 5;
    const x = new Float32Array(16 * L * F).map((_, i) => Math.sin(i * 0.37) * 1.5);
    const models: Record<string, { weights: number[][]; shapes: number[][]; probs: number[] }> = {};
    for (const modelType of MODEL_TYPES) {
      const m = buildModel({
        modelType,
        sequenceLength: L,
        features: F,
        classes: 3,
        dropout: 0.3,
        l1: 1e-5,
        l2: 1e-4,
        useSeparable: true,
        useRelativePos: true,
        seed: 9,
      });
      // Attention's relative bias and the layer norms start at 0 and 1: moved, so a wrong map would show.
      const ws = m.getWeights().map((w) => Array.from(w.dataSync()).map((v, i) => (v === 0 || v === 1 ? v + 0.1 * Math.sin(i + 1) : v)));
      m.setWeights(ws.map((w, i) => m.getWeights()[i]!.clone().reshape([-1]).add(0).mul(0).add(w).reshape(m.getWeights()[i]!.shape)));
      models[modelType] = { weights: ws, shapes: m.getWeights().map((w) => [...w.shape]), probs: Array.from(predictProbs(m, x, [L, F], 3)) };
      m.dispose();
    }
    const code = `
import json, sys, numpy as np, torch
from trainyard_sequence_torch.models import build
spec = json.load(sys.stdin)
out = {}
for arch, m in spec["models"].items():
    model = build({"arch": arch, "sequence_length": 8, "features": 5, "classes": 3, "dropout": 0.3, "use_separable": True, "use_relative_pos": True})
    model.load_tfjs([np.array(w, dtype=np.float32).reshape(s) for w, s in zip(m["weights"], m["shapes"])])
    model.eval()
    with torch.no_grad():
        p = model(torch.tensor(spec["x"], dtype=torch.float32).reshape(16, 8, 5)).numpy()
    back = model.to_tfjs()
    out[arch] = {"dprob": float(np.abs(p.reshape(-1) - np.array(m["probs"])).max()),
                 "roundtrip": max(float(np.abs(b.reshape(-1) - np.array(w, dtype=np.float32)).max()) for b, w in zip(back, m["weights"]))}
print(json.dumps(out))`;
    const input = path.join(dir, 'models.json');
    await writeFile(input, JSON.stringify({ models, x: Array.from(x) }));
    const out = JSON.parse(await pythonSnippet(`import sys; sys.stdin = open(sys.argv[1])\n${code}`, [input])) as Record<
      string,
      { dprob: number; roundtrip: number }
    >;
    for (const modelType of MODEL_TYPES) {
      expect(out[modelType]!.dprob, modelType).toBeLessThan(1e-5);
      expect(out[modelType]!.roundtrip, modelType).toBe(0);
    }
  });

  // Noisy data (the classes overlap), the same split by construction: the two backends land
  // within noise of each other (dropout masks are each library's own, so not bit for bit).
  it.each(['original', 'enhanced_cnn_lstm'])('%s: learns what the tfjs loop learns on the same split, and ships a state dict', async (modelType) => {
    const hp = { model_type: modelType, epochs: 4, patience: 0 };
    const [torch, tfjs] = await Promise.all([train({ ...hp, backend: 'torch' }), train({ ...hp, backend: 'tfjs' }, { env: {} })]);
    const a = resultOf(torch);
    const b = resultOf(tfjs);
    expect(a.details?.backend).toMatch(/^torch .*\((cpu|cuda)/);
    expect(b.details?.backend).not.toMatch(/torch/);
    expect(a.metrics.train_windows).toBe(b.metrics.train_windows);
    expect(a.metrics.val_windows).toBe(b.metrics.val_windows);
    expect(a.metrics.val_accuracy).toBeGreaterThan(0.6); // chance is 1/3
    expect(Math.abs(a.metrics.val_accuracy! - b.metrics.val_accuracy!)).toBeLessThan(0.08);
    expect(ofType(torch, 'metrics').map((m) => m.epoch)).toEqual([1, 2, 3, 4]);
    expect(ofType(torch, 'artifact').map((x) => x.name)).toEqual(expect.arrayContaining(['model.json', 'weights.bin', 'model.pt', 'preprocessing.json']));
    const check = await pythonSnippet(`import sys, torch; sd = torch.load(sys.argv[1]); print(sum(v.numel() for v in sd.values()))`, [
      path.join(torch.out, 'model.pt'),
    ]);
    expect(Number(check)).toBeGreaterThan(0);
  });

  it('a SIGTERM stops the PyTorch loop with a checkpoint, and the resumed job finishes the epochs', async () => {
    const hp = { model_type: 'enhanced_cnn_lstm', backend: 'torch', epochs: 3, patience: 0 };
    const stopped = await train(hp, { onEvent: (e, child) => e.type === 'metrics' && e.epoch === 1 && child.kill('SIGTERM') });
    expect(stopped.code, stopped.stderr.slice(-2000)).toBe(143);
    const ckpt = ofType(stopped, 'checkpoint');
    expect(ckpt).toHaveLength(1);
    expect(existsSync(ckpt[0]!.path)).toBe(true);
    const resumed = await train(hp, { resumeFrom: ckpt[0]!.path });
    expect(resumed.code, resumed.stderr.slice(-2000)).toBe(0);
    const epochs = ofType(resumed, 'metrics').map((m) => m.epoch);
    expect(epochs[0]).toBeGreaterThan(1);
    expect(epochs[epochs.length - 1]).toBe(3);
    expect(resultOf(resumed).metrics.epochs_run).toBe(3);
  });

  // The stop lands while Python starts, before or after its handler: a clean stop either way.
  it('a SIGTERM while Python starts stops cleanly with a checkpoint', async () => {
    let sent = false;
    const stopped = await train(
      { model_type: 'original', backend: 'torch', epochs: 2, patience: 0 },
      { onEvent: (e, child) => e.type === 'log' && !sent && (sent = child.kill('SIGTERM')) },
    );
    expect(stopped.code, stopped.stderr.slice(-2000)).toBe(143);
    expect(ofType(stopped, 'checkpoint')).toHaveLength(1);
    expect(ofType(stopped, 'metrics')).toEqual([]);
  });

  it('backend torch without a Python environment fails with a reason; auto falls back to tfjs', async () => {
    const torch = await train({ model_type: 'original', epochs: 1, backend: 'torch' }, { env: { TRAINER_PYTHON: '' } });
    expect(torch.code).not.toBe(0);
    expect(ofType(torch, 'log').find((l) => l.level === 'error')?.message).toMatch(/backend torch: no Python trainer environment/);
    const auto = await train({ model_type: 'original', epochs: 1, backend: 'auto' }, { env: { TRAINER_PYTHON: '' } });
    expect(resultOf(auto).details?.backend).not.toMatch(/torch/);
    // An environment that is configured but cannot start (missing, or torch does not import).
    const broken = await train({ model_type: 'original', epochs: 1, backend: 'auto' }, { env: { TRAINER_PYTHON: path.join(dir, 'no-such-python') } });
    expect(resultOf(broken).details?.backend).not.toMatch(/torch/);
    expect(ofType(broken, 'log').some((l) => l.level === 'warn' && /training with tfjs instead/.test(l.message))).toBe(true);
  });
});

// Through the API as a user would: job with backend torch → version → predict, on both databases.
describe.skipIf(!HAVE_PYTHON).each(['pglite', 'postgres'] as const)('backend torch through the API on %s', (db) => {
  it('trains, registers a version and serves predictions', async () => {
    const t = await startTestApp({
      db,
      env: { TRAINER_PYTHON: TEST_PYTHON, WORKER_POLL_MS: '50', WORKER_DRAIN_MS: '0', SIGNUP_CREDIT_GRANT: '1000', ...trainerSandboxEnv() },
    });
    try {
      const api = client(t.url);
      const u = await api.user('eeg');
      const d = await api.post('/v1/datasets/samples', { kind: 'eeg', size: 1200, seed: 5 }, u.token);
      const ds = await waitForDataset(api, u.token, d.body.id);
      const r = await api.post(
        '/v1/jobs',
        {
          trainer: 'sequence-classifier',
          dataset_id: ds.id,
          hyperparameters: {
            model_type: 'enhanced_cnn_lstm',
            backend: 'torch',
            sequence_length: 8,
            epochs: 2,
            batch_size: 16,
            learning_rate: 0.005,
            patience: 0,
          },
          output: { model_name: 'eeg-torch' },
        },
        u.token,
      );
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      const done = await waitForJob(api, u.token, r.body.id, undefined, 120_000);
      expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
      expect(done.result.details.backend).toMatch(/^torch /);
      const v = (await api.get('/v1/models/eeg-torch/versions/1', u.token)).body;
      expect(v.artifacts.map((a: { name: string }) => a.name)).toEqual(expect.arrayContaining(['model.json', 'weights.bin', 'model.pt']));
      const metrics = (await api.get(`/v1/jobs/${r.body.id}/metrics`, u.token)).body.metrics;
      expect(metrics.val_accuracy).toHaveLength(2);
      const rows = Array.from({ length: 8 }, () => ({ alpha: 0.36, beta: 0.16, theta: 0.18, delta: 0.22, gamma: 0.08 }));
      const p = await api.post('/v1/models/eeg-torch/predict', { instances: [rows] }, u.token);
      expect(p.status, JSON.stringify(p.body)).toBe(200);
      expect(['relaxed', 'focused', 'drowsy']).toContain(p.body.predictions[0].label);
    } finally {
      await t.close();
    }
  });
});
