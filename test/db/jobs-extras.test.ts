// Issue #12's canonical job additions through /v1: output.if_exists, a trainer's
// default_base_model, and the duration estimate made when a job is created.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { waitForJob } from '../helpers/wait.js';

type Api = ReturnType<typeof client>;
let t: TestApp;
let api: Api;
let alice: Awaited<ReturnType<Api['user']>>;
let bob: typeof alice;
let dsAlice: string;
let dsBob: string;

const ECHO = path.resolve('test/fixtures/trainers/echo.mjs');
const echoLike = (id: string, o: Record<string, unknown>) => ({ ...(testTrainers().trainers[0] as Record<string, unknown>), id, title: `test ${id}`, ...o });
const echoRuntime = { type: 'command', entry: 'echo', command: [process.execPath, ECHO] };

const job = (o: Record<string, unknown> = {}) => ({ trainer: 'echo', dataset_id: dsAlice, output: { model_name: 'm' }, ...o });
const create = (o: Record<string, unknown>, token = alice.token) => api.post('/v1/jobs', job(o), token);
const cancel = async (id: string) => {
  await api.post(`/v1/jobs/${id}/cancel`, {}, alice.token);
  return waitForJob(api, alice.token, id);
};
const seconds = (j: { started_at: string; finished_at: string }) => (Date.parse(j.finished_at) - Date.parse(j.started_at)) / 1000;

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-jobs-extras-'));
  const catalog = testTrainers({
    // A catalog figure and no param: the estimate counts `steps`, the first work counter it takes.
    timed: echoLike('timed', { estimate: { seconds_per_unit: 3 }, runtime: echoRuntime }),
    untimed: echoLike('untimed', { runtime: echoRuntime }),
    based: echoLike('based', { base_models: 'required', default_base_model: 'tiny-base', runtime: echoRuntime }),
    'based-broken': echoLike('based-broken', { base_models: 'required', default_base_model: 'missing-base', runtime: echoRuntime }),
    'based-absent': echoLike('based-absent', { base_models: 'required', default_base_model: 'absent-base', runtime: echoRuntime }),
  });
  const trainers = ['based', 'based-broken', 'based-absent'];
  const base = (id: string) => ({ id, name: id, description: 'test', architecture: 'test', trainers, source: `models/${id}` });
  // absent-base is listed, but its folder is not on this server.
  for (const id of ['tiny-base', 'other-base']) await mkdir(path.join(dataDir, 'models', id), { recursive: true });
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify({ ...catalog, base_models: ['tiny-base', 'other-base', 'absent-base'].map(base) }));
  t = await startTestApp({
    dataDir,
    env: { WORKER_POLL_MS: '50', WORKER_DRAIN_MS: '0', WORKER_STOP_GRACE_MS: '500', SIGNUP_CREDIT_GRANT: '10000', JOBS_MAX_QUEUED_PER_USER: '50' },
  });
  api = client(t.url);
  alice = await api.user('alice');
  bob = await api.user('bob');
  dsAlice = await csvDataset(api, alice.token, 'signal');
  dsBob = await csvDataset(api, bob.token, 'signal');
});
afterAll(() => t.close());

describe('output.if_exists', () => {
  it('fail refuses a name a queued job of yours is training (409 MODEL_NAME_EXISTS), holds nothing, and frees the name when that job ends', async () => {
    // gpu-echo needs a GPU this test server lacks: it stays queued.
    const held = await create({ trainer: 'gpu-echo', output: { model_name: 'held' } });
    expect(held.status).toBe(202);
    const balance = (await api.get('/v1/credits/balance', alice.token)).body;
    const r = await create({ output: { model_name: 'held', if_exists: 'fail' } });
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'MODEL_NAME_EXISTS', details: { model_name: 'held', taken_by: 'job' } });
    expect((await api.get('/v1/credits/balance', alice.token)).body).toEqual(balance);
    // Another user's names are not yours.
    expect((await api.post('/v1/jobs', { ...job({ output: { model_name: 'held', if_exists: 'fail' } }), dataset_id: dsBob }, bob.token)).status).toBe(202);
    await cancel(held.body.id);
    const again = await create({ trainer: 'gpu-echo', output: { model_name: 'held', if_exists: 'fail' } });
    expect(again.status).toBe(202);
    expect(again.body.output).toEqual({ model_name: 'held', if_exists: 'fail' });
    await cancel(again.body.id);
  });

  it('fail refuses a name a running job is training, and a name you have a model of; new_version (the default) adds a version', async () => {
    const running = await create({ hyperparameters: { steps: 500, sleep_ms: 20 }, output: { model_name: 'busy' } });
    await waitForJob(api, alice.token, running.body.id, ['running']);
    expect((await create({ output: { model_name: 'busy', if_exists: 'fail' } })).body.error).toMatchObject({ code: 'MODEL_NAME_EXISTS' });
    await cancel(running.body.id);

    const first = await create({ hyperparameters: { steps: 2 }, output: { model_name: 'done', if_exists: 'fail' } });
    expect((await waitForJob(api, alice.token, first.body.id)).status).toBe('succeeded');
    const refused = await create({ output: { model_name: 'done', if_exists: 'fail' } });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'MODEL_NAME_EXISTS', details: { taken_by: 'model' } });
    for (const output of [{ model_name: 'done' }, { model_name: 'done', if_exists: 'new_version' }]) {
      const r = await create({ hyperparameters: { steps: 2 }, output });
      expect(r.status).toBe(202);
      await waitForJob(api, alice.token, r.body.id);
    }
    expect((await api.get('/v1/models/done', alice.token)).body.version_count).toBe(3);
  });

  it('is atomic: of two concurrent creations of one new name with fail, exactly one wins', async () => {
    for (let i = 0; i < 5; i++) {
      const name = `race-${i}`;
      const rs = await Promise.all([0, 1].map(() => create({ trainer: 'gpu-echo', output: { model_name: name, if_exists: 'fail' } })));
      expect(rs.map((r) => r.status).sort()).toEqual([202, 409]);
      const jobs = (await api.get(`/v1/jobs?model_name=${name}`, alice.token)).body.data;
      expect(jobs).toHaveLength(1);
      await cancel(jobs[0].id);
    }
  });

  it('is checked against the schema', async () => {
    const r = await create({ output: { model_name: 'x', if_exists: 'overwrite' } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION_ERROR');
  });
});

describe('default_base_model', () => {
  it('is listed with the trainer, built in for the image LoRA, the LLM and the text classifier', async () => {
    const trainers = new Map<string, any>((await api.get('/v1/trainers', alice.token)).body.data.map((x: any) => [x.id, x]));
    expect(trainers.get('lora-diffusion').default_base_model).toBe('stable-diffusion-v1-5');
    expect(trainers.get('hf-sequence-classifier').default_base_model).toBe('deberta-v3-base');
    expect(trainers.get('lora-causal-lm').default_base_model).toBe('llama-3.2-1b');
    expect(trainers.get('based').default_base_model).toBe('tiny-base');
    expect(trainers.get('echo').default_base_model).toBeNull();
  });

  it('is the base model of a job that names none; one named wins; a default this server lacks asks for a base model', async () => {
    const d = await create({ trainer: 'based', output: { model_name: 'based-1' } });
    expect(d.status).toBe(202);
    expect(d.body.base_model).toBe('tiny-base');
    const e = await create({ trainer: 'based', base_model: 'other-base', output: { model_name: 'based-2' } });
    expect(e.body.base_model).toBe('other-base');
    // A default this server lacks (not listed, or listed without its files) is no default: today's error for a missing base model.
    for (const [trainer, id] of [
      ['based-broken', 'missing-base'],
      ['based-absent', 'absent-base'],
    ]) {
      const r = await create({ trainer, output: { model_name: 'based-3' } });
      expect([r.status, r.body.error.code]).toEqual([400, 'BASE_MODEL_REQUIRED']);
      expect(r.body.error.message).toContain(`its default, "${id}", is not installed`);
    }
    for (const j of [d, e]) await cancel(j.body.id);
  });
});

describe('the duration estimate', () => {
  it("falls back on the catalog figure, then uses the median of the trainer's measured runs × the job's steps, queued and running", async () => {
    const spec = (await api.get('/v1/trainers/timed', alice.token)).body;
    expect(spec.estimate).toEqual({ param: 'steps', seconds_per_unit: 3 });
    const first = await create({ trainer: 'timed', hyperparameters: { steps: 4, sleep_ms: 10 }, output: { model_name: 'timed' } });
    expect(first.body).toMatchObject({ status: 'queued', estimated_duration_seconds: 12, estimate_source: 'catalog' });
    const done = [await waitForJob(api, alice.token, first.body.id)];
    // Three runs of different speeds: the median is the middle one, not the mean.
    for (const sleep of [400, 150]) {
      const r = await create({ trainer: 'timed', hyperparameters: { steps: 5, sleep_ms: sleep }, output: { model_name: 'timed' } });
      done.push(await waitForJob(api, alice.token, r.body.id));
    }
    expect(done.map((j) => j.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const perStep = done.map((j) => seconds(j) / j.hyperparameters.steps).sort((a, b) => a - b);
    const expected = perStep[1]! * 1000;

    const big = await create({ trainer: 'timed', hyperparameters: { steps: 1000, sleep_ms: 10 }, output: { model_name: 'timed' } });
    expect(big.body.estimate_source).toBe('history');
    expect(Math.abs(big.body.estimated_duration_seconds - expected)).toBeLessThanOrEqual(1);
    const running = await waitForJob(api, alice.token, big.body.id, ['running']);
    expect(running).toMatchObject({ estimate_source: 'history', estimated_duration_seconds: big.body.estimated_duration_seconds });
    await cancel(big.body.id);
  });

  it('is none for a trainer with no figure and no history; a cancelled run is not history', async () => {
    const r = await create({ trainer: 'untimed', output: { model_name: 'untimed' } });
    expect(r.body).toMatchObject({ estimated_duration_seconds: null, estimate_source: 'none' });
    await cancel(r.body.id);
    const again = await create({ trainer: 'untimed', output: { model_name: 'untimed' } });
    expect(again.body.estimate_source).toBe('none');
    await cancel(again.body.id);
  });
});
