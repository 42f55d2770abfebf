import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { waitForJob } from '../helpers/wait.js';

let t: TestApp;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-nobilling-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  t = await startTestApp({ dataDir, env: { CREDITS_ENABLED: 'false', SIGNUP_CREDIT_GRANT: '0', WORKER_POLL_MS: '50', WORKER_DRAIN_MS: '0' } });
  api = client(t.url);
});
afterAll(() => t.close());

it('without billing, jobs run with no credits at all and nothing is charged', async () => {
  const u = await api.user('free');
  const ds = await csvDataset(api, u.token, 'd');
  expect((await api.get('/v1/credits/balance', u.token)).body).toEqual({
    balance: 0,
    held: 0,
    total_spent: 0,
    total_granted: 0,
    total_bought: 0,
    billing: 'off',
  });
  const r = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, output: { model_name: 'm' } }, u.token);
  expect(r.status).toBe(202);
  expect(r.body.cost).toBe(5);
  expect((await waitForJob(api, u.token, r.body.id)).status).toBe('succeeded');
  expect((await api.get('/v1/credits/balance', u.token)).body).toMatchObject({ balance: 0, held: 0, total_spent: 0 });
});
