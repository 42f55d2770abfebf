import type { client } from '../helpers/app.js';
import { csvDataset, signalCsv } from '../helpers/jobs.js';
import { waitForJob, waitForSweep } from '../helpers/wait.js';

type Api = ReturnType<typeof client>;

/** The ids one user's data answers to: what the fuzzer puts into path and body fields. */
export interface SeededUser {
  token: string;
  apiKey: string;
  ids: {
    user: string;
    apiKeys: string[];
    files: string[];
    datasets: string[];
    jobs: string[];
    models: string[];
    webhooks: string[];
    sweeps: string[];
    artifacts: string[];
  };
}

async function ok<T = any>(what: string, r: Promise<{ status: number; body: T }>, status: number): Promise<T> {
  const res = await r;
  if (res.status !== status) throw new Error(`seeding: ${what} answered ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Gives one user a bit of everything the API has: an API key, an uploaded file and a ready
 * dataset built from it, a finished training job with its model version (and a custom alias),
 * a webhook endpoint and a finished sweep. All through the API, as a client would.
 */
export async function seedUser(api: Api, name: string): Promise<SeededUser> {
  const u = await api.user(name);
  const t = u.token;
  const key = await ok<any>('api key', api.post('/v1/api-keys', { name: `${name}-key` }, t), 201);
  const file = await ok<any>('upload', api.upload(t, `${name}-extra.csv`, signalCsv(40, 3)), 201);
  const dataset = await csvDataset(api, t, `${name}-signal`, signalCsv(200, 5));
  const model = `${name}-model`;
  const job = await ok<any>('job', api.post('/v1/jobs', { trainer: 'echo', dataset_id: dataset, output: { model_name: model } }, t), 202);
  if ((await waitForJob(api, t, job.id)).status !== 'succeeded') throw new Error(`seeding: job ${job.id} did not succeed`);
  await ok('alias', api.call('PUT', `/v1/models/${model}/aliases/stable`, { token: t, json: { version: 1 } }), 200);
  const hook = await ok<any>('webhook', api.post('/v1/webhooks', { url: 'https://hooks.fuzz.example/in', events: ['job.succeeded'] }, t), 201);
  const sweep = await ok<any>(
    'sweep',
    api.post('/v1/sweeps', { trainer: 'echo', dataset_id: dataset, grid: { steps: [1, 2] }, output: { model_name: `${name}-swept` } }, t),
    201,
  );
  await waitForSweep(api, t, sweep.id);
  return {
    token: t,
    apiKey: key.secret,
    ids: {
      user: u.id,
      apiKeys: [key.id],
      files: [file.id],
      datasets: [dataset],
      jobs: [job.id],
      models: [model, `${name}-swept`],
      webhooks: [hook.id],
      sweeps: [sweep.id],
      artifacts: ['model'],
    },
  };
}
