import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { client, TestApp } from '../helpers/app.js';
import { downloadVersion, jsonlDataset, registerBaseModel, startPythonApp } from '../helpers/python-app.js';
import { processesWith } from '../helpers/processes.js';
import { firstAndLast, HAVE_PYTHON, pythonSnippet } from '../helpers/python.js';
import { waitFor, waitForJob } from '../helpers/wait.js';

// Seed 002's transformer text classifier on a tiny random BERT, through the API: the job,
// the seed-002 hyperparameters, per-class metrics, safetensors + tokenizer artifacts that
// transformers loads back, and predictions served by the pack's Python prediction process.
let t: TestApp;
let api: ReturnType<typeof client>;
let u: { token: string; id: string };

const KEYWORDS: Record<string, string[]> = {
  food: ['bread', 'cheese', 'soup', 'recipe', 'dinner', 'spicy'],
  sports: ['goal', 'match', 'team', 'coach', 'score', 'league'],
  tech: ['phone', 'chip', 'software', 'laptop', 'battery', 'code'],
};
const FILLER = 'the a and of today really very some new old big small good bad people said it was we'.split(' ');

/** Two class keywords among shared filler words: only the keywords tell the classes apart. */
function rows(n: number, seed: number) {
  let s = seed >>> 0;
  const rnd = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const labels = Object.keys(KEYWORDS);
  return Array.from({ length: n }, (_, i) => {
    const label = labels[i % labels.length]!;
    const words = [pick(KEYWORDS[label]!), pick(KEYWORDS[label]!), ...Array.from({ length: 4 + Math.floor(rnd() * 5) }, () => pick(FILLER))].sort(
      () => rnd() - 0.5,
    );
    return { text: words.join(' '), label };
  });
}

const HP = {
  max_length: 32,
  batch_size: 16,
  learning_rate: 0.003,
  num_epochs: 6,
  warmup_steps: 5,
  weight_decay: 0.01,
  metric_for_best_model: 'f1',
  greater_is_better: true,
  validation_split: 0.2,
  seed: 7,
};

describe.skipIf(!HAVE_PYTHON)('hf-sequence-classifier', () => {
  beforeAll(async () => {
    const app = await startPythonApp('tiny-bert');
    ({ t, api } = app);
    await registerBaseModel(api, app.admin, 'tiny-bert', app.modelDir, 'bert', ['hf-sequence-classifier']);
    u = await api.user('classifier');
  }, 180_000);
  afterAll(async () => t?.close());

  it('fine-tunes, picks the best epoch, reports per-class metrics, and the artifacts load back in transformers', async () => {
    const ds = await jsonlDataset(api, u.token, 'topics', 'text-classification-jsonl', rows(150, 3));
    const r = await api.post(
      '/v1/jobs',
      { trainer: 'hf-sequence-classifier', dataset_id: ds, base_model: 'tiny-bert', hyperparameters: HP, output: { model_name: 'topics' } },
      u.token,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const done = await waitForJob(api, u.token, r.body.id, undefined, 240_000);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');

    const v = (await api.get('/v1/models/topics/versions/1', u.token)).body;
    expect(v.metrics.val_accuracy).toBeGreaterThanOrEqual(0.9);
    for (const c of Object.keys(KEYWORDS)) for (const m of ['precision', 'recall', 'f1']) expect(v.metrics[`${m}_${c}`]).toBeGreaterThan(0.7);
    expect(done.result.details.labels).toEqual(Object.keys(KEYWORDS));
    expect(done.result.details.metric_for_best_model).toBe('f1');
    const names = v.artifacts.map((a: any) => a.name);
    expect(names).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'README.md']));
    expect(names.some((n: string) => n.startsWith('tokenizer'))).toBe(true);

    const loss = (await api.get(`/v1/jobs/${r.body.id}/metrics`, u.token)).body.metrics.loss.map((p: any) => p.value as number);
    const { first, last } = firstAndLast(loss);
    expect(last).toBeLessThan(first * 0.5);

    const dir = await downloadVersion(api, u.token, 'topics', 1);
    const out = await pythonSnippet(
      `import sys, json, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
m = AutoModelForSequenceClassification.from_pretrained(sys.argv[1]).eval()
tok = AutoTokenizer.from_pretrained(sys.argv[1])
texts = ["the team said the coach was good", "some spicy soup and bread", "a new laptop with a big battery"]
with torch.no_grad():
    ids = m(**tok(texts, return_tensors="pt", padding=True)).logits.argmax(-1).tolist()
print(json.dumps([m.config.id2label[i] for i in ids]))`,
      [dir],
    );
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual(['sports', 'food', 'tech']);
  });

  it('serves predictions through a Python prediction process, counted toward popularity; bad instances get a 400', async () => {
    const p = await api.post(
      '/v1/models/topics/predict',
      { instances: ['our team scored a late goal in the league match', { text: 'a recipe for cheese bread' }] },
      u.token,
    );
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(p.body.predictions.map((x: any) => x.label)).toEqual(['sports', 'food']);
    const probs = p.body.predictions[0].probabilities as Record<string, number>;
    expect(Object.keys(probs).sort()).toEqual(Object.keys(KEYWORDS));
    expect(Object.values(probs).reduce((s, x) => s + x, 0)).toBeCloseTo(1, 4);
    expect((await api.get('/v1/serving/status', u.token)).body.data).toEqual(
      expect.arrayContaining([expect.objectContaining({ model: 'topics', state: 'ready' })]),
    );
    expect((await api.post('/v1/models/topics/predict', { instances: [42] }, u.token)).body.error.code).toBe('INVALID_INSTANCES');
    // The process survived the bad request.
    expect((await api.post('/v1/models/topics/predict', { instances: ['new phone software'] }, u.token)).body.predictions[0].label).toBe('tech');
    expect((await api.get('/v1/models/topics', u.token)).body.popularity).toBe(2);
  });

  it('a prediction process that died answers 503 PREDICTOR_FAILED (not a 400), and the next request loads the model afresh', async () => {
    const entry = (await api.get('/v1/serving/status', u.token)).body.data.find((e: any) => e.model === 'topics');
    const pids = processesWith(`--model`, entry.version_id);
    expect(pids).toHaveLength(1);
    process.kill(pids[0]!, 'SIGKILL');
    await waitFor(
      () => processesWith('--model', entry.version_id),
      (left) => left.length === 0,
      { message: 'the prediction process to be gone' },
    );
    const dead = await api.post('/v1/models/topics/predict', { instances: ['a recipe for cheese bread'] }, u.token);
    expect(dead.status).toBe(503);
    expect(dead.body.error.code).toBe('PREDICTOR_FAILED');
    // Dropped from the cache: loaded again (a new process), not the dead one met forever.
    const again = await api.post('/v1/models/topics/predict', { instances: ['a recipe for cheese bread'] }, u.token);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.predictions[0].label).toBe('food');
    expect(processesWith('--model', entry.version_id)).toHaveLength(1);
  }, 120_000);

  it('answers integer labels as integers through predict (the prediction process keeps their type)', async () => {
    const ids = Object.fromEntries(Object.keys(KEYWORDS).map((k, i) => [k, i]));
    const ds = await jsonlDataset(
      api,
      u.token,
      'numbered',
      'text-classification-jsonl',
      rows(60, 4).map((x) => ({ ...x, label: ids[x.label] })),
    );
    const r = await api.post(
      '/v1/jobs',
      {
        trainer: 'hf-sequence-classifier',
        dataset_id: ds,
        base_model: 'tiny-bert',
        hyperparameters: { ...HP, num_epochs: 1 },
        output: { model_name: 'numbered' },
      },
      u.token,
    );
    const done = await waitForJob(api, u.token, r.body.id, undefined, 240_000);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    const p = await api.post('/v1/models/numbered/predict', { instances: ['our team scored a late goal in the league match'] }, u.token);
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(typeof p.body.predictions[0].label).toBe('number');
    expect(Object.keys(p.body.predictions[0].probabilities).sort()).toEqual(['0', '1', '2']);
  });

  it('retrains from the version (warm start) and records the parent; a different label set fails clearly', async () => {
    const ds = await jsonlDataset(api, u.token, 'topics-2', 'text-classification-jsonl', rows(90, 11));
    const r = await api.post(
      '/v1/jobs',
      {
        trainer: 'hf-sequence-classifier',
        dataset_id: ds,
        base_model: 'tiny-bert',
        from_model: { name: 'topics', version: 1 },
        hyperparameters: { ...HP, num_epochs: 2 },
        output: { model_name: 'topics' },
      },
      u.token,
    );
    const done = await waitForJob(api, u.token, r.body.id, undefined, 240_000);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    const v2 = (await api.get('/v1/models/topics/versions/2', u.token)).body;
    expect(v2.metrics.val_accuracy).toBeGreaterThanOrEqual(0.9);
    expect(v2.parent_version_id).toEqual(expect.stringMatching(/^mv_/));

    const two = await jsonlDataset(
      api,
      u.token,
      'two-labels',
      'text-classification-jsonl',
      rows(60, 5).map((x) => ({ ...x, label: x.label === 'tech' ? 'food' : x.label })),
    );
    const bad = await api.post(
      '/v1/jobs',
      {
        trainer: 'hf-sequence-classifier',
        dataset_id: two,
        base_model: 'tiny-bert',
        from_model: { name: 'topics', version: 1 },
        hyperparameters: { ...HP, num_epochs: 1 },
        output: { model_name: 'topics' },
      },
      u.token,
    );
    const failed = await waitForJob(api, u.token, bad.body.id, undefined, 120_000);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'TRAINER_FAILED' } });
    expect(failed.error.message).toMatch(/LABELS_CHANGED/);
  });
});
