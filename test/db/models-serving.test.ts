import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelCache } from '../../src/serving/cache.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, signalCsv, testTrainers } from '../helpers/jobs.js';
import { waitForDataset, waitForJob, waitForSweep } from '../helpers/wait.js';

let t: TestApp;
let api: ReturnType<typeof client>;
let u: Awaited<ReturnType<ReturnType<typeof client>['user']>>;
let other: typeof u;
let ds: string;

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-serving-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  // Predict limits lowered from their defaults (16 MiB, 10000) so going over them stays cheap.
  const env = { WORKER_POLL_MS: '50', WORKER_DRAIN_MS: '0', SIGNUP_CREDIT_GRANT: '500', PREDICT_MAX_BYTES: '3mib', PREDICT_MAX_INSTANCES: '2500' };
  t = await startTestApp({ dataDir, env });
  api = client(t.url);
  u = await api.user('owner');
  other = await api.user('visitor');
  ds = await csvDataset(api, u.token, 'signal', signalCsv(600, 11));
});
afterAll(() => t.close());

describe('prediction', () => {
  it('predicts with the same preprocessing as training, by version or alias, and counts popularity', async () => {
    const r = await api.post(
      '/v1/jobs',
      { trainer: 'linear-classifier', dataset_id: ds, hyperparameters: { epochs: 30 }, output: { model_name: 'colours' } },
      u.token,
    );
    expect((await waitForJob(api, u.token, r.body.id)).status).toBe('succeeded');
    // f1 dominant → red, f2 → green, f3 → blue (see signalCsv).
    const instances = [
      { f1: 0.9, f2: -0.5, f3: -0.2 },
      { f1: -0.4, f2: 0.8, f3: 0.1 },
      { f1: -0.3, f2: 0.0, f3: 0.95 },
    ];
    const p = await api.post('/v1/models/colours/predict', { instances }, u.token);
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ model: 'colours', version: 1 });
    expect(p.body.predictions.map((x: any) => x.label)).toEqual(['red', 'green', 'blue']);
    for (const x of p.body.predictions) expect(Object.values(x.probabilities as Record<string, number>).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect((await api.post('/v1/models/colours/predict', { alias: 'best', instances: [instances[0]] }, u.token)).body.predictions[0].label).toBe('red');
    expect((await api.post('/v1/models/colours/predict', { version: 1, instances: [instances[1]] }, u.token)).body.predictions[0].label).toBe('green');
    expect((await api.get('/v1/models/colours', u.token)).body.popularity).toBe(3);

    const status = await api.get('/v1/serving/status', u.token);
    expect(status.body.data).toEqual([expect.objectContaining({ model: 'colours', version: 1, state: 'ready', progress: 1 })]);
    expect((await api.get('/v1/serving/status', other.token)).body.data).toEqual([]);
  });

  it('rejects bad instances (400), unknown versions (404) and strangers (404)', async () => {
    const bad = await api.post('/v1/models/colours/predict', { instances: ['not a row'] }, u.token);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_INSTANCES');
    expect((await api.post('/v1/models/colours/predict', { instances: [] }, u.token)).status).toBe(400);
    expect((await api.post('/v1/models/colours/predict', { version: 9, instances: [{ f1: 1 }] }, u.token)).status).toBe(404);
    expect((await api.post('/v1/models/colours/predict', { instances: [{ f1: 1 }] }, other.token)).status).toBe(404);
  });

  it('loads ahead of use (202) and serves public models to others by owner/name', async () => {
    const load = await api.call('POST', '/v1/models/colours/load', { token: u.token, json: {} });
    expect(load.status).toBe(202);
    expect(['loading', 'ready']).toContain(load.body.state);
    await api.call('PATCH', '/v1/models/colours', { token: u.token, json: { visibility: 'public' } });
    const p = await api.post(`/v1/models/${encodeURIComponent('owner/colours')}/predict`, { instances: [{ f1: 0.9, f2: 0, f3: 0 }] }, other.token);
    expect(p.body.predictions[0].label).toBe('red');
    // Another user loading the public model is told its state too (it was a 202 with no body).
    const theirs = await api.call('POST', `/v1/models/${encodeURIComponent('owner/colours')}/load`, { token: other.token, json: {} });
    expect(theirs.status).toBe(202);
    expect(theirs.body).toMatchObject({ model: 'colours', version_id: load.body.version_id, state: 'ready', progress: 1 });
    // Their own status lists only their own models.
    expect((await api.get('/v1/serving/status', other.token)).body.data.map((e: any) => e.model)).not.toContain('colours');
  });

  it('closing the cache waits for a load under way and closes the predictor it brings (no process left behind)', async () => {
    const s = t.rt.services;
    const m = await s.registry.resolve(u.id, 'colours');
    const v = await s.registry.versionRow(m, 'latest');
    const key = { versionId: v.id, model: m.name, owner: m.owner_id, version: v.version, totalBytes: await s.registry.artifactBytes(v.id) };
    // A stand-in predictor module: its load is held until the test lets it finish, the way a
    // Python predictor's seconds of loading torch would be; its close() is what is checked.
    let finish!: () => void;
    const loaded = new Promise<void>((r) => (finish = r));
    let asked!: () => void;
    const started = new Promise<void>((r) => (asked = r));
    const closed: string[] = [];
    const predictor = { bytes: 1, predict: async () => [], dispose: () => closed.push('dispose'), close: async () => void closed.push('close') };
    const cache = new ModelCache({
      registry: s.registry,
      dir: await mkdtemp(path.join(tmpdir(), 'trainyard-serving-cache-')),
      maxBytes: 1 << 30,
      predictors: () => ({ loadPredictor: async () => (asked(), await loaded, predictor) }),
    });
    const load = cache.get(key, s.catalog.trainer(m.trainer));
    await started;
    const closing = cache.close();
    finish();
    await closing;
    expect(closed).toEqual(['close']);
    await expect(load).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
    await expect(cache.get(key, s.catalog.trainer(m.trainer))).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
    expect(cache.list()).toEqual([]);
  });

  it('answers labels in their training type and says how many missing values it filled', async () => {
    const numbered = signalCsv(600, 11).replace(/,(red|green|blue)$/gm, (_, c: string) => `,${['red', 'green', 'blue'].indexOf(c) + 1}`);
    const nds = await csvDataset(api, u.token, 'numbered', numbered);
    const r = await api.post(
      '/v1/jobs',
      { trainer: 'linear-classifier', dataset_id: nds, hyperparameters: { epochs: 30 }, output: { model_name: 'numbered' } },
      u.token,
    );
    expect((await waitForJob(api, u.token, r.body.id)).status).toBe('succeeded');
    const p = await api.post(
      '/v1/models/numbered/predict',
      {
        instances: [
          { f1: 0.9, f2: -0.5, f3: -0.2 },
          { f1: null, f2: 0.8 },
        ],
      },
      u.token,
    );
    expect(p.status).toBe(200);
    expect(p.body.predictions[0].label).toBe(1);
    expect(p.body.predictions[0].filled).toBeUndefined();
    expect(Object.keys(p.body.predictions[0].probabilities).sort()).toEqual(['1', '2', '3']);
    expect(p.body.predictions[1]).toMatchObject({ label: 2, filled: 2 });
    const bad = await api.post('/v1/models/numbered/predict', { instances: [{ f1: 1 }, { f1: 'abc' }] }, u.token);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'INVALID_INSTANCES', message: 'instances[1]: feature "f1" must be a number, got "abc"' });
    // The OpenAPI document describes what comes back.
    const doc = (await api.get('/openapi.json')).body;
    const item = doc.paths['/v1/models/{name}/predict'].post.responses['200'].content['application/json'].schema.properties.predictions.items;
    expect(item.properties.filled).toMatchObject({ type: 'integer' });
    expect(item.properties.label.anyOf.map((x: { type: string }) => x.type)).toEqual(['string', 'number', 'boolean']);
  });

  it('takes bodies of many recordings up to PREDICT_MAX_BYTES and answers 413 past it or past PREDICT_MAX_INSTANCES', async () => {
    // ~1 KiB instances (columns the model ignores pad them, as a recording's extra channels would).
    const pad = 'x'.repeat(1000);
    const instances = (n: number) => Array.from({ length: n }, (_, i) => ({ f1: (i % 7) / 7, f2: 0.1, f3: -0.1, note: pad }));
    const big = { instances: instances(2100) };
    expect(JSON.stringify(big).length).toBeGreaterThan(2 * 1024 ** 2);
    const ok = await api.post('/v1/models/colours/predict', big, u.token);
    expect(ok.status).toBe(200);
    expect(ok.body.predictions).toHaveLength(2100);

    const tooBig = await api.post('/v1/models/colours/predict', { instances: instances(2400).map((x) => ({ ...x, note: pad + pad })) }, u.token);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe('PREDICT_BODY_TOO_LARGE');
    expect(tooBig.body.error.message).toMatch(/at most 3 MiB \(setting PREDICT_MAX_BYTES\)/);

    const tooMany = await api.post('/v1/models/colours/predict', { instances: Array.from({ length: 2501 }, () => ({ f1: 1 })) }, u.token);
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.error.code).toBe('TOO_MANY_INSTANCES');
    expect(tooMany.body.error.message).toMatch(/2501 instances, at most 2500 .*PREDICT_MAX_INSTANCES/);
    // Other JSON bodies keep the server-wide 1 MiB.
    const other = await api.post('/v1/datasets', { name: 'x'.repeat(1024 ** 2 + 10) }, u.token);
    expect(other.status).toBe(413);
    expect(other.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('models of a trainer without a predictor answer 409 PREDICTION_NOT_SUPPORTED', async () => {
    const r = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, output: { model_name: 'echoed' } }, u.token);
    await waitForJob(api, u.token, r.body.id);
    const p = await api.post('/v1/models/echoed/predict', { instances: [{}] }, u.token);
    expect(p.status).toBe(409);
    expect(p.body.error.code).toBe('PREDICTION_NOT_SUPPORTED');
  });
});

describe('retraining', () => {
  it('warm-starts from a version: the trainer receives its artifacts and the new version records its parent', async () => {
    const first = await api.post('/v1/jobs', { trainer: 'warm', dataset_id: ds, output: { model_name: 'gen' } }, u.token);
    await waitForJob(api, u.token, first.body.id);
    const again = await api.post(
      '/v1/jobs',
      { trainer: 'warm', dataset_id: ds, from_model: { name: 'gen', alias: 'latest' }, output: { model_name: 'gen' } },
      u.token,
    );
    expect(again.body.from_model).toEqual({ name: 'gen', version: 1 });
    const done = await waitForJob(api, u.token, again.body.id);
    expect(done.result.metrics.generation).toBe(2);
    const v1 = (await api.get('/v1/models/gen/versions/1', u.token)).body;
    const v2 = (await api.get('/v1/models/gen/versions/2', u.token)).body;
    const { rows } = await t.testDb.db.query<{ id: string }>('select id from model_versions where job_id = $1', [first.body.id]);
    expect(v2.parent_version_id).toBe(rows[0]!.id);
    expect(v1.parent_version_id).toBeNull();
    const logs = (await api.get(`/v1/jobs/${again.body.id}/logs`, u.token)).body.data.map((l: any) => l.message);
    expect(logs).toContain('warm start from: model');
  });

  it('refuses warm start for trainers that cannot, from another trainer’s model, and without a version', async () => {
    expect(
      (await api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, from_model: { name: 'echoed', version: 1 }, output: { model_name: 'echoed' } }, u.token))
        .body.error.code,
    ).toBe('WARM_START_NOT_SUPPORTED');
    expect(
      (await api.post('/v1/jobs', { trainer: 'warm', dataset_id: ds, from_model: { name: 'colours', version: 1 }, output: { model_name: 'gen' } }, u.token))
        .body.error.code,
    ).toBe('FROM_MODEL_TRAINER_MISMATCH');
    expect(
      (await api.post('/v1/jobs', { trainer: 'warm', dataset_id: ds, from_model: { name: 'gen' }, output: { model_name: 'gen' } }, u.token)).body.error.code,
    ).toBe('FROM_MODEL_REF');
    expect(
      (await api.post('/v1/jobs', { trainer: 'warm', dataset_id: ds, from_model: { name: 'nope', version: 1 }, output: { model_name: 'gen' } }, u.token))
        .status,
    ).toBe(404);
  });
});

describe('sweeps', () => {
  it('runs a grid × repeats, aggregates mean, std and every value per point, and picks the best', async () => {
    const r = await api.post(
      '/v1/sweeps',
      {
        trainer: 'echo',
        dataset_id: ds,
        hyperparameters: { sleep_ms: 1 },
        grid: { steps: [2, 4] },
        repeats: 2,
        metric: 'score',
        output: { model_name: 'swept' },
      },
      u.token,
    );
    expect(r.status).toBe(201);
    expect(Object.values(r.body.job_counts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(4);
    expect(r.body.cost).toBe(20);
    const s = await waitForSweep(api, u.token, r.body.id);
    expect(s.status).toBe('succeeded');
    expect(s.points).toHaveLength(2);
    const two = s.points.find((p: any) => p.params.steps === 2);
    expect(two.metrics.score).toEqual({ mean: 2, std: 0, min: 2, max: 2, values: [2, 2] });
    expect(two.jobs.map((j: any) => j.repeat).sort()).toEqual([0, 1]);
    expect(s.best).toEqual({ params: { steps: 4 }, score: 4 });
    // Every run is a version of one model; `best` points at a steps=4 run.
    const m = (await api.get('/v1/models/swept', u.token)).body;
    expect(m.version_count).toBe(4);
    expect((await api.get(`/v1/models/swept/versions/${m.aliases.best}`, u.token)).body.hyperparameters.steps).toBe(4);
  });

  it('gives each repeat its own seed when the trainer takes one', async () => {
    const r = await api.post(
      '/v1/sweeps',
      {
        trainer: 'linear-classifier',
        dataset_id: ds,
        hyperparameters: { epochs: 2, seed: 7 },
        grid: { learning_rate: [0.1] },
        repeats: 3,
        output: { model_name: 'seeds' },
      },
      u.token,
    );
    expect(r.status).toBe(201);
    const { rows } = await t.testDb.db.query<{ seed: number }>(
      "select (hyperparameters->>'seed')::int as seed from jobs where sweep_id = $1 order by sweep_repeat",
      [r.body.id],
    );
    expect(rows.map((x) => x.seed)).toEqual([7, 8, 9]);
    await api.post(`/v1/sweeps/${r.body.id}/cancel`, {}, u.token);
  });

  it('is created whole or not at all (402), and cancelling a sweep cancels its children', async () => {
    const poor = await api.user('poor');
    const pds = await csvDataset(api, poor.token, 'd');
    await t.testDb.db.query('update credit_accounts set balance = 12 where user_id = $1', [poor.id]);
    const tooBig = await api.post('/v1/sweeps', { trainer: 'echo', dataset_id: pds, grid: { steps: [1, 2, 3] }, output: { model_name: 'x' } }, poor.token);
    expect(tooBig.status).toBe(402);
    expect((await api.get('/v1/jobs', poor.token)).body.data).toEqual([]);
    expect((await api.get('/v1/sweeps', poor.token)).body.data).toEqual([]);

    const r = await api.post('/v1/sweeps', { trainer: 'gpu-echo', dataset_id: ds, grid: { steps: [1, 2, 3] }, output: { model_name: 'never' } }, u.token);
    expect(r.status).toBe(201);
    const c = await api.post(`/v1/sweeps/${r.body.id}/cancel`, {}, u.token);
    expect(c.body.status).toBe('cancelled');
    expect(c.body.job_counts).toEqual({ cancelled: 3 });
    expect((await api.get(`/v1/sweeps/${r.body.id}`, other.token)).status).toBe(404);
  });

  it('ranks by a metric named like an object member (toString, __proto__) as by any other (none of the points has it); a cancel after the end leaves its status', async () => {
    for (const metric of ['toString', '__proto__']) {
      const r = await api.post(
        '/v1/sweeps',
        { trainer: 'echo', dataset_id: ds, hyperparameters: { sleep_ms: 1 }, grid: { steps: [1] }, metric, output: { model_name: `odd-${metric.length}` } },
        u.token,
      );
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      const s = await waitForSweep(api, u.token, r.body.id);
      expect(s).toMatchObject({ status: 'succeeded', best: null, ranking: [] });
      expect((await api.get('/v1/sweeps', u.token)).status).toBe(200);
      // A cancel after the end stops nothing, and says so: the sweep stays succeeded.
      const late = await api.post(`/v1/sweeps/${r.body.id}/cancel`, {}, u.token);
      expect(late.status).toBe(200);
      expect(late.body.status).toBe('succeeded');
    }
  });

  it('validates the grid', async () => {
    expect((await api.post('/v1/sweeps', { trainer: 'echo', dataset_id: ds, grid: {} }, u.token)).status).toBe(400);
    expect((await api.post('/v1/sweeps', { trainer: 'echo', dataset_id: ds, grid: { steps: [0] } }, u.token)).body.error.code).toBe('INVALID_HYPERPARAMETERS');
    expect(
      (
        await api.post(
          '/v1/sweeps',
          { trainer: 'echo', dataset_id: ds, grid: { steps: Array.from({ length: 50 }, (_, i) => i + 1), sleep_ms: [1, 2, 3, 4, 5] } },
          u.token,
        )
      ).body.error.code,
    ).toBe('SWEEP_TOO_LARGE');
  });
});

describe('sample data', () => {
  it.each([
    [
      'eeg',
      { row_count: 6000, class_counts: expect.objectContaining({ relaxed: expect.any(Number), focused: expect.any(Number), drowsy: expect.any(Number) }) },
    ],
    ['security-prompts', { row_count: 600, class_counts: { prompt_injection: 120, jailbreak: 120, system_extraction: 120, code_injection: 120, benign: 120 } }],
    ['images', { image_count: 12, min_width: 256, max_width: 256 }],
  ])('POST /v1/datasets/samples %s gives a ready dataset', async (kind, stats) => {
    const r = await api.post('/v1/datasets/samples', { kind }, u.token);
    expect(r.status).toBe(201);
    const d = await waitForDataset(api, u.token, r.body.id);
    expect(d.status).toBe('ready');
    expect(d.stats).toMatchObject(stats);
  });
});
