import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';

// The EEG training API (seed 001) served by the neurolab facade, on its own port and under
// /compat/neurolab: every route, its shapes, states and units, and the document's own data.
// Jobs train for real (sequence-classifier in the in-process worker) on tiny data.

const OPERATOR = { username: 'operator', password: 'correct horse battery staple' };
const ROW = [0.5, 0.3, 0.2, 0.1, 0.4];
/** The document's "Train Model with Data" example, as written. */
const DOC_EXAMPLE = {
  X_train: Array.from({ length: 100 }, () => ROW),
  y_train: [...Array.from({ length: 33 }, () => [0, 1, 2]).flat(), 0],
  X_test: Array.from({ length: 20 }, () => [0.4, 0.2, 0.1, 0.05, 0.3]),
  y_test: [...Array.from({ length: 6 }, () => [0, 1, 2]).flat(), 0, 1],
  config: { model_type: 'enhanced_cnn_lstm', epochs: 10, batch_size: 16 },
};
/** The document's CSV format section, as written. */
const DOC_CSV = 'timestamp,alpha,beta,theta,delta,gamma,state\n2024-01-15T10:00:00,0.5,0.3,0.2,0.1,0.4,0\n2024-01-15T10:00:01,0.6,0.4,0.3,0.2,0.5,1\n';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/** Two classes that separate on the first band, so a model has something to learn. */
function separable(n: number, seed = 1): { X: number[][]; y: number[] } {
  let s = seed;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647) as number;
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    X.push([c + 0.2 * rnd(), 0.3 + 0.1 * rnd(), 0.2 * rnd(), 0.1, 0.4 * rnd()]);
    y.push(c);
  }
  return { X, y };
}

type Api = ReturnType<typeof client>;
let t: TestApp;
let own: Api; // the facade's own port: exactly the document's paths
let main: Api; // the main server: /compat/neurolab + the document's paths
const M = '/compat/neurolab';
let admin: string;
let user: string;

beforeAll(async () => {
  t = await startTestApp({
    env: {
      TRAINYARD_COMPAT: 'neurolab:0',
      TRAINYARD_ADMIN_USERNAME: OPERATOR.username,
      TRAINYARD_ADMIN_PASSWORD: OPERATOR.password,
      WORKER_POLL_MS: '50',
      WORKER_DRAIN_MS: '0',
      WORKER_CONCURRENCY: '2',
      SIGNUP_CREDIT_GRANT: '1000',
      COMPAT_NEUROLAB_RATE_TRAIN: '1000/1h',
      COMPAT_NEUROLAB_RATE_STATUS: '100000/1m',
      COMPAT_NEUROLAB_RATE_LIST: '100000/1m',
    },
  });
  own = client(t.compatUrls.neurolab!);
  main = client(t.url);
  const login = await own.post('/api/auth/login', OPERATOR);
  admin = login.body.access_token;
  user = (await main.user('ada')).token;
});
afterAll(async () => t?.close());

/** The facade status of a job once it has ended, with every status seen on the way. */
async function finished(api: Api, prefix: string, id: string, timeoutMs = 60_000) {
  const seen: Array<{ status: string; progress: number; message: string }> = [];
  const last = await waitFor(
    async () => {
      const r = await api.get(`${prefix}/api/train/status/${id}`, admin);
      expect(r.status).toBe(200);
      seen.push({ status: r.body.status, progress: r.body.progress, message: r.body.message });
      return r.body;
    },
    (s) => s.status === 'completed' || s.status === 'failed',
    { timeoutMs, intervalMs: 100, message: `${id} to end` },
  );
  return { last, seen };
}

describe('neurolab: login and who may train', () => {
  it('logs in with the operator’s admin account: access_token, bearer, expires_in', async () => {
    const r = await own.post('/api/auth/login', OPERATOR);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: expect.any(Number) });
    const wrong = await own.post('/api/auth/login', { username: 'operator', password: 'not the password at all' });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ detail: 'Wrong username or password', code: 'INVALID_CREDENTIALS' });
    // The document's example password contains the username: the password policy refuses it.
    const weak = await main.post('/v1/auth/signup', { username: 'admin', email: 'admin@example.com', password: 'admin_password' });
    expect(weak.status).toBe(400);
    expect(weak.body.error.code).toBe('WEAK_PASSWORD');
  });

  it('anonymous callers get 401 and non-admins 403 on every training route, on both mounts, in FastAPI’s envelope', async () => {
    const routes: Array<[string, string]> = [
      ['POST', '/api/train'],
      ['POST', '/api/train/file'],
      ['GET', '/api/train/status/train_20240115_103000_admin'],
      ['GET', '/api/train/jobs'],
      ['DELETE', '/api/train/job/train_20240115_103000_admin'],
      ['POST', '/api/train/compare'],
      ['GET', '/api/train/compare/compare_20240115_103000_admin'],
    ];
    for (const [method, path] of routes) {
      for (const [api, prefix] of [
        [own, ''],
        [main, M],
      ] as const) {
        const json = method === 'POST' && !path.endsWith('/file') ? { X_train: [ROW, ROW], y_train: [0, 1] } : undefined;
        const anon = await api.call(method, prefix + path, json ? { json } : {});
        expect(anon.status, `${method} ${prefix}${path}`).toBe(401);
        expect(anon.body).toEqual({ detail: expect.any(String), code: 'UNAUTHORIZED' });
        const plain = await api.call(method, prefix + path, { token: user, ...(json ? { json } : {}) });
        expect(plain.status, `${method} ${prefix}${path}`).toBe(403);
        expect(plain.body).toEqual({ detail: 'This endpoint is for admins', code: 'ADMIN_ONLY' });
      }
    }
  });
});

describe('neurolab: invalid data is a 400 that says what is wrong', () => {
  const base = { X_train: [ROW, ROW, ROW], y_train: [0, 1, 0] };
  it.each([
    ['epochs above the documented 200', { ...base, config: { epochs: 500 } }, 'VALIDATION_ERROR', /config\.epochs.*<= 200/],
    ['a model_type the document does not list', { ...base, config: { model_type: 'lstm' } }, 'VALIDATION_ERROR', /model_type/],
    ['a config field the document does not list', { ...base, config: { epoch: 5 } }, 'VALIDATION_ERROR', /\(epoch\)/],
    ['dropout_rate above 0.9', { ...base, config: { dropout_rate: 0.95 } }, 'VALIDATION_ERROR', /dropout_rate/],
    ['mismatched lengths', { X_train: [ROW, ROW], y_train: [0, 1, 0] }, 'LENGTH_MISMATCH', /X_train has 2 rows but y_train has 3 labels/],
    ['ragged rows', { X_train: [ROW, [0.1, 0.2]], y_train: [0, 1] }, 'RAGGED_ROWS', /X_train\[1\] has 2 values, but X_train\[0\] has 5/],
    ['a non-numeric value', { X_train: [ROW, [0.1, 'high', 0.3, 0.4, 0.5]], y_train: [0, 1] }, 'VALIDATION_ERROR', /X_train\.1\.1: must be number/],
    ['one class only', { X_train: [ROW, ROW], y_train: [1, 1] }, 'TOO_FEW_CLASSES', /at least 2/],
    ['X_test without y_test', { ...base, X_test: [ROW] }, 'TEST_DATA_INCOMPLETE', /both or neither/],
    ['X_test with another width', { ...base, X_test: [[0.1, 0.2]], y_test: [0] }, 'RAGGED_ROWS', /X_test\[0\] has 2 values, but X_train has 5/],
  ])('POST /api/train with %s', async (_what, body, code, detail) => {
    const r = await own.post('/api/train', body, admin);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe(code);
    expect(r.body.detail).toMatch(detail);
  });

  it('compare needs test data; the file route needs a CSV with a state column and a config that is JSON', async () => {
    const noTest = await own.post('/api/train/compare', { X_train: [ROW, ROW], y_train: [0, 1], n_repeats: 3 }, admin);
    expect(noTest.status).toBe(400);
    expect(noTest.body).toEqual({ detail: expect.stringMatching(/X_test/), code: 'VALIDATION_ERROR' });

    const form = (csv: string, config?: string) => {
      const f = new FormData();
      f.append('file', new Blob([csv]), 'training_data.csv');
      if (config !== undefined) f.append('config', config);
      return f;
    };
    const noState = await own.call('POST', '/api/train/file', { token: admin, body: form('timestamp,alpha,label\n1,0.5,0\n2,0.6,1\n') });
    expect(noState.status).toBe(400);
    expect(noState.body.code).toBe('INVALID_DATA');
    expect(noState.body.detail).toMatch(/label column "state" not found/);
    const badJson = await own.call('POST', '/api/train/file', { token: admin, body: form(DOC_CSV, '{epochs: 20') });
    expect(badJson.status).toBe(400);
    expect(badJson.body.code).toBe('INVALID_CONFIG');
    const tooMany = await own.call('POST', '/api/train/file', { token: admin, body: form(DOC_CSV, '{"epochs": 500}') });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toEqual({ detail: expect.stringMatching(/config\.epochs: must be <= 200/), code: 'INVALID_CONFIG' });
    const noFile = new FormData();
    noFile.append('config', '{}');
    const missing = await own.call('POST', '/api/train/file', { token: admin, body: noFile });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe('FILE_REQUIRED');
    // Nothing refused left a file or a dataset behind.
    expect((await main.get('/v1/files', admin)).body.data).toEqual([]);
    expect((await main.get('/v1/datasets', admin)).body.data).toEqual([]);
  });

  it('takes a JSON body far above the server’s 1 MiB default (a real recording), and refuses only what the data lacks', async () => {
    const rows = 80_000; // ~1.7 MB of JSON
    const body = { X_train: Array.from({ length: rows }, () => ROW), y_train: Array.from({ length: rows }, () => 0) };
    expect(JSON.stringify(body).length).toBeGreaterThan(1024 * 1024);
    const r = await own.post('/api/train', body, admin);
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ detail: 'y_train has 1 class; training needs at least 2', code: 'TOO_FEW_CLASSES' });
  });
});

describe('neurolab: training', () => {
  it('trains the document’s own JSON example (100 identical rows): 202, documented id, phases, metrics, and a model that predicts', async () => {
    const r = await main.post(`${M}/api/train`, DOC_EXAMPLE, admin);
    expect(r.status).toBe(202);
    expect(r.body).toEqual({
      job_id: expect.stringMatching(/^train_\d{8}_\d{6}_operator$/),
      status: 'queued',
      message: 'Training job started in background',
      started_at: expect.stringMatching(ISO),
    });
    // The id's time is the start time, in UTC.
    const [, day, time] = /^train_(\d{8})_(\d{6})_/.exec(r.body.job_id)!;
    expect(r.body.started_at.replace(/[-:]/g, '').slice(0, 15)).toBe(`${day}T${time}`);

    const { last, seen } = await finished(main, M, r.body.job_id);
    expect(last.error).toBeNull();
    expect(last).toMatchObject({
      job_id: r.body.job_id,
      status: 'completed',
      progress: 1,
      message: 'Training completed successfully',
      started_at: r.body.started_at,
    });
    expect(Date.parse(last.completed_at)).toBeGreaterThanOrEqual(Date.parse(last.started_at));
    // Every status seen on the way is one of the document's, with its progress phase.
    for (const s of seen) {
      if (s.status === 'queued') expect(s).toEqual({ status: 'queued', progress: 0, message: 'Waiting in the queue' });
      else if (s.status === 'training') {
        expect(s.progress).toBeGreaterThanOrEqual(0.1);
        expect(s.progress).toBeLessThanOrEqual(0.9);
        expect(s.message).toMatch(/^(Preparing data|Training epoch ([1-9]|10)\/10|Evaluating model)$/);
        if (s.message === 'Evaluating model') expect(s.progress).toBeGreaterThan(0.8);
        else expect(s.progress).toBeLessThanOrEqual(0.8);
      } else expect(s.status).toBe('completed');
    }
    // Fractions and losses; the validation ones are on X_test.
    const m = last.metrics;
    expect(Object.keys(m).sort()).toEqual(['final_train_accuracy', 'final_train_loss', 'final_val_accuracy', 'final_val_loss']);
    for (const k of ['final_train_accuracy', 'final_val_accuracy']) expect(m[k] >= 0 && m[k] <= 1, `${k} ${m[k]} is a fraction`).toBe(true);
    for (const k of ['final_train_loss', 'final_val_loss']) expect(m[k]).toBeGreaterThan(0);

    // An ordinary Trainyard job: sequence-classifier, one sample per row, the document's config.
    const job = (await main.get(`/v1/jobs/${last.trainyard.job_id}`, admin)).body;
    expect(job).toMatchObject({ trainer: 'sequence-classifier', status: 'succeeded' });
    expect(job.hyperparameters).toMatchObject({ sequence_length: 1, model_type: 'enhanced_cnn_lstm', epochs: 10, batch_size: 16, learning_rate: 0.001 });
    expect(job.result.metrics).toMatchObject({
      accuracy: m.final_train_accuracy,
      loss: m.final_train_loss,
      val_accuracy: m.final_val_accuracy,
      val_loss: m.final_val_loss,
    });
    const train = (await main.get(`/v1/datasets/${job.dataset_id}`, admin)).body;
    expect(train.stats).toMatchObject({ row_count: 100, class_counts: { '0': 34, '1': 33, '2': 33 } });
    expect(train.stats.columns.map((c: { name: string }) => c.name)).toEqual(['alpha', 'beta', 'theta', 'delta', 'gamma', 'state']);
    expect((await main.get(`/v1/datasets/${job.validation_dataset_id}`, admin)).body.stats.row_count).toBe(20);

    // The model: trained_model_<model_type>, at the /v1 path the status names, and it predicts.
    expect(last.model).toEqual({ name: 'trained_model_enhanced_cnn_lstm', version: 1, path: '/v1/models/trained_model_enhanced_cnn_lstm/versions/1' });
    const v = await main.get(last.model.path, admin);
    expect(v.status).toBe(200);
    expect(v.body.job_id).toBe(job.id);
    const row = { alpha: 0.5, beta: 0.3, theta: 0.2, delta: 0.1, gamma: 0.4 };
    const p = await main.post('/v1/models/trained_model_enhanced_cnn_lstm/predict', { version: 1, instances: [[row]] }, admin);
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect([0, 1, 2]).toContain(p.body.predictions[0].label); // integer classes come back as integers (issue #18);
  }, 90_000);

  it('trains the document’s two-row CSV from a multipart upload (file first, as in its curl line) on the facade’s own port', async () => {
    const form = new FormData();
    form.append('file', new Blob([DOC_CSV]), 'training_data.csv');
    form.append('config', JSON.stringify({ model_type: 'original', epochs: 20 }));
    const r = await own.call('POST', '/api/train/file', { token: admin, body: form });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body).toEqual({
      job_id: expect.stringMatching(/^train_file_\d{8}_\d{6}_operator$/),
      status: 'queued',
      message: 'Training job started from file training_data.csv',
      started_at: expect.stringMatching(ISO),
    });
    const { last } = await finished(own, '', r.body.job_id);
    expect(last.error).toBeNull();
    expect(last.status).toBe('completed');
    // Two rows leave nothing to hold out: the validation metrics are null, the training ones numbers.
    expect(last.metrics).toEqual({
      final_train_accuracy: expect.any(Number),
      final_train_loss: expect.any(Number),
      final_val_accuracy: null,
      final_val_loss: null,
    });
    expect(last.model.name).toBe('trained_model_original');
    const job = (await main.get(`/v1/jobs/${last.trainyard.job_id}`, admin)).body;
    expect(job.hyperparameters).toMatchObject({ model_type: 'original', epochs: 20, batch_size: 32, sequence_length: 1 });
  }, 60_000);

  it('gives a second job started in the same second the suffix _2; DELETE cancels a running job and its status is then 404', async () => {
    const slow = separable(400);
    // The clock held still (Date only; timers run): both requests start in the same second.
    const now = new Date();
    const second = `${now.toISOString().slice(0, 10).replace(/-/g, '')}_${now.toISOString().slice(11, 19).replace(/:/g, '')}`;
    vi.useFakeTimers({ toFake: ['Date'], now });
    let a, b;
    try {
      a = await own.post('/api/train', { X_train: slow.X, y_train: slow.y, config: { epochs: 200, batch_size: 1 } }, admin);
      b = await main.post(`${M}/api/train`, { X_train: slow.X, y_train: slow.y, config: { epochs: 1 } }, admin);
    } finally {
      vi.useRealTimers();
    }
    expect(a.body.job_id).toBe(`train_${second}_operator`);
    expect(b.body.job_id).toBe(`train_${second}_operator_2`);

    const running = await waitFor(
      () => own.get(`/api/train/status/${a.body.job_id}`, admin),
      (r) => r.body.status === 'training' && /^Training epoch/.test(r.body.message),
      { timeoutMs: 30_000, message: 'the long job to train' },
    );
    // Mid-training: the job's own epoch fraction, spread over the documented 0.1-0.8.
    expect(running.body.message).toMatch(/^Training epoch \d+\/200$/);
    expect(running.body.progress).toBeGreaterThanOrEqual(0.1);
    expect(running.body.progress).toBeLessThan(0.8);
    expect(running.body).toMatchObject({ completed_at: null, metrics: null, error: null, model: null });
    const trainyardJob = running.body.trainyard.job_id;
    const del = await own.del(`/api/train/job/${a.body.job_id}`, admin);
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ status: 'success', message: `Training job ${a.body.job_id} deleted` });
    for (const [api, prefix] of [
      [own, ''],
      [main, M],
    ] as const) {
      const gone = await api.get(`${prefix}/api/train/status/${a.body.job_id}`, admin);
      expect(gone.status).toBe(404);
      expect(gone.body).toEqual({ detail: `training job ${a.body.job_id} not found`, code: 'TRAINING_JOB_NOT_FOUND' });
    }
    expect((await own.del(`/api/train/job/${a.body.job_id}`, admin)).status).toBe(404);
    // The Trainyard job is cancelled, and stays in /v1 as the ledger's record.
    const job = await waitFor(
      async () => (await main.get(`/v1/jobs/${trainyardJob}`, admin)).body,
      (j) => j.status === 'cancelled',
      { timeoutMs: 30_000, message: 'the Trainyard job to be cancelled' },
    );
    expect(job.metadata).toMatchObject({ compat: 'neurolab', compat_job_id: a.body.job_id });
    await finished(own, '', b.body.job_id);
  }, 90_000);

  it('lists the newest jobs first, 10 by default, `limit` at most; every item in the status shape', async () => {
    const all = await own.get('/api/train/jobs', admin);
    expect(all.status).toBe(200);
    expect(all.body.length).toBeGreaterThanOrEqual(3);
    expect(all.body.length).toBeLessThanOrEqual(10);
    const starts = all.body.map((j: { started_at: string }) => Date.parse(j.started_at));
    expect([...starts].sort((x, y) => y - x)).toEqual(starts);
    for (const j of all.body) {
      expect(Object.keys(j).sort()).toEqual([
        'completed_at',
        'error',
        'job_id',
        'message',
        'metrics',
        'model',
        'progress',
        'started_at',
        'status',
        'trainyard',
      ]);
      expect(['queued', 'training', 'completed', 'failed']).toContain(j.status);
    }
    const two = await main.get(`${M}/api/train/jobs?limit=2`, admin);
    expect(two.body.map((j: { job_id: string }) => j.job_id)).toEqual(all.body.slice(0, 2).map((j: { job_id: string }) => j.job_id));
    expect((await own.get('/api/train/jobs?limit=0', admin)).status).toBe(400);
  });
});

describe('neurolab: comparing architectures', () => {
  it('n_repeats 3 gives 3 values of each documented measure for each of the 4 architectures, in the documented units', async () => {
    const train = separable(60, 3);
    const test = separable(20, 4);
    const r = await own.post(
      '/api/train/compare',
      { X_train: train.X, y_train: train.y, X_test: test.X, y_test: test.y, n_repeats: 3, config: { epochs: 2, batch_size: 32 } },
      admin,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body).toEqual({
      job_id: expect.stringMatching(/^compare_\d{8}_\d{6}_operator$/),
      status: 'queued',
      message: 'Model comparison started in background',
      started_at: expect.stringMatching(ISO),
    });
    const { last } = await finished(own, '', r.body.job_id, 120_000);
    expect(last.error).toBeNull();
    expect(last).toMatchObject({ status: 'completed', progress: 1, model: { name: r.body.job_id, version: null, path: `/v1/models/${r.body.job_id}` } });

    const results = await own.get(`/api/train/compare/${r.body.job_id}`, admin);
    expect(results.status).toBe(200);
    expect(results.body).toEqual(last.metrics);
    expect(Object.keys(results.body).sort()).toEqual(['enhanced_cnn_lstm', 'original', 'resnet_lstm', 'transformer']);
    // The same runs through /v1: one sweep, 12 ordinary jobs, the values converted to the document's units.
    const sweep = (await main.get(`/v1/sweeps/${last.trainyard.sweep_id}`, admin)).body;
    expect(sweep).toMatchObject({ trainer: 'sequence-classifier', repeats: 3, status: 'succeeded' });
    for (const [arch, res] of Object.entries(results.body) as Array<[string, Record<string, number[]>]>) {
      expect(Object.keys(res).sort()).toEqual(['accuracy', 'auc', 'inference_time', 'model_size', 'training_time']);
      for (const list of Object.values(res)) expect(list).toHaveLength(3);
      for (const a of [...res.accuracy!, ...res.auc!]) expect(a >= 0 && a <= 1, `${arch} fraction ${a}`).toBe(true);
      for (const s of res.training_time!) expect(s > 0 && s < 300, `${arch} training seconds ${s}`).toBe(true);
      for (const s of res.inference_time!) expect(s > 0 && s < 0.1, `${arch} inference seconds per sample ${s}`).toBe(true);
      const point = sweep.points.find((p: { params: { model_type: string } }) => p.params.model_type === arch);
      expect(res.model_size!.map((mb) => Math.round(mb * 1e6)).sort()).toEqual([...point.metrics.model_size_bytes.values].sort());
      expect(res.accuracy!.slice().sort()).toEqual([...point.metrics.val_accuracy.values].sort());
      expect(
        res
          .inference_time!.map((s) => s * 1000)
          .map((x) => x.toFixed(9))
          .sort(),
      ).toEqual(point.metrics.inference_ms_per_sample.values.map((x: number) => x.toFixed(9)).sort());
    }
    // A training job's id is not a comparison.
    const notCompare = await own.get(`/api/train/compare/train_19990101_000000_operator`, admin);
    expect(notCompare.status).toBe(404);
  }, 150_000);
});

describe('neurolab: the documented rate limits, and its settings', () => {
  it('answers the limit’s 429 in the facade’s envelope with Retry-After; a bad setting stops start-up naming it', async () => {
    const t2 = await startTestApp({
      env: {
        TRAINYARD_COMPAT: 'neurolab',
        TRAINYARD_ADMIN_USERNAME: OPERATOR.username,
        TRAINYARD_ADMIN_PASSWORD: OPERATOR.password,
        COMPAT_NEUROLAB_RATE_LIST: '2/1m',
        COMPAT_NEUROLAB_RATE_TRAIN: '2/1h',
        COMPAT_NEUROLAB_MAX_BODY: '64kib',
        // Nothing runs: the limit counts jobs started, not jobs finished.
        WORKER_IN_PROCESS: 'false',
      },
    });
    try {
      const api = client(t2.url);
      const token = (await api.post(`${M}/api/auth/login`, OPERATOR)).body.access_token;
      // "Training jobs: 5 per hour per user" is one limit for the three training routes (here 2/1h),
      // kept in the database: a deleted job still counts, and a refused request does not.
      const { X, y } = separable(20);
      const first = await api.post(`${M}/api/train`, { X_train: X, y_train: y, config: { epochs: 1 } }, token);
      expect(first.status).toBe(202);
      expect((await api.post(`${M}/api/train`, { X_train: X, y_train: y, config: { epochs: 500 } }, token)).status).toBe(400);
      expect((await api.del(`${M}/api/train/job/${first.body.job_id}`, token)).status).toBe(200);
      const form = new FormData();
      form.append('file', new Blob([DOC_CSV]), 'training_data.csv');
      expect((await api.call('POST', `${M}/api/train/file`, { token, body: form })).status).toBe(202);
      const third = await api.post(`${M}/api/train/compare`, { X_train: X, y_train: y, X_test: X, y_test: y, n_repeats: 1 }, token);
      expect(third.status).toBe(429);
      expect(third.body).toEqual({ detail: expect.stringMatching(/rate limit of 2 training jobs per 1 hour exceeded/), code: 'RATE_LIMITED' });
      const retry = Number(third.headers.get('retry-after'));
      expect(retry).toBeGreaterThan(3500);
      expect(retry).toBeLessThanOrEqual(3600);
      // A file upload over the limit is refused the same way, and its CSV (stored as it streamed
      // in) is not kept: it was, once per refused upload.
      const files = async () => Number((await t2.testDb.db.query<{ n: string }>('select count(*) as n from files')).rows[0]!.n);
      const storedBefore = await files();
      const again = new FormData();
      again.append('file', new Blob([DOC_CSV]), 'training_data.csv');
      expect((await api.call('POST', `${M}/api/train/file`, { token, body: again })).status).toBe(429);
      expect(await files()).toBe(storedBefore);

      expect((await api.get(`${M}/api/train/jobs`, token)).status).toBe(200);
      expect((await api.get(`${M}/api/train/jobs`, token)).status).toBe(200);
      const limited = await api.get(`${M}/api/train/jobs`, token);
      expect(limited.status).toBe(429);
      expect(limited.body).toEqual({ detail: expect.stringMatching(/rate limit of 2 requests per 1 minute/), code: 'RATE_LIMITED' });
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      // The documented status-check limit is its own: not used up by the listing.
      expect((await api.get(`${M}/api/train/status/train_20240115_103000_admin`, token)).status).toBe(404);
      // COMPAT_NEUROLAB_MAX_BODY bounds the training bodies.
      const big = { X_train: Array.from({ length: 3000 }, () => ROW), y_train: Array.from({ length: 3000 }, (_, i) => i % 2) };
      const tooLarge = await api.post(`${M}/api/train`, big, token);
      expect(tooLarge.status).toBe(413);
      expect(tooLarge.body.code).toBe('PAYLOAD_TOO_LARGE');
    } finally {
      await t2.close();
    }
    await expect(startTestApp({ env: { TRAINYARD_COMPAT: 'neurolab', COMPAT_NEUROLAB_RATE_TRAIN: 'five an hour' } })).rejects.toThrow(
      /COMPAT_NEUROLAB_RATE_TRAIN/,
    );
  });
});
