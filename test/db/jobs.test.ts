import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { waitForJob, waitForReadyDataset, waitForWorkerIdle } from '../helpers/wait.js';

let t: TestApp;
let api: ReturnType<typeof client>;
let alice: Awaited<ReturnType<Api['user']>>;
let bob: typeof alice;
let dsAlice: string;
type Api = ReturnType<typeof client>;

/** Waits until the user has no job in flight, so balances read afterwards are stable. */
async function settled(token: string) {
  for (const st of ['queued', 'running', 'cancel_requested']) {
    for (const j of (await api.get(`/v1/jobs?status=${st}&limit=200`, token)).body.data) {
      if (j.trainer === 'gpu-echo') await api.post(`/v1/jobs/${j.id}/cancel`, {}, token);
      await waitForJob(api, token, j.id);
    }
  }
  return (await api.get('/v1/credits/balance', token)).body;
}

const job = (o: Record<string, unknown> = {}) => ({ trainer: 'echo', dataset_id: dsAlice, output: { model_name: 'echo-model' }, ...o });

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-jobs-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  t = await startTestApp({
    dataDir,
    env: {
      WORKER_POLL_MS: '50',
      JOBS_LEASE_SECONDS: '2',
      WORKER_STOP_GRACE_MS: '500',
      WORKER_DRAIN_MS: '0',
      SIGNUP_CREDIT_GRANT: '100',
      JOBS_MAX_QUEUED_PER_USER: '3',
    },
  });
  api = client(t.url);
  alice = await api.user('alice');
  bob = await api.user('bob');
  dsAlice = await csvDataset(api, alice.token, 'signal');
});
afterAll(() => t.close());

describe('a job from start to model', () => {
  it('trains the linear classifier, reports progress and metrics, registers a version and charges once', async () => {
    const before = { body: await settled(alice.token) };
    const r = await api.post(
      '/v1/jobs',
      {
        trainer: 'linear-classifier',
        dataset_id: dsAlice,
        hyperparameters: { epochs: 25, seed: 3 },
        output: { model_name: 'colours', description: 'red, green or blue' },
      },
      alice.token,
    );
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({
      status: 'queued',
      trainer: 'linear-classifier',
      hyperparameters: { epochs: 25, seed: 3, learning_rate: 0.1, batch_size: 32, l2: 0, validation_split: 0.2 },
    });
    const cost = r.body.cost as number;
    expect(cost).toBeGreaterThan(0);
    const done = await waitForJob(api, alice.token, r.body.id);
    expect(done.status).toBe('succeeded');
    expect(done.progress).toMatchObject({ fraction: 1 });
    expect(done.result.metrics.val_accuracy).toBeGreaterThanOrEqual(0.9);

    const metrics = await api.get(`/v1/jobs/${r.body.id}/metrics`, alice.token);
    const loss = metrics.body.metrics.loss as Array<{ value: number; epoch: number }>;
    expect(loss).toHaveLength(25);
    expect(loss[24]!.value).toBeLessThan(loss[0]!.value);

    const events = await api.get(`/v1/jobs/${r.body.id}/events?limit=1000`, alice.token);
    const seqs = events.body.data.map((e: { seq: number }) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    const statuses = events.body.data.filter((e: { type: string }) => e.type === 'status').map((e: { data: { status: string } }) => e.data.status);
    expect(statuses).toEqual(['queued', 'running', 'succeeded']);
    expect(events.body.data.some((e: { type: string }) => e.type === 'progress')).toBe(true);

    const model = await api.get('/v1/models/colours', alice.token);
    expect(model.body).toMatchObject({
      name: 'colours',
      trainer: 'linear-classifier',
      version_count: 1,
      aliases: { latest: 1, best: 1 },
      description: 'red, green or blue',
    });
    const v1 = await api.get('/v1/models/colours/versions/1', alice.token);
    expect(v1.body).toMatchObject({ version: 1, job_id: r.body.id, dataset_id: dsAlice, metrics: { val_accuracy: done.result.metrics.val_accuracy } });
    const names = v1.body.artifacts.map((a: { name: string }) => a.name);
    expect(names).toEqual(expect.arrayContaining(['model', 'model_card']));

    const link = await api.get('/v1/models/colours/versions/latest/artifacts/model', alice.token);
    const file = await fetch(link.body.url);
    expect(file.status).toBe(200);
    const saved = (await file.json()) as { classes: string[]; weights: number[][] };
    expect([...saved.classes].sort()).toEqual(['blue', 'green', 'red']);
    expect(saved.weights).toHaveLength(3);
    // The signed link is the only credential: tampering breaks it.
    expect((await fetch(link.body.url.replace(/signature=[^&]+/, 'signature=AAAA'))).status).toBe(401);

    const after = await api.get('/v1/credits/balance', alice.token);
    expect(after.body).toMatchObject({ balance: before.body.balance - cost, held: 0, total_spent: before.body.total_spent + cost });
    const tx = await api.get('/v1/credits/transactions?limit=200', alice.token);
    const forJob = tx.body.data.filter((e: { job_id: string }) => e.job_id === r.body.id).map((e: { type: string }) => e.type);
    expect(forJob.sort()).toEqual(['capture', 'hold']);
    expect(await t.rt.services.credits.ledgerSum(alice.id)).toBe(after.body.balance);
  });

  it('a second job on the same model makes version 2 and moves latest', async () => {
    const r = await api.post('/v1/jobs', job({ output: { model_name: 'echo-v' }, hyperparameters: { steps: 3 } }), alice.token);
    await waitForJob(api, alice.token, r.body.id);
    const r2 = await api.post('/v1/jobs', job({ output: { model_name: 'echo-v' }, hyperparameters: { steps: 2 } }), alice.token);
    await waitForJob(api, alice.token, r2.body.id);
    const m = await api.get('/v1/models/echo-v', alice.token);
    // score = steps: v1 scored 3, v2 scored 2, so best stays on v1 (maximize).
    expect(m.body.aliases).toEqual({ latest: 2, best: 1 });
    const versions = await api.get('/v1/models/echo-v/versions', alice.token);
    expect(versions.body.data.map((v: { version: number }) => v.version)).toEqual([2, 1]);
  });
});

describe('creating jobs: validation, money, quotas', () => {
  it.each([
    [{ trainer: 'nope' }, 400, 'UNKNOWN_TRAINER'],
    [{ trainer: 'lora-diffusion' }, 409, 'TRAINER_UNAVAILABLE'],
    [{ hyperparameters: { steps: 0 } }, 400, 'INVALID_HYPERPARAMETERS'],
    [{ hyperparameters: { steps: '5' } }, 400, 'INVALID_HYPERPARAMETERS'],
    [{ hyperparameters: { learning_rate: 1 } }, 400, 'INVALID_HYPERPARAMETERS'],
    [{ base_model: 'llama-3.2-1b' }, 400, 'BASE_MODEL_NOT_ALLOWED'],
    [{ output: { model_name: '../x' } }, 400, 'INVALID_MODEL_NAME'],
    [{ status: 'succeeded' }, 400, 'VALIDATION_ERROR'],
    [{ cost: 0 }, 400, 'VALIDATION_ERROR'],
    [{ dataset_id: 'ds_missing' }, 404, 'DATASET_NOT_FOUND'],
    [{ webhook_url: 'http://169.254.169.254/hook' }, 400, 'ADDRESS_NOT_ALLOWED'],
  ])('%j → %i %s, and nothing is held', async (o, status, code) => {
    const before = await api.get('/v1/credits/balance', alice.token);
    const r = await api.post('/v1/jobs', job(o), alice.token);
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(code);
    expect((await api.get('/v1/credits/balance', alice.token)).body).toEqual(before.body);
  });

  it("refuses another user's dataset (404) and a dataset without a label column for linear-classifier", async () => {
    expect((await api.post('/v1/jobs', job(), bob.token)).body.error.code).toBe('DATASET_NOT_FOUND');
    const f = await api.upload(alice.token, 'nolabel.csv', 'a,b\n1,2\n3,4\n5,6\n');
    const d = await api.post('/v1/datasets', { name: 'nolabel', kind: 'tabular-csv', file_ids: [f.body.id] }, alice.token);
    // Ready first: a dataset still processing would be refused for that, not for its missing label.
    await waitForReadyDataset(api, alice.token, d.body.id);
    const r = await api.post('/v1/jobs', job({ trainer: 'linear-classifier', dataset_id: d.body.id }), alice.token);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('DATASET_CONSTRAINT');
  });

  it('answers 402 INSUFFICIENT_CREDITS with balance and cost when the balance is short', async () => {
    const poor = await api.user('poor');
    const ds = await csvDataset(api, poor.token, 'd');
    await t.testDb.db.query('update credit_accounts set balance = 3 where user_id = $1', [poor.id]);
    const r = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, output: { model_name: 'm' } }, poor.token);
    expect(r.status).toBe(402);
    expect(r.body.error).toMatchObject({ code: 'INSUFFICIENT_CREDITS', details: { balance: 3, cost: 5 } });
    expect((await api.get('/v1/jobs', poor.token)).body.data).toHaveLength(0);
  });

  it('limits queued jobs per user (429 QUEUE_QUOTA_EXCEEDED)', async () => {
    const q = await api.user('quota');
    const ds = await csvDataset(api, q.token, 'd');
    // gpu-echo needs a GPU this worker does not have: the jobs stay queued.
    for (let i = 0; i < 3; i++)
      expect((await api.post('/v1/jobs', { trainer: 'gpu-echo', dataset_id: ds, output: { model_name: 'g' } }, q.token)).status).toBe(202);
    const over = await api.post('/v1/jobs', { trainer: 'gpu-echo', dataset_id: ds, output: { model_name: 'g' } }, q.token);
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe('QUEUE_QUOTA_EXCEEDED');
    for (const j of (await api.get('/v1/jobs', q.token)).body.data) await api.post(`/v1/jobs/${j.id}/cancel`, {}, q.token);
  });

  it('Idempotency-Key: same key and body → the same job; another body → 422', async () => {
    const send = (body: unknown) => api.call('POST', '/v1/jobs', { token: alice.token, json: body, headers: { 'idempotency-key': 'key-1' } });
    const a = await send(job({ hyperparameters: { steps: 2 }, output: { model_name: 'idem' } }));
    const b = await send(job({ hyperparameters: { steps: 2 }, output: { model_name: 'idem' } }));
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(b.body.id).toBe(a.body.id);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    const c = await send(job({ hyperparameters: { steps: 3 }, output: { model_name: 'idem' } }));
    expect(c.status).toBe(422);
    expect(c.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const { rows } = await t.testDb.db.query('select count(*)::int as n from credit_holds where job_id = $1', [a.body.id]);
    expect(rows[0]).toEqual({ n: 1 });
    // Keys are per user: bob's identical key is his own.
    expect((await api.call('POST', '/v1/jobs', { token: bob.token, json: job(), headers: { 'idempotency-key': 'key-1' } })).body.error.code).toBe(
      'DATASET_NOT_FOUND',
    );
  });
});

describe('cancel and delete', () => {
  it('cancels a queued job at once and returns its credits', async () => {
    const before = await settled(alice.token);
    const r = await api.post('/v1/jobs', job({ trainer: 'gpu-echo', output: { model_name: 'gq' } }), alice.token);
    expect((await api.get('/v1/credits/balance', alice.token)).body.held).toBe(before.held + 5);
    const c = await api.post(`/v1/jobs/${r.body.id}/cancel`, {}, alice.token);
    expect(c.status).toBe(200);
    expect(c.body.status).toBe('cancelled');
    expect((await api.get('/v1/credits/balance', alice.token)).body).toEqual(before);
    const again = await api.post(`/v1/jobs/${r.body.id}/cancel`, {}, alice.token);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('JOB_FINISHED');
  });

  it('cancels a running job through cancel_requested: the trainer is stopped, credits come back', async () => {
    const before = await settled(alice.token);
    const r = await api.post('/v1/jobs', job({ trainer: 'hang', output: { model_name: 'hang' } }), alice.token);
    await waitForJob(api, alice.token, r.body.id, ['running']);
    const c = await api.post(`/v1/jobs/${r.body.id}/cancel`, {}, alice.token);
    expect(['cancel_requested', 'cancelled']).toContain(c.body.status);
    const done = await waitForJob(api, alice.token, r.body.id);
    expect(done.status).toBe('cancelled');
    expect((await api.get('/v1/credits/balance', alice.token)).body).toEqual(before);
    // The cancelled status is written before the worker finishes cleaning up the job folder
    // and lets go of the job: wait for that, rather than race it.
    await waitForWorkerIdle(t.rt.worker!, r.body.id);
  });

  it('deletes only finished jobs; other users get 404 for everything about a job', async () => {
    const r = await api.post('/v1/jobs', job({ output: { model_name: 'del' } }), alice.token);
    for (const p of ['', '/events', '/logs', '/metrics']) expect((await api.get(`/v1/jobs/${r.body.id}${p}`, bob.token)).status).toBe(404);
    expect((await api.post(`/v1/jobs/${r.body.id}/cancel`, {}, bob.token)).status).toBe(404);
    expect((await api.get('/v1/jobs?limit=200', bob.token)).body.data.map((j: { id: string }) => j.id)).not.toContain(r.body.id);
    expect((await api.get('/v1/models/del', bob.token)).status).toBe(404);
    await waitForJob(api, alice.token, r.body.id);
    expect((await api.del(`/v1/jobs/${r.body.id}`, bob.token)).status).toBe(404);
    expect((await api.del(`/v1/jobs/${r.body.id}`, alice.token)).status).toBe(204);
    expect((await api.get(`/v1/jobs/${r.body.id}`, alice.token)).status).toBe(404);
    // The model version outlives the job.
    expect((await api.get('/v1/models/del/versions/1', alice.token)).status).toBe(200);
  });

  it('a dataset used by an active job cannot be deleted (409 DATASET_IN_USE)', async () => {
    const ds = await csvDataset(api, alice.token, 'busy');
    const r = await api.post('/v1/jobs', job({ trainer: 'gpu-echo', dataset_id: ds, output: { model_name: 'busy' } }), alice.token);
    const del = await api.del(`/v1/datasets/${ds}`, alice.token);
    expect(del.status).toBe(409);
    expect(del.body.error.code).toBe('DATASET_IN_USE');
    await api.post(`/v1/jobs/${r.body.id}/cancel`, {}, alice.token);
    expect((await api.del(`/v1/datasets/${ds}`, alice.token)).status).toBe(204);
  });

  it('lists jobs with filters; admins see everyone’s only with scope=all', async () => {
    const mine = await api.get('/v1/jobs?status=succeeded&limit=2', alice.token);
    expect(mine.body.data.every((j: { status: string }) => j.status === 'succeeded')).toBe(true);
    expect((await api.get('/v1/jobs?scope=all', alice.token)).status).toBe(403);
  });
});
