// Issue #18's platform side: a held-out test set on jobs and sweeps (checked at creation,
// staged as spec.inputs.test_dataset, guarded against deletion), the registry's `best` chosen
// by a metric the user picks, sweep rankings and notes, and the neurolab comparison's held-out
// figures. The trainer is a stand-in (test/fixtures/trainers/test-scorer.mjs) that predicts
// one class and scores it on the staged test set, so every expected figure is counted here.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { waitFor, waitForDataset, waitForJob, waitForSweep } from '../helpers/wait.js';

type Api = ReturnType<typeof client>;
let t: TestApp;
let api: Api;
let alice: Awaited<ReturnType<Api['user']>>;
let bob: typeof alice;
let train: string;
let test: string;

const SCORER = path.resolve('test/fixtures/trainers/test-scorer.mjs');
const OPERATOR = { username: 'operator', password: 'correct horse battery staple' };
const scorer = (id: string, o: Record<string, unknown> = {}) => ({
  ...(testTrainers().trainers[0] as Record<string, unknown>),
  id,
  title: `test ${id}`,
  supports_test_set: true,
  hyperparameters: {
    type: 'object',
    additionalProperties: false,
    properties: {
      steps: { type: 'integer', minimum: 1, maximum: 100, default: 1 },
      model_type: { type: 'string', default: 'auto' },
      predict_by_type: { type: 'object' },
    },
  },
  runtime: { type: 'command', entry: id, command: [process.execPath, SCORER] },
  ...o,
});

/** Rows of f1,f2,f3,label with the given labels in order (features do not matter to the stand-in). */
const csv = (labels: string[], header = 'f1,f2,f3,label') =>
  [header, ...labels.map((l, i) => `${(i % 7) / 7},${(i % 3) / 3},${(i % 5) / 5},${l}`)].join('\n') + '\n';
const repeat = (counts: Record<string, number>) => Object.entries(counts).flatMap(([l, n]) => Array.from({ length: n }, () => l));
const patch = (p: string, json: unknown, token = alice.token) => api.call('PATCH', p, { json, token });
const job = (o: Record<string, unknown>) => ({ trainer: 'scorer', dataset_id: train, output: { model_name: 'm' }, ...o });

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-test-sets-'));
  const catalog = testTrainers({
    scorer: scorer('scorer'),
    // Queued forever (this server has no GPU): an open job for the deletion guard.
    'gpu-scorer': scorer('gpu-scorer', { resources: { gpus: 1, memory_mb: 64 } }),
  });
  // The neurolab facade's comparison runs sequence-classifier: here the stand-in in its place.
  catalog.trainers.push({ id: 'sequence-classifier', runtime: { type: 'command', entry: 'scorer', command: [process.execPath, SCORER] } } as never);
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(catalog));
  t = await startTestApp({
    dataDir,
    env: {
      TRAINYARD_COMPAT: 'neurolab',
      TRAINYARD_ADMIN_USERNAME: OPERATOR.username,
      TRAINYARD_ADMIN_PASSWORD: OPERATOR.password,
      COMPAT_NEUROLAB_RATE_TRAIN: '1000/1h',
      WORKER_POLL_MS: '50',
      WORKER_DRAIN_MS: '0',
      WORKER_CONCURRENCY: '4',
      SIGNUP_CREDIT_GRANT: '10000',
      JOBS_MAX_QUEUED_PER_USER: '50',
    },
  });
  api = client(t.url);
  alice = await api.user('alice');
  bob = await api.user('bob');
  // Training: mostly red. Test: 6 red, 3 green, 1 blue.
  train = await csvDataset(api, alice.token, 'train', csv(repeat({ red: 8, green: 4, blue: 3 })));
  test = await csvDataset(api, alice.token, 'test', csv(repeat({ red: 6, green: 3, blue: 1 })));
});
afterAll(() => t?.close());

describe('test_dataset_id on POST /v1/jobs', () => {
  it('the catalog says which trainers can score a test set', async () => {
    const trainers = (await api.get('/v1/trainers', alice.token)).body.data as Array<{ id: string; supports_test_set: boolean }>;
    const by = Object.fromEntries(trainers.map((x) => [x.id, x.supports_test_set]));
    expect(by).toMatchObject({ 'linear-classifier': true, 'sequence-classifier': true, 'text-classifier': true, scorer: true, echo: false });
    if ('hf-sequence-classifier' in by) expect(by['hf-sequence-classifier']).toBe(true);
  });

  it('refuses a test set the trainer cannot score, one that is not yours, the training data itself, one not ready, of another kind or with other columns', async () => {
    const code = async (body: Record<string, unknown>) => {
      const r = await api.post('/v1/jobs', job(body), alice.token);
      return [r.status, r.body.error?.code ?? r.body.code, r.body] as const;
    };
    expect((await code({ trainer: 'echo', test_dataset_id: test })).slice(0, 2)).toEqual([400, 'TEST_SET_NOT_SUPPORTED']);
    const bobs = await csvDataset(api, bob.token, 'bobs', csv(repeat({ red: 3, green: 3 })));
    expect((await code({ test_dataset_id: bobs })).slice(0, 2)).toEqual([404, 'DATASET_NOT_FOUND']);
    expect((await code({ test_dataset_id: train })).slice(0, 2)).toEqual([400, 'TEST_DATASET_IS_TRAINING_DATA']);

    const f = await api.upload(alice.token, 'broken.csv', csv(repeat({ red: 3 }), 'f1,f2,f3,klass'));
    const broken = await api.post(
      '/v1/datasets',
      { name: 'broken', kind: 'tabular-csv', file_ids: [f.body.id], options: { label_column: 'label' } },
      alice.token,
    );
    expect((await waitForDataset(api, alice.token, broken.body.id)).status).toBe('error');
    expect((await code({ test_dataset_id: broken.body.id })).slice(0, 2)).toEqual([409, 'DATASET_NOT_READY']);

    const j = await api.upload(alice.token, 't.jsonl', '{"text":"a","label":"x"}\n{"text":"b","label":"y"}\n');
    const text = await api.post('/v1/datasets', { name: 'text', kind: 'text-classification-jsonl', file_ids: [j.body.id] }, alice.token);
    expect((await waitForDataset(api, alice.token, text.body.id)).status).toBe('ready');
    expect((await code({ test_dataset_id: text.body.id })).slice(0, 2)).toEqual([400, 'DATASET_KIND_MISMATCH']);

    const narrow = await csvDataset(api, alice.token, 'narrow', 'f1,f2,label\n1,2,red\n3,4,green\n');
    const [status, c, body] = await code({ test_dataset_id: narrow });
    expect([status, c]).toEqual([400, 'TEST_DATASET_COLUMNS']);
    expect(body.error?.details?.missing_columns ?? body.details?.missing_columns).toEqual(['f3']);
    expect(JSON.stringify(body)).toContain('"f3"');

    const u = await api.upload(alice.token, 'unlabelled.csv', csv(repeat({ red: 2, green: 2 })));
    const unlabelled = await api.post('/v1/datasets', { name: 'unlabelled', kind: 'tabular-csv', file_ids: [u.body.id] }, alice.token);
    expect((await waitForDataset(api, alice.token, unlabelled.body.id)).status).toBe('ready');
    const [s2, c2, b2] = await code({ test_dataset_id: unlabelled.body.id });
    expect([s2, c2]).toEqual([400, 'TEST_DATASET_COLUMNS']);
    expect(JSON.stringify(b2)).toContain('options.label_column is not set');
  });

  it('stages the test set as spec.inputs.test_dataset; the job shows it and the result scores it', async () => {
    const r = await api.post('/v1/jobs', job({ test_dataset_id: test, output: { model_name: 'staged' } }), alice.token);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.test_dataset_id).toBe(test);
    const done = await waitForJob(api, alice.token, r.body.id);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect(done.result.details.test_dataset).toMatchObject({ id: test, kind: 'tabular-csv', options: { label_column: 'label' }, rows: 10 });
    expect(done.result.details.dataset).toBe(train);
    // Predicts red (the training majority): 6 of 10 test rows; macro F1 = (2·6/(2·6+4+0))/3.
    expect(done.result.metrics.test_accuracy).toBeCloseTo(0.6, 10);
    expect(done.result.metrics.test_macro_f1).toBeCloseTo(12 / 16 / 3, 10);
    // Without one, the spec says so (null), and nothing is scored.
    const plain = await waitForJob(api, alice.token, (await api.post('/v1/jobs', job({ output: { model_name: 'plain' } }), alice.token)).body.id);
    expect(plain.test_dataset_id).toBeNull();
    expect(plain.result.details.test_dataset).toBeNull();
    expect(plain.result.metrics.test_accuracy).toBeUndefined();
  });

  it('a dataset that is the test set of an open job cannot be deleted; once the job ends it can', async () => {
    const held = await csvDataset(api, alice.token, 'held', csv(repeat({ red: 2, green: 2 })));
    const r = await api.post('/v1/jobs', job({ trainer: 'gpu-scorer', test_dataset_id: held, output: { model_name: 'gpu' } }), alice.token);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const del = await api.del(`/v1/datasets/${held}`, alice.token);
    expect(del.status).toBe(409);
    expect(JSON.stringify(del.body)).toContain(r.body.id);
    await api.post(`/v1/jobs/${r.body.id}/cancel`, {}, alice.token);
    await waitForJob(api, alice.token, r.body.id);
    expect((await api.del(`/v1/datasets/${held}`, alice.token)).status).toBe(204);
  });
});

describe('the registry’s best, chosen by a metric the user picks', () => {
  it('PATCH primary_metric re-chooses best over the versions that have it, in the alias history; goals are inferred or required', async () => {
    // v1 predicts blue (test 0.1, score 9), v2 green (0.3, score 5), v3 red (0.6, score 1), v4 no test set (score 3).
    const plan: Array<[string | null, number]> = [
      ['blue', 9],
      ['green', 5],
      ['red', 1],
      [null, 3],
    ];
    for (const [color, steps] of plan) {
      const body = job({
        output: { model_name: 'ranked' },
        hyperparameters: { steps, model_type: 'x', ...(color ? { predict_by_type: { x: color } } : {}) },
        ...(color ? { test_dataset_id: test } : {}),
      });
      const done = await waitForJob(api, alice.token, (await api.post('/v1/jobs', body, alice.token)).body.id);
      expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    }
    const model = (await api.get('/v1/models/ranked', alice.token)).body;
    expect(model).toMatchObject({ primary_metric: 'score', metric_goal: 'maximize', aliases: { best: 1, latest: 4 } });

    const r = await patch('/v1/models/ranked', { primary_metric: 'test_accuracy' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ primary_metric: 'test_accuracy', metric_goal: 'maximize', aliases: { best: 3 } });
    // minimize the same metric: the worst test score wins (v1).
    expect((await patch('/v1/models/ranked', { metric_goal: 'minimize' })).body.aliases.best).toBe(1);
    const { rows } = await t.testDb.db.query<{ version: number; changed_by: string | null }>(
      `select v.version, h.changed_by from model_alias_history h join model_versions v on v.id = h.version_id
        where h.alias = 'best' and v.model_id = (select id from models where name = 'ranked') order by h.id`,
    );
    // Registration set v1 (the worker: no one); the two PATCHes moved it to v3 and back, by alice.
    expect(rows).toEqual([
      { version: 1, changed_by: null },
      { version: 3, changed_by: alice.id },
      { version: 1, changed_by: alice.id },
    ]);
    // A metric no version has leaves best where it is.
    const none = await patch('/v1/models/ranked', { primary_metric: 'cv_accuracy' });
    expect(none.body).toMatchObject({ primary_metric: 'cv_accuracy', aliases: { best: 1 } });
    // Neither *accuracy, *f1, *auc nor *loss: the goal must be said.
    const unsure = await patch('/v1/models/ranked', { primary_metric: 'cv_accuracy_std' });
    expect([unsure.status, unsure.body.error?.code ?? unsure.body.code]).toEqual([400, 'METRIC_GOAL_REQUIRED']);
    const low = await patch('/v1/models/ranked', { primary_metric: 'score', metric_goal: 'minimize' });
    expect(low.body.aliases.best).toBe(3);
    expect((await patch('/v1/models/ranked', { primary_metric: 'test_accuracy' }, bob.token)).status).toBe(404);
  });

  it('output.primary_metric names a new model’s metric; a job for a model with another one is refused (409 MODEL_METRIC_MISMATCH)', async () => {
    const body = (o: Record<string, unknown>) => job({ test_dataset_id: test, output: { model_name: 'by-test', ...o } });
    const first = await api.post('/v1/jobs', body({ primary_metric: 'test_macro_f1' }), alice.token);
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect(first.body.output).toMatchObject({ primary_metric: 'test_macro_f1', metric_goal: 'maximize' });
    await waitForJob(api, alice.token, first.body.id);
    expect((await api.get('/v1/models/by-test', alice.token)).body).toMatchObject({ primary_metric: 'test_macro_f1', metric_goal: 'maximize' });
    const other = await api.post('/v1/jobs', body({ primary_metric: 'test_accuracy' }), alice.token);
    expect([other.status, other.body.error?.code ?? other.body.code]).toEqual([409, 'MODEL_METRIC_MISMATCH']);
    expect(JSON.stringify(other.body)).toContain('PATCH /v1/models/by-test');
    // The model's own metric, or none named, is fine.
    expect((await api.post('/v1/jobs', body({ primary_metric: 'test_macro_f1' }), alice.token)).status).toBe(202);
    const odd = await api.post('/v1/jobs', body({ model_name: 'odd', primary_metric: 'recall_at_5' }), alice.token);
    expect([odd.status, odd.body.error?.code ?? odd.body.code]).toEqual([400, 'METRIC_GOAL_REQUIRED']);
  });
});

describe('sweeps with a test set', () => {
  it('rank by test_accuracy (mean ± std per point) and say where a deep model_type is below minirocket', async () => {
    const r = await api.post(
      '/v1/sweeps',
      {
        trainer: 'scorer',
        dataset_id: train,
        test_dataset_id: test,
        hyperparameters: { predict_by_type: { minirocket: 'red', enhanced_cnn_lstm: 'green', transformer: 'red' } },
        grid: { model_type: ['minirocket', 'enhanced_cnn_lstm', 'transformer'] },
        repeats: 2,
        output: { model_name: 'swept' },
      },
      alice.token,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ metric: 'test_accuracy', metric_goal: 'maximize', test_dataset_id: test });
    const s = await waitForSweep(api, alice.token, r.body.id);
    expect(s.status).toBe('succeeded');
    const ids = s.points.flatMap((p: { jobs: Array<{ id: string }> }) => p.jobs.map((j) => j.id));
    const children = await Promise.all(ids.map(async (id: string) => (await api.get(`/v1/jobs/${id}`, alice.token)).body));
    expect(children.map((c) => c.test_dataset_id)).toEqual(Array(6).fill(test));
    expect(s.ranking.map((p: { params: { model_type: string } }) => p.params.model_type).slice(2)).toEqual(['enhanced_cnn_lstm']);
    expect(s.ranking[0]).toMatchObject({ mean: 0.6, std: 0, n: 2 });
    expect(s.ranking[2]).toMatchObject({ mean: 0.3, std: 0, n: 2 });
    expect(s.notes).toEqual(["enhanced_cnn_lstm: test_accuracy 0.3 ± 0 is below minirocket's 0.6 ± 0 on this data"]);
    const point = s.points.find((p: { params: { model_type: string } }) => p.params.model_type === 'enhanced_cnn_lstm');
    expect(point.metrics.test_accuracy).toMatchObject({ mean: 0.3, std: 0, values: [0.3, 0.3] });
  });
});

describe('neurolab compare with held-out samples', () => {
  it('X_holdout/y_holdout: each architecture shows test_accuracy and test_macro_f1 per repeat with mean ± std', async () => {
    const { status, body } = await api.post(`/compat/neurolab/api/auth/login`, OPERATOR);
    expect(status).toBe(200);
    const admin = body.access_token;
    const rows = (n: number) => Array.from({ length: n }, (_, i) => [i / n, 0.1, 0.2, 0.3, 0.4]);
    const y = (counts: number[]) => counts.flatMap((n, c) => Array.from({ length: n }, () => c));
    const input = { X_train: rows(12), y_train: y([8, 4]), X_test: rows(4), y_test: y([2, 2]), n_repeats: 2 };
    const half = await api.post('/compat/neurolab/api/train/compare', { ...input, X_holdout: rows(5) }, admin);
    expect([half.status, half.body.code]).toEqual([400, 'HOLDOUT_DATA_INCOMPLETE']);
    const r = await api.post('/compat/neurolab/api/train/compare', { ...input, X_holdout: rows(5), y_holdout: y([4, 1]) }, admin);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const results = await waitForCompare(admin, r.body.job_id);
    for (const arch of ['original', 'enhanced_cnn_lstm', 'resnet_lstm', 'transformer']) {
      // The stand-in predicts the training majority (class 0): 4 of 5 held-out samples; F1 (8/9 + 0)/2.
      expect(results[arch].test_accuracy).toEqual([0.8, 0.8]);
      expect(results[arch].test_macro_f1.map((v: number) => v.toFixed(6))).toEqual(Array(2).fill((4 / 9).toFixed(6)));
      expect(results[arch].test_summary.test_accuracy).toMatchObject({ mean: 0.8, std: 0, n: 2 });
    }
    // Without held-out samples the document's shape is unchanged.
    const plain = await api.post('/compat/neurolab/api/train/compare', input, admin);
    const res = await waitForCompare(admin, plain.body.job_id);
    expect(Object.keys(res.original).sort()).toEqual(['accuracy', 'auc', 'inference_time', 'model_size', 'training_time']);
  });
});

async function waitForCompare(token: string, id: string) {
  const s = await waitFor(
    async () => (await api.get(`/compat/neurolab/api/train/status/${id}`, token)).body,
    (b) => b.status === 'completed' || b.status === 'failed',
    { timeoutMs: 30_000, message: `${id} to end` },
  );
  expect(s.status, JSON.stringify(s)).toBe('completed');
  return (await api.get(`/compat/neurolab/api/train/compare/${id}`, token)).body;
}
