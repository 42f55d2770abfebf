import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildSampleModel, type SampleModel } from '../../src/python/sample-models.js';
import { client, startTestApp, type TestApp } from './app.js';
import { TEST_PYTHON } from './python.js';
import { waitForReadyDataset } from './wait.js';

type Api = ReturnType<typeof client>;

const ADMIN = { username: 'operator', password: 'correct horse battery staple' };

/**
 * The real service with the Python trainer environment, an admin, and one tiny base model
 * built by the pack and registered through the admin API, as a deployment would.
 */
export async function startPythonApp(model: SampleModel, env: Record<string, string> = {}): Promise<{ t: TestApp; api: Api; admin: string; modelDir: string }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-py-'));
  const modelDir = path.join(dataDir, 'models', model);
  await buildSampleModel(TEST_PYTHON, model, modelDir);
  const t = await startTestApp({
    env: {
      TRAINER_PYTHON: TEST_PYTHON,
      TRAINYARD_ADMIN_USERNAME: ADMIN.username,
      TRAINYARD_ADMIN_PASSWORD: ADMIN.password,
      WORKER_POLL_MS: '50',
      WORKER_DRAIN_MS: '0',
      // A Python trainer saves a checkpoint on SIGTERM; give it time to.
      WORKER_STOP_GRACE_MS: '30000',
      SIGNUP_CREDIT_GRANT: '1000',
      ...env,
    },
  });
  const api = client(t.url);
  const login = await api.post('/v1/auth/login', ADMIN);
  return { t, api, admin: login.body.access_token as string, modelDir };
}

export async function registerBaseModel(api: Api, admin: string, id: string, dir: string, architecture: string, trainers: string[]): Promise<void> {
  const r = await api.post('/v1/admin/base-models', { id, architecture, trainers, path: dir }, admin);
  if (r.status !== 201) throw new Error(`registering ${id}: ${r.status} ${JSON.stringify(r.body)}`);
}

/** Uploads a JSONL file and makes it a dataset of `kind`; returns the dataset id once ready. */
export async function jsonlDataset(api: Api, token: string, name: string, kind: string, rows: unknown[]): Promise<string> {
  const f = await api.upload(token, `${name}.jsonl`, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const d = await api.post('/v1/datasets', { name, kind, file_ids: [f.body.id] }, token);
  return (await waitForReadyDataset(api, token, d.body.id)).id as string;
}

/** Downloads a version's artifacts into a folder named after them: what a user gets. */
export async function downloadVersion(api: Api, token: string, model: string, version: number): Promise<string> {
  const v = (await api.get(`/v1/models/${model}/versions/${version}`, token)).body;
  const dir = await mkdtemp(path.join(tmpdir(), 'trainyard-dl-'));
  for (const a of v.artifacts as Array<{ name: string }>) {
    const signed = (await api.get(`/v1/models/${model}/versions/${version}/artifacts/${a.name}`, token)).body;
    const res = await fetch(signed.url);
    if (!res.ok) throw new Error(`downloading ${a.name}: ${res.status}`);
    await writeFile(path.join(dir, a.name), Buffer.from(await res.arrayBuffer()));
  }
  return dir;
}
