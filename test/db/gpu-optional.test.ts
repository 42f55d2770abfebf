// A GPU-optional trainer (queued for no GPU) is handed a free GPU by the worker only for the
// hyperparameter values that train on one (resources.gpu_when), and runs on the CPU when every
// GPU is taken. The trainer sees what it was handed in CUDA_VISIBLE_DEVICES (issue #15).
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Executor } from '../../src/executors/executor.js';
import type { LocalExecutor } from '../../src/executors/local-executor.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { heldUpload } from '../helpers/held-upload.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { waitForJob, waitForJobStep } from '../helpers/wait.js';

type Api = ReturnType<typeof client>;
type User = Awaited<ReturnType<Api['user']>>;
interface Env {
  t: TestApp;
  api: Api;
  user: User;
  ds: string;
}

const GPU_ENV = path.resolve('test/fixtures/trainers/gpu-env.mjs');
const trainer = (id: string, resources: Record<string, unknown>) => ({
  ...(testTrainers().trainers[0] as Record<string, unknown>),
  id,
  title: `test ${id}`,
  hyperparameters: {
    type: 'object',
    additionalProperties: false,
    properties: {
      mode: { type: 'string', enum: ['cuda', 'cpu'], default: 'cpu' },
      steps: { type: 'integer', minimum: 1, maximum: 100000, default: 1 },
      sleep_ms: { type: 'integer', minimum: 0, maximum: 60000, default: 10 },
    },
  },
  resources: { memory_mb: 64, ...resources },
  runtime: { type: 'command', entry: id, command: [process.execPath, GPU_ENV] },
});

const start = async ({ t, api, user, ds }: Env, trainerId: string, hyperparameters: Record<string, unknown> = {}) => {
  const r = await api.post('/v1/jobs', { trainer: trainerId, dataset_id: ds, hyperparameters, output: { model_name: trainerId } }, user.token);
  expect(r.status).toBe(202);
  // Queued for the GPUs it needs: none when the GPU is optional (any worker may take it).
  const { rows } = await t.testDb.db.query<{ gpus: number }>('select gpus from jobs where id = $1', [r.body.id]);
  expect(rows[0]!.gpus).toBe(trainerId === 'needs' ? 1 : 0);
  return r.body.id as string;
};
/** The CUDA_VISIBLE_DEVICES the trainer saw, from its log. */
const handed = async ({ api, user }: Env, id: string) => {
  const lines = (await api.get(`/v1/jobs/${id}/logs`, user.token)).body.data as Array<{ message: string }>;
  const line = lines.map((l) => l.message).find((m) => m.startsWith('CUDA_VISIBLE_DEVICES='));
  return line ? JSON.parse(line.slice('CUDA_VISIBLE_DEVICES='.length)) : undefined;
};

/** A server whose worker has one GPU, index 3, and runs `concurrency` jobs at once. */
async function serve(concurrency: number, executor?: (local: LocalExecutor) => Executor): Promise<Env> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-gpu-optional-'));
  const catalog = testTrainers({
    maybe: trainer('maybe', { gpus: 1, gpu_optional: true, gpu_when: { mode: ['cuda'] } }),
    always: trainer('always', { gpus: 1, gpu_optional: true }),
    needs: trainer('needs', { gpus: 1 }),
  });
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(catalog));
  const env = { WORKER_POLL_MS: '50', WORKER_GPUS: '3', WORKER_CONCURRENCY: String(concurrency), WORKER_DRAIN_MS: '0', SIGNUP_CREDIT_GRANT: '1000' };
  const t = await startTestApp({ dataDir, env, ...(executor ? { executor } : {}) });
  const api = client(t.url);
  const user = await api.user('gpu-optional');
  return { t, api, user, ds: await csvDataset(api, user.token, 'signal') };
}

const done = async (e: Env, id: string) => (await waitForJob(e.api, e.user.token, id)).status;

describe('GPU-optional trainers', () => {
  // One job at a time: the worker frees a job's GPU (when its trainer exits) before its slot (when
  // the job is concluded), so each job below finds the GPU free.
  describe('one job at a time', () => {
    let e: Env;
    beforeAll(async () => (e = await serve(1)));
    afterAll(() => e.t.close());

    it('get the free GPU only for the hyperparameters gpu_when lists, queued as CPU jobs', async () => {
      const cuda = await start(e, 'maybe', { mode: 'cuda' });
      expect(await done(e, cuda)).toBe('succeeded');
      expect(await handed(e, cuda)).toBe('3');
      // The schema's default (cpu) is not listed: no GPU, and CUDA_VISIBLE_DEVICES hides them all.
      const cpu = await start(e, 'maybe');
      expect(await done(e, cpu)).toBe('succeeded');
      expect(await handed(e, cpu)).toBe('');
      // Without gpu_when, every job of a gpu_optional trainer gets one; so does one that needs it.
      const always = await start(e, 'always');
      expect(await done(e, always)).toBe('succeeded');
      expect(await handed(e, always)).toBe('3');
      const needs = await start(e, 'needs');
      expect(await done(e, needs)).toBe('succeeded');
      expect(await handed(e, needs)).toBe('3');
    });
  });

  describe('two jobs at once', () => {
    let e: Env;
    beforeAll(async () => (e = await serve(2)));
    afterAll(() => e.t.close());

    it('run on the CPU while a job that needs the GPU holds it', async () => {
      const holder = await start(e, 'needs', { steps: 100000, sleep_ms: 50 });
      await waitForJobStep(e.api, e.user.token, holder, 1);
      expect(await handed(e, holder)).toBe('3');
      const beside = await start(e, 'maybe', { mode: 'cuda' });
      expect(await done(e, beside)).toBe('succeeded');
      expect(await handed(e, beside)).toBe('');
      await e.api.post(`/v1/jobs/${holder}/cancel`, {}, e.user.token);
      expect(await done(e, holder)).toBe('cancelled');
    });
  });

  describe('a finished trainer whose artifacts are still being stored', () => {
    // The first attempt's artifacts are held back until the test lets them through: the store's
    // upload of a large model, minutes on a slow link, stood in for by a gate in front of the
    // local executor's real upload (nothing else about the attempt is changed).
    const held = heldUpload({ firstAttemptOnly: true });
    let e: Env;
    beforeAll(async () => (e = await serve(2, held.executor)));
    afterAll(() => {
      held.letThrough();
      return e.t.close();
    });

    it('has given its GPU back: the next GPU job runs meanwhile', async () => {
      const first = await start(e, 'needs');
      await held.started;
      const second = await start(e, 'needs');
      // Before: the GPU came back only when the first job was concluded, so the second stayed
      // queued for as long as the upload took (here: for ever).
      expect(await done(e, second)).toBe('succeeded');
      expect(await handed(e, second)).toBe('3');
      expect((await e.api.get(`/v1/jobs/${first}`, e.user.token)).body.status).toBe('running');
      held.letThrough();
      expect(await done(e, first)).toBe('succeeded');
      expect(await handed(e, first)).toBe('3');
    });
  });
});
