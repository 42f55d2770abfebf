import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { CURL, DOC_LABELS, RETRAIN_BODY, curl } from '../helpers/training-service-doc.js';
import { waitFor } from '../helpers/wait.js';

// Seed 002 (the training service) on its own port, without the Python environment: the
// catalog points hf-sequence-classifier at a stand-in trainer (fixtures/trainers/
// fake-text-classifier.mjs) that trains in milliseconds, so every curl line of the document,
// retraining, refunds and the registry views run here on both databases. Real training is
// test/python/compat-training-service.test.ts.

const ADMIN = { username: 'operator', password: 'correct horse battery staple' };
const FAKE = path.resolve('test/fixtures/trainers/fake-text-classifier.mjs');
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

const envelope = (code: string) => ({ status: 'error', error: expect.any(String), code, timestamp: expect.stringMatching(ISO) });

async function dataDirWith(catalog: object | null, baseModels: string[]) {
  const dir = await mkdtemp(path.join(tmpdir(), 'trainyard-ts-'));
  if (catalog) await writeFile(path.join(dir, 'catalog.json'), JSON.stringify(catalog));
  for (const m of baseModels) {
    await mkdir(path.join(dir, 'models', m), { recursive: true });
    await writeFile(path.join(dir, 'models', m, 'config.json'), '{"model_type":"bert"}');
  }
  return dir;
}

const rows = (labels: string[], n: number, text = (l: string, i: number) => `example ${i} of ${l}`) =>
  labels.flatMap((l) => Array.from({ length: n }, (_, i) => JSON.stringify({ text: text(l, i), label: l }))).join('\n') + '\n';

describe('training-service facade (seed 002) with a stand-in trainer', () => {
  let t: TestApp;
  let base: string;
  let root: string;
  let admin: string;
  let key: string;
  let dataDir: string;
  const api = () => client(base);
  const v1 = () => client(t.url);
  const job = async (id: string) => (await api().get(`/jobs/${id}`)).body;
  const finished = (id: string) =>
    waitFor(
      () => job(id),
      (j) => ['completed', 'failed', 'cancelled'].includes(j.status),
      { timeoutMs: 20_000, message: `job ${id} to end` },
    );

  beforeAll(async () => {
    dataDir = await dataDirWith(
      {
        trainers: [
          {
            id: 'hf-sequence-classifier',
            runtime: { type: 'command', entry: 'fake-text-classifier', command: [process.execPath, FAKE] },
            resources: { gpus: 0, memory_mb: 256 },
          },
        ],
      },
      ['deberta-v3-base', 'roberta-base'],
    );
    t = await startTestApp({
      dataDir,
      env: {
        TRAINYARD_COMPAT: 'training-service:0',
        TRAINYARD_ADMIN_USERNAME: ADMIN.username,
        TRAINYARD_ADMIN_PASSWORD: ADMIN.password,
        WORKER_POLL_MS: '50',
      },
    });
    base = t.compatUrls['training-service']!;
    root = path.join(dataDir, 'compat', 'training-service', 'training_data');
    admin = (await v1().post('/v1/auth/login', ADMIN)).body.access_token;
    // The document's load-specific example names roberta-base: an operator registers it.
    const reg = await v1().post(
      '/v1/admin/base-models',
      { id: 'roberta-base', architecture: 'roberta', trainers: ['hf-sequence-classifier'], path: path.join(dataDir, 'models', 'roberta-base') },
      admin,
    );
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    key = (await v1().post('/v1/admin/service-accounts/training-service/api-keys', { name: 'inspect' }, admin)).body.secret;
  });
  afterAll(async () => {
    await t?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers health on its own port and under /compat/training-service; errors in the document’s envelope', async () => {
    expect(await curl(CURL.health, base)).toEqual({ status: 200, body: { status: 'running', service: 'training' } });
    expect((await v1().get('/compat/training-service/')).body).toEqual({ status: 'running', service: 'training' });
    const unknown = await api().get('/no/such/route');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(envelope('ROUTE_NOT_FOUND'));
    const invalid = await api().post('/train', { model_name: 'deberta-v3-base', config: { batch_size: 0 } });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject(envelope('VALIDATION_ERROR'));
    const extra = await api().post('/train', { model_name: 'deberta-v3-base', epochs: 3 });
    expect(extra.body).toMatchObject({ code: 'VALIDATION_ERROR', error: expect.stringContaining('epochs') });
    const notJson = await api().call('POST', '/train', { body: '{nope', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject(envelope('INVALID_JSON'));
    // The service account the facade runs as exists, cannot log in, and starts without credits.
    expect((await v1().get('/v1/me', key)).body).toMatchObject({ username: 'training-service', service_account: true });
  });

  it('before any training: the catalog’s base models with the default labels, an empty registry, no jobs', async () => {
    const av = await curl(CURL.available, base);
    expect(av.status).toBe(200);
    expect(av.body.available_models).toEqual(expect.arrayContaining(['deberta-v3-base', 'distilbert-base-uncased', 'roberta-base']));
    expect(av.body.model_configs['deberta-v3-base']).toEqual({ path: 'models/deberta-v3-base', type: 'pytorch', labels: DOC_LABELS, available: true });
    expect(av.body.model_configs['distilbert-base-uncased'].available).toBe(false);
    // A registered base model's folder is a server path: not shown.
    expect(av.body.model_configs['roberta-base'].path).toBe('local:roberta-base');
    for (const [line, shape] of [
      [CURL.registry, { latest_models: {}, best_models: {}, versions: {} }],
      [CURL.latest, { latest_models: {} }],
      [CURL.best, { best_models: {} }],
      [CURL.versions, { model_name: 'deberta-v3-base', versions: [] }],
      [CURL.jobs, { jobs: {}, total_jobs: 0, running_jobs: 0, completed_jobs: 0 }],
    ] as const)
      expect(await curl(line, base)).toEqual({ status: 200, body: shape });
    expect((await curl(CURL.modelStatus, base)).body).toMatchObject({ model_name: 'deberta-v3-base', status: 'not_trained', progress: 0, job_id: null });
    expect((await curl(CURL.model, base)).body).toMatchObject({ name: 'deberta-v3-base', trained: false, status: 'available', path: 'models/deberta-v3-base' });
    const missing = await api().get('/models/versions/no-such-model');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ ...envelope('MODEL_NOT_FOUND'), error: 'Model no-such-model not found' });
    expect((await api().get('/jobs/job_123')).body).toEqual({ ...envelope('JOB_NOT_FOUND'), error: 'Job job_123 not found' });
  });

  it('training_data_path stays inside the data root: traversal, absolute paths elsewhere and symlinks out are 400; no path needs the default file', async () => {
    const short = await curl(CURL.trainShort, base);
    expect(short.status).toBe(400);
    expect(short.body).toEqual(envelope('TRAINING_DATA_REQUIRED'));
    await writeFile(path.join(dataDir, 'outside.jsonl'), rows(['a', 'b'], 6));
    await mkdir(root, { recursive: true });
    await symlink(path.join(dataDir, 'outside.jsonl'), path.join(root, 'link.jsonl'));
    await writeFile(path.join(root, 'ok.jsonl'), rows(['a', 'b'], 6));
    for (const [p, code] of [
      ['../../outside.jsonl', 'PATH_TRAVERSAL'],
      ['/app/training_data/../../../outside.jsonl', 'PATH_TRAVERSAL'],
      ['/app/training_data/sub/../../x.jsonl', 'PATH_TRAVERSAL'],
      [path.join(dataDir, 'outside.jsonl'), 'PATH_OUTSIDE_DATA_ROOT'],
      ['/etc/passwd', 'PATH_OUTSIDE_DATA_ROOT'],
      ['/app/training_data/link.jsonl', 'PATH_OUTSIDE_DATA_ROOT'],
      ['link.jsonl', 'PATH_OUTSIDE_DATA_ROOT'],
      ['/app/training_data/missing.jsonl', 'TRAINING_DATA_NOT_FOUND'],
      ['/app/training_data', 'PATH_OUTSIDE_DATA_ROOT'],
    ] as const) {
      const r = await api().post('/train', { model_name: 'deberta-v3-base', training_data_path: p });
      expect({ p, status: r.status, body: r.body }).toEqual({ p, status: 400, body: envelope(code) });
    }
    const unknownModel = await api().post('/train', { model_name: 'gpt-17', training_data_path: 'ok.jsonl' });
    expect(unknownModel.status).toBe(404);
    expect(unknownModel.body.code).toBe('MODEL_NOT_FOUND');
    // Without credits the service cannot train: the document's 503 (402 in /v1).
    const broke = await api().post('/train', { model_name: 'deberta-v3-base', training_data_path: 'ok.jsonl' });
    expect(broke.status).toBe(503);
    expect(broke.body).toEqual({ ...envelope('INSUFFICIENT_CREDITS'), details: { balance: 0, cost: 12 } });
    expect((await api().get('/jobs')).body.total_jobs).toBe(0);
  });

  let first: string;
  it('every curl line of the document: sample data, train (documented defaults), job status, registry, models, loading, logs', async () => {
    expect((await v1().post('/v1/admin/credits/grants', { username: 'training-service', credits: 200 }, admin)).status).toBe(201);
    const sample = await curl(CURL.sampleData, base);
    expect(sample).toEqual({
      status: 200,
      body: {
        message: 'Sample data created',
        path: '/app/training_data/sample_training_data.jsonl',
        count: 20,
        categories: { prompt_injection: 5, jailbreak: 5, system_extraction: 5, code_injection: 5 },
      },
    });
    const lines = (await readFile(path.join(root, 'sample_training_data.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(20);
    expect(Object.keys(lines[0])).toEqual(['text', 'label']);

    const train = await curl(CURL.train, base);
    expect(train.status, JSON.stringify(train.body)).toBe(200);
    expect(train.body).toEqual({
      message: 'Training started',
      model_name: 'deberta-v3-base',
      job_id: expect.stringMatching(/^job_/),
      config: {
        model_name: 'deberta-v3-base',
        max_length: 256,
        batch_size: 8,
        learning_rate: 0.00002,
        num_epochs: 2,
        warmup_steps: 100,
        weight_decay: 0.01,
        metric_for_best_model: 'f1',
        greater_is_better: true,
      },
    });
    first = train.body.job_id;
    await finished(first);
    const status = await curl(CURL.job, base, first);
    expect(status.body).toMatchObject({
      job_id: first,
      model_name: 'deberta-v3-base',
      status: 'completed',
      progress: 100,
      current_epoch: 2,
      total_epochs: 2,
      current_loss: expect.any(Number),
      best_metric: 0.7,
      start_time: expect.stringMatching(ISO),
      estimated_completion: expect.stringMatching(ISO),
      result: { model_name: 'deberta-v3-base', version: 'v1.0.1', mlflow_uri: 'models:/deberta-v3-base/1' },
      error: null,
    });
    // An ordinary Trainyard job of the service account, with the document's defaults sent explicitly.
    const canonical = (await v1().get(`/v1/jobs/${first}`, key)).body;
    expect(canonical).toMatchObject({ trainer: 'hf-sequence-classifier', base_model: 'deberta-v3-base', output: { model_name: 'deberta-v3-base' } });
    expect(canonical.hyperparameters).toMatchObject({ batch_size: 8, num_epochs: 2, learning_rate: 0.00002 });
    expect((await v1().get(`/v1/datasets/${canonical.dataset_id}`, key)).body).toMatchObject({ kind: 'text-classification-jsonl', status: 'ready' });
    expect((await v1().get('/v1/jobs?model_name=deberta-v3-base', key)).body.data.map((j: { id: string }) => j.id)).toEqual([first]);

    const entry = { model_name: 'deberta-v3-base', version: 'v1.0.1', run_id: first, f1_score: 0.7, accuracy: 0.705, timestamp: expect.stringMatching(ISO) };
    const reg = (await curl(CURL.registry, base)).body;
    expect(reg.latest_models['deberta-v3-base']).toEqual({ ...entry, mlflow_uri: 'models:/deberta-v3-base/latest' });
    expect(reg.best_models['deberta-v3-base']).toEqual({ ...entry, mlflow_uri: 'models:/deberta-v3-base/best' });
    expect(reg.versions['deberta-v3-base']).toEqual([{ ...entry, mlflow_uri: 'models:/deberta-v3-base/1' }]);
    expect((await curl(CURL.latest, base)).body).toEqual({ latest_models: { 'deberta-v3-base': reg.latest_models['deberta-v3-base'] } });
    expect((await curl(CURL.best, base)).body).toEqual({ best_models: { 'deberta-v3-base': reg.best_models['deberta-v3-base'] } });
    expect((await curl(CURL.versions, base)).body).toEqual({ model_name: 'deberta-v3-base', versions: reg.versions['deberta-v3-base'] });
    // The reference resolves in /v1: models:/<name>/<ref> is /v1/models/<name>/versions/<ref>.
    for (const ref of ['1', 'latest', 'best']) expect((await v1().get(`/v1/models/deberta-v3-base/versions/${ref}`, key)).body.job_id).toBe(first);

    const models = (await curl(CURL.models, base)).body;
    expect(models.models['deberta-v3-base']).toEqual({
      name: 'deberta-v3-base',
      type: 'pytorch',
      trained: true,
      path: '/v1/models/deberta-v3-base/versions/1',
      status: 'completed',
      performance: { accuracy: 0.705, f1_score: 0.7 },
    });
    expect(models.available_models).toEqual(expect.arrayContaining(['deberta-v3-base', 'roberta-base']));
    expect(models.model_info['roberta-base']).toMatchObject({ trained: false, status: 'available' });
    expect((await curl(CURL.model, base)).body).toEqual({
      name: 'deberta-v3-base',
      type: 'pytorch',
      trained: true,
      path: '/v1/models/deberta-v3-base/versions/1',
      status: 'completed',
      performance: { accuracy: 0.705, f1_score: 0.7, precision: 0.69, recall: 0.71 },
      training_info: { last_trained: expect.stringMatching(ISO), epochs: 2, batch_size: 8, learning_rate: 0.00002 },
    });
    expect((await curl(CURL.modelStatus, base)).body).toMatchObject({
      model_name: 'deberta-v3-base',
      status: 'completed',
      job_id: first,
      progress: 100,
      total_epochs: 2,
    });
    expect((await curl(CURL.jobs, base)).body).toEqual({
      jobs: {
        [first]: {
          job_id: first,
          model_name: 'deberta-v3-base',
          status: 'completed',
          progress: 100,
          start_time: expect.any(String),
          estimated_completion: expect.any(String),
        },
      },
      total_jobs: 1,
      running_jobs: 0,
      completed_jobs: 1,
    });

    // Loading: base models present on disk are "loaded" (nothing is downloaded); the stand-in
    // trainer's models cannot be served, so the trained one stays not_loaded.
    expect((await curl(CURL.loadingStart, base)).body).toEqual({
      message: 'Model loading started',
      total_models: 3,
      loading_models: expect.arrayContaining(['deberta-v3-base', 'roberta-base', 'distilbert-base-uncased']),
    });
    expect((await curl(CURL.loadSpecific, base)).body).toEqual({
      message: 'Loading specific models started',
      models: ['deberta-v3-base', 'roberta-base'],
      status: 'loading',
    });
    expect((await curl(CURL.loadSingle, base)).body).toEqual({
      message: 'Loading model deberta-v3-base started',
      model_name: 'deberta-v3-base',
      status: 'loading',
    });
    const loading = (await curl(CURL.loadingStatus, base)).body;
    expect(loading).toMatchObject({ loading_in_progress: false, loaded_models: 1, total_models: 3, progress: 33.3 });
    expect(loading.models['roberta-base']).toEqual({ status: 'loaded', progress: 100, source: 'local (local:roberta-base)' });
    expect(loading.models['distilbert-base-uncased']).toMatchObject({ status: 'not_installed', progress: 0 });
    expect(loading.models['deberta-v3-base']).toEqual({ status: 'not_loaded', progress: 0, source: 'trainyard registry (models:/deberta-v3-base/1)' });
    expect((await api().post('/model-loading/load-single', { model_name: 'nope' })).body.code).toBe('MODEL_NOT_FOUND');
    const notInstalled = await api().post('/model-loading/load-specific', { models: ['distilbert-base-uncased'] });
    expect(notInstalled.status).toBe(503);
    expect(notInstalled.body.code).toBe('BASE_MODEL_UNAVAILABLE');

    const logs = (await curl(CURL.logs, base)).body;
    expect(logs.total_logs).toBe(logs.logs.length);
    const mine = logs.logs.filter((l: { job_id: string }) => l.job_id === first);
    expect(mine.map((l: { message: string }) => l.message)).toEqual(
      expect.arrayContaining([
        'Training started for deberta-v3-base',
        expect.stringMatching(/^Epoch 1\/2 completed/),
        'Training completed for deberta-v3-base',
      ]),
    );
    for (const l of logs.logs)
      expect(l).toEqual({
        timestamp: expect.stringMatching(ISO),
        level: expect.stringMatching(/^(INFO|WARNING|ERROR)$/),
        message: expect.any(String),
        job_id: first,
      });
    const times = logs.logs.map((l: { timestamp: string }) => l.timestamp);
    expect([...times].sort()).toEqual(times);
    expect((await api().get('/logs?limit=2')).body.logs).toEqual(logs.logs.slice(-2));
  });

  it('retrain warm-starts from the latest version and makes version 2; /models/latest moves', async () => {
    await writeFile(
      path.join(root, 'new_data.jsonl'),
      rows(['prompt_injection', 'jailbreak', 'system_extraction', 'code_injection'], 4, (l, i) => `fresh ${l} sample ${i}`),
    );
    const r = await curl(CURL.retrain, base);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      message: 'Retraining started',
      model_name: 'deberta-v3-base',
      config: { batch_size: 8, learning_rate: 0.00002, num_epochs: 2 },
    });
    expect((await finished(r.body.job_id)).status).toBe('completed');
    const latest = (await curl(CURL.latest, base)).body.latest_models['deberta-v3-base'];
    expect(latest).toMatchObject({ version: 'v1.0.2', run_id: r.body.job_id, f1_score: 0.8 });
    expect((await curl(CURL.best, base)).body.best_models['deberta-v3-base']).toMatchObject({ version: 'v1.0.2' });
    expect((await curl(CURL.versions, base)).body.versions.map((v: { version: string }) => v.version)).toEqual(['v1.0.2', 'v1.0.1']);
    const v2 = (await v1().get('/v1/models/deberta-v3-base/versions/2', key)).body;
    expect(v2.parent_version_id).toEqual((await v1().get('/v1/models/deberta-v3-base/versions/1', key)).body.id ?? expect.stringMatching(/^mv_/));
    expect((await v1().get(`/v1/jobs/${r.body.job_id}`, key)).body.from_model).toEqual({ name: 'deberta-v3-base', version: 1 });

    // The document's request-body example: its config over the defaults, echoed.
    const again = await api().post('/retrain', RETRAIN_BODY);
    expect(again.body.config).toEqual({ ...r.body.config, learning_rate: 0.00001, num_epochs: 2 });
    expect((await finished(again.body.job_id)).status).toBe('completed');
    expect((await curl(CURL.latest, base)).body.latest_models['deberta-v3-base'].version).toBe('v1.0.3');
    const none = await api().post('/retrain', { model_name: 'roberta-base', training_data_path: 'new_data.jsonl' });
    expect(none.status).toBe(404);
    expect(none.body.code).toBe('MODEL_NOT_FOUND');
  });

  it('a failed job refunds the service account: the ledger shows the hold, then its release', async () => {
    await writeFile(
      path.join(root, 'broken.jsonl'),
      rows(['a', 'b'], 6, (l, i) => `FAIL_THIS_JOB ${l} ${i}`),
    );
    const before = (await v1().get('/v1/credits/balance', key)).body;
    const r = await api().post('/train', { model_name: 'deberta-v3-base', training_data_path: '/app/training_data/broken.jsonl' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const failed = await finished(r.body.job_id);
    expect(failed).toMatchObject({ status: 'failed', result: null, error: { code: 'TRAINER_FAILED' } });
    const ledger = (await v1().get('/v1/credits/transactions?limit=5', key)).body.data.filter((x: { job_id: string }) => x.job_id === r.body.job_id);
    expect(ledger.map((x: { type: string }) => x.type)).toEqual(['release', 'hold']);
    expect(ledger[0].amount).toBe(-ledger[1].amount);
    expect((await v1().get('/v1/credits/balance', key)).body.balance).toBe(before.balance);
    const logs = (await api().get('/logs')).body.logs.filter((l: { job_id: string }) => l.job_id === r.body.job_id);
    expect(logs).toEqual(
      expect.arrayContaining([expect.objectContaining({ level: 'ERROR', message: expect.stringMatching(/^Training failed for deberta-v3-base/) })]),
    );
    // The latest job of the model is the failed one; the registry still shows version 3.
    expect((await curl(CURL.modelStatus, base)).body).toMatchObject({ status: 'failed', job_id: r.body.job_id });
    expect((await curl(CURL.latest, base)).body.latest_models['deberta-v3-base'].version).toBe('v1.0.3');
  });

  it('sees only the service account’s jobs and models: a person’s job and model of the same name are not there', async () => {
    const person = await v1().user('someone');
    const f = await v1().upload(person.token, 'mine.jsonl', rows(['x', 'y'], 6));
    const d = await v1().post('/v1/datasets', { name: 'mine', kind: 'text-classification-jsonl', file_ids: [f.body.id] }, person.token);
    const ds = await waitFor(
      async () => (await v1().get(`/v1/datasets/${d.body.id}`, person.token)).body,
      (x) => x.status !== 'processing',
    );
    expect(ds.status).toBe('ready');
    const j = await v1().post(
      '/v1/jobs',
      { trainer: 'hf-sequence-classifier', dataset_id: ds.id, base_model: 'deberta-v3-base', output: { model_name: 'deberta-v3-base' } },
      person.token,
    );
    expect(j.status, JSON.stringify(j.body)).toBe(202);
    await waitFor(
      async () => (await v1().get(`/v1/jobs/${j.body.id}`, person.token)).body.status,
      (st) => st === 'succeeded',
    );
    expect((await api().get(`/jobs/${j.body.id}`)).body).toEqual({ ...envelope('JOB_NOT_FOUND'), error: `Job ${j.body.id} not found` });
    expect(Object.keys((await api().get('/jobs')).body.jobs)).not.toContain(j.body.id);
    const versions = (await curl(CURL.versions, base)).body.versions.map((v: { run_id: string }) => v.run_id);
    expect(versions).not.toContain(j.body.id);
    expect((await api().get('/logs?limit=1000')).body.logs.some((l: { job_id: string }) => l.job_id === j.body.id)).toBe(false);
  });

  it('the same file trains again from the same dataset; the /compat mount runs the same routes', async () => {
    const a = (await v1().get(`/v1/jobs/${first}`, key)).body.dataset_id;
    const r = await v1().post('/compat/training-service/train', { model_name: 'deberta-v3-base' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect((await v1().get(`/v1/jobs/${r.body.job_id}`, key)).body.dataset_id).toBe(a);
    expect((await finished(r.body.job_id)).status).toBe('completed');
    const viaMount = (await v1().get(`/compat/training-service/jobs/${r.body.job_id}`)).body;
    expect(viaMount).toMatchObject({ job_id: r.body.job_id, status: 'completed' });
    expect((await v1().get('/compat/training-service/nope')).body).toEqual(envelope('ROUTE_NOT_FOUND'));
  });
});

describe('training-service facade: API key, trainer unavailable, settings', () => {
  const KEY = 'operator-chosen-key-0123456789';
  let t: TestApp;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await dataDirWith(null, ['deberta-v3-base']);
    // No Python environment here: hf-sequence-classifier is not available.
    t = await startTestApp({
      dataDir,
      env: { TRAINYARD_COMPAT: 'training-service:0', COMPAT_TRAINING_SERVICE_API_KEY: KEY, TRAINER_PYTHON: path.join(dataDir, 'no-python') },
    });
  });
  afterAll(async () => {
    await t?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('needs the operator’s key when one is set: X-API-Key or Authorization: Bearer; else 401 in the envelope', async () => {
    const api = client(t.compatUrls['training-service']!);
    for (const headers of <Array<Record<string, string>>>[{}, { 'x-api-key': 'wrong' }, { authorization: 'Bearer wrong' }, { authorization: `Basic ${KEY}` }]) {
      const r = await api.call('GET', '/', { headers });
      expect(r.status).toBe(401);
      expect(r.body).toEqual(envelope('UNAUTHORIZED'));
    }
    expect((await api.call('GET', '/', { headers: { 'x-api-key': KEY } })).body).toEqual({ status: 'running', service: 'training' });
    expect((await api.call('GET', '/jobs', { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
    expect((await client(t.url).get('/compat/training-service/models')).status).toBe(401);
    expect((await client(t.url).call('GET', '/compat/training-service/models', { headers: { 'x-api-key': KEY } })).status).toBe(200);
  });

  it('answers 503 when the trainer is not available (documented in the route’s schema)', async () => {
    const api = client(t.compatUrls['training-service']!);
    const headers = { 'x-api-key': KEY };
    expect((await api.call('POST', '/create-sample-data', { headers })).status).toBe(200);
    const r = await api.call('POST', '/train', { headers, json: { model_name: 'deberta-v3-base' } });
    expect(r.status).toBe(503);
    expect(r.body).toEqual(envelope('TRAINER_UNAVAILABLE'));
    const doc = (await client(t.url).get('/openapi.json')).body;
    const op = doc.paths['/compat/training-service/train'].post;
    expect(op.tags).toEqual(['compat: training-service']);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '404', '429', '500', '503']));
    const ref = op.responses['503'].content['application/json'].schema.$ref.split('/').pop();
    expect(doc.components.schemas[ref].required).toEqual(['status', 'error', 'code', 'timestamp']);
  });

  it('a bad setting stops start-up with a message naming the variable', async () => {
    await expect(startTestApp({ env: { TRAINYARD_COMPAT: 'training-service', COMPAT_TRAINING_SERVICE_PATH_PREFIX: 'app/data' } })).rejects.toThrow(
      /COMPAT_TRAINING_SERVICE_PATH_PREFIX/,
    );
    await expect(startTestApp({ env: { TRAINYARD_COMPAT: 'training-service', COMPAT_TRAINING_SERVICE_ACCOUNT: 'x' } })).rejects.toThrow(
      /COMPAT_TRAINING_SERVICE_ACCOUNT/,
    );
  });
});
