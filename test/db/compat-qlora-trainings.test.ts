import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client } from '../helpers/app.js';
import { startQlora, type QloraApp } from '../helpers/qlora.js';
import { waitFor } from '../helpers/wait.js';

// Seed 004's models, trainings and stop with the stand-in video trainer (test/helpers/qlora.ts);
// accounts and datasets are compat-qlora-datasets.test.ts.

let q: QloraApp;
let alice: string;
let bob: string;
let dataset: string;
let captioning: string;
const api = () => q.api();
const v1 = () => client(q.t.url);
const store = () => q.store();

const training = (token: string, id: string) => api().get(`/v1/trainings/${id}`, token);
const ended = (token: string, id: string) =>
  waitFor(
    () => training(token, id),
    (r) => ['completed', 'failed'].includes(r.body.status),
    { timeoutMs: 20_000, message: `training ${id} to end` },
  );
const balance = async (token: string) => (await v1().get('/v1/credits/balance', token)).body.balance as number;
const jobCount = async (token: string) => (await v1().get('/v1/jobs?limit=100', token)).body.data.length as number;

/** Runs `fn` while the database refuses writes to `table` where `condition` holds (a real failure, mid-request). */
async function refusing<T>(table: string, condition: string, fn: () => Promise<T>): Promise<T> {
  const db = q.t.rt.services.db;
  await db.query(
    `create function qlora_test_refuse() returns trigger language plpgsql as $$ begin if ${condition} then raise exception 'refused by the test'; end if; return new; end $$`,
  );
  await db.query(`create trigger qlora_test_refuse before insert or update on ${table} for each row execute function qlora_test_refuse()`);
  try {
    return await fn();
  } finally {
    await db.query(`drop trigger qlora_test_refuse on ${table}`);
    await db.query('drop function qlora_test_refuse()');
  }
}

beforeAll(async () => {
  q = await startQlora();
  alice = await q.user('alice');
  bob = await q.user('bob');
  dataset = await q.readyDataset(alice);
}, 60_000);
afterAll(async () => {
  await q?.close();
});

describe('qlora facade (seed 004): models and trainings', () => {
  it('models: the video trainers’ base models only, with model_type, base_architecture, version, supported_lora_params; unknown 404', async () => {
    const all = await api().get('/v1/models/allowed', alice);
    expect(all.body).toEqual([
      {
        id: 'test-videomae',
        name: 'test-videomae (test)',
        description: 'a video_classification model',
        model_type: 'video_classification',
        base_architecture: 'videomae',
        version: '1.0',
      },
      {
        id: 'test-idefics',
        name: 'test-idefics (test)',
        description: 'a video_captioning model',
        model_type: 'video_captioning',
        base_architecture: 'flamingo',
        version: '1.0',
      },
    ]);
    const one = await api().get('/v1/models/test-idefics', alice);
    expect(one.body).toMatchObject({
      id: 'test-idefics',
      model_type: 'video_captioning',
      supported_lora_params: { min_rank: 2, max_rank: 32, default_alpha: 16 },
    });
    expect((await api().get('/v1/models/nope', alice)).body).toEqual({ detail: 'Model nope not found', code: 'MODEL_NOT_FOUND' });
    // A built-in video model whose files this deployment lacks is not offered (/v1 shows it unavailable).
    const builtin = await v1().get('/v1/base-models/idefics-9b', alice);
    expect(builtin.body, JSON.stringify(builtin.body)).toMatchObject({ model_type: 'video_captioning', available: false });
    expect((await api().get('/v1/models/idefics-9b', alice)).status).toBe(404);
    // A catalog model of another trainer is no allowed model.
    expect((await api().get('/v1/models/deberta-v3-base', alice)).status).toBe(404);
  });

  it('trainings: 400 for bad parameters or unknown model/dataset, 402 without credits; 202 → completed with the adapter in the store and string logs', async () => {
    const start = (body: Record<string, unknown>, token = alice) =>
      api().post('/v1/trainings', { model_id: 'test-idefics', dataset_id: dataset, output_name: 'clip-captions', ...body }, token);
    const refused = async (body: Record<string, unknown>, code: string, token = alice) => {
      const r = await start(body, token);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body).toEqual({ detail: expect.any(String), code });
    };
    await refused({ model_id: 'nope' }, 'MODEL_NOT_FOUND');
    await refused({ dataset_id: 'nope' }, 'DATASET_NOT_FOUND');
    await refused({ training_params: { lora_rank: 64 } }, 'LORA_RANK_UNSUPPORTED');
    await refused({ training_params: { epochs: 0 } }, 'VALIDATION_ERROR');
    await refused({ training_params: { warmup: 3 } }, 'VALIDATION_ERROR');
    await refused({ training_params: { lora_dropout: 0.95 } }, 'INVALID_HYPERPARAMETERS'); // the trainer's own bound
    await refused({ output_name: 'no spaces allowed' }, 'INVALID_MODEL_NAME');
    const pending = await q.initiate(alice, 'later.zip');
    await refused({ dataset_id: pending.dataset_id }, 'DATASET_NOT_READY');
    await refused({}, 'DATASET_NOT_FOUND', bob); // alice's dataset is not bob's
    const poor = await start({ training_params: { epochs: 500 } });
    expect(poor).toMatchObject({ status: 402, body: { code: 'INSUFFICIENT_CREDITS', detail: expect.any(String) } });

    const ok = await start({
      training_params: { epochs: 3, learning_rate: 0.0002, batch_size: 2, lora_rank: 8, lora_dropout: 0.05, target_modules: ['q_proj', 'v_proj'] },
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(202);
    expect(ok.body).toEqual({ job_id: expect.any(String), status: 'queued', message: 'Training job initiated successfully' });
    captioning = ok.body.job_id;
    // An ordinary job: the captioning trainer, the seed's names as its hyperparameters, alpha from the model.
    const job = await v1().get(`/v1/jobs/${captioning}`, alice);
    expect(job.body).toMatchObject({
      trainer: 'video-lora-captioner',
      base_model: 'test-idefics',
      hyperparameters: {
        epochs: 3,
        learning_rate: 0.0002,
        batch_size: 2,
        lora_rank: 8,
        lora_alpha: 16,
        lora_dropout: 0.05,
        target_modules: ['q_proj', 'v_proj'],
      },
      output: { model_name: 'clip-captions' },
    });

    const done = (await ended(alice, captioning)).body;
    expect(done).toMatchObject({ job_id: captioning, model_id: 'test-idefics', dataset_id: dataset, status: 'completed', progress: 1 });
    expect(Date.parse(done.completed_at)).toBeGreaterThanOrEqual(Date.parse(done.started_at));
    // The filesystem store: the adapter's key, never file:///<the server's folders>.
    expect(done.output_path).toMatch(/^artifacts\/.*adapter_model\.safetensors$/);
    expect(await store().stat(done.output_path)).toMatchObject({ bytes: 64 });
    expect(typeof done.logs).toBe('string');
    expect(done.logs).toContain('epoch 3/3 done');
    expect(done.logs).toContain('lora_rank=8 lora_alpha=16 target_modules=["q_proj","v_proj"]');
    expect(done.logs.split('\n').at(-1)).toMatch(/INFO Training completed$/);

    const cls = await start({ model_id: 'test-videomae', output_name: 'clip-classes', training_params: { epochs: 1 } });
    expect(cls.status).toBe(202);
    expect((await v1().get(`/v1/jobs/${cls.body.job_id}`, alice)).body.trainer).toBe('video-lora-classifier');
    await ended(alice, cls.body.job_id);

    const list = await api().get('/v1/trainings', alice);
    expect(list.body.map((x: { job_id: string }) => x.job_id)).toEqual([cls.body.job_id, captioning]);
    expect(list.body[1]).not.toHaveProperty('logs');
    expect((await api().get('/v1/trainings', bob)).body).toEqual([]);
    expect((await training(bob, captioning)).status).toBe(404);
    expect((await training(alice, 'job_unknown')).body).toEqual({ detail: 'Training job job_unknown not found', code: 'JOB_NOT_FOUND' });
  });

  it('a training whose record cannot be stored starts no job and holds no credits', async () => {
    const [credits, jobs] = [await balance(alice), await jobCount(alice)];
    const r = await refusing('compat_qlora_trainings', 'true', () =>
      api().post('/v1/trainings', { model_id: 'test-videomae', dataset_id: dataset, output_name: 'never', training_params: { epochs: 4 } }, alice),
    );
    expect(r.status).toBe(500);
    expect(await jobCount(alice)).toBe(jobs);
    expect(await balance(alice)).toBe(credits);
  });

  it('stop: a failed cancel can be retried; a running job 202, then 400; it ends failed with "stopped" in its logs; a completed job 400; another user’s 404', async () => {
    const r = await api().post(
      '/v1/trainings',
      { model_id: 'test-idefics', dataset_id: dataset, output_name: 'held', training_params: { seed: 666, epochs: 3 } },
      alice,
    );
    const id = r.body.job_id;
    await waitFor(
      () => training(alice, id),
      (x) => x.body.status === 'running' && x.body.logs.includes('holding until stopped'),
      { message: 'the job to run' },
    );
    // A running job holds its dataset.
    expect((await api().del(`/v1/datasets/${dataset}`, alice)).status).toBe(409);
    expect((await api().post(`/v1/trainings/${id}/stop`, {}, bob)).status).toBe(404);
    // The cancel itself fails (the database refuses it): nothing was stopped, so a retry is no second stop.
    const failed = await refusing('jobs', `old.id = '${id}' and new.status <> old.status`, () => api().post(`/v1/trainings/${id}/stop`, {}, alice));
    expect(failed.status).toBe(500);
    expect((await training(alice, id)).body).toMatchObject({ status: 'running', logs: expect.not.stringContaining('Stop requested') });
    const stop = await api().post(`/v1/trainings/${id}/stop`, {}, alice);
    expect(stop).toMatchObject({ status: 202, body: { message: `Stop request received for ${id}` } });
    const again = await api().post(`/v1/trainings/${id}/stop`, {}, alice);
    expect(again).toMatchObject({ status: 400, body: { code: 'JOB_NOT_STOPPABLE' } });
    const end = (await ended(alice, id)).body;
    expect(end).toMatchObject({ status: 'failed', output_path: null, completed_at: expect.any(String) });
    expect(end.logs).toContain('Training stopped by request');
    expect((await v1().get(`/v1/jobs/${id}`, alice)).body.status).toBe('cancelled');
    expect((await api().post(`/v1/trainings/${captioning}/stop`, {}, alice)).body.code).toBe('JOB_NOT_STOPPABLE');
    expect((await api().post('/v1/trainings/job_unknown/stop', {}, alice)).status).toBe(404);
  });

  it('deleting the dataset the trainings used: 204, and the trainings are still listed', async () => {
    expect((await api().del(`/v1/datasets/${dataset}`, alice)).status).toBe(204);
    expect((await training(alice, captioning)).body.status).toBe('completed');
    expect((await api().get('/v1/trainings', alice)).body).toHaveLength(3);
  });
});
