import { PutObjectCommand } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startWorker } from '../../src/runtime.js';
import { createServices, type Services } from '../../src/services.js';
import type { Worker } from '../../src/worker/worker.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { TEST_DB } from '../helpers/db.js';
import { createTestBucket, s3Client, s3Env, startS3Server, type S3Server } from '../helpers/s3-server.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { TEST_SERVER_ENV } from '../helpers/test-env.js';
import { waitFor, waitForJob } from '../helpers/wait.js';

// Issue #13: a worker on another machine needs nothing but the database and the store. Here
// the API server and each worker have DATA_DIRs of their own and share no folder; the store
// lives outside all of them. The base model, the dataset and the checkpoint a retry resumes
// from all reach the worker through the store.

/**
 * The store every process of this test uses: the ONE place it is configured. A bucket on a
 * real S3 server (SeaweedFS on loopback, started for this file), so no process shares a folder
 * with another: the remote-worker case the issue asks for, on both databases.
 */
let s3: (S3Server & { stop(): Promise<void> }) | undefined;
let bucketEnv: Record<string, string> = {};
function storeEnv(): Record<string, string> {
  return bucketEnv;
}

const ADMIN = { username: 'operator', password: 'correct horse battery staple' };
const FIXTURE = path.resolve('test/fixtures/trainers/from-store.mjs');
const trainer = {
  id: 'from-store',
  title: 'from the store',
  task: 'test',
  description: 'reads a base model, resumes from a checkpoint',
  dataset: { kinds: ['tabular-csv'] },
  hyperparameters: { type: 'object', additionalProperties: false, properties: {} },
  primary_metric: { name: 'score', goal: 'maximize' },
  resources: { gpus: 0, memory_mb: 256 },
  pricing: { type: 'fixed', credits: 5 },
  base_models: 'required',
  runtime: { type: 'command', entry: 'from-store', command: [process.execPath, FIXTURE] },
};
/** Trainers are code each machine has: every DATA_DIR gets the same catalog.json. */
const catalogJson = JSON.stringify({ trainers: [...testTrainers().trainers, trainer] });

let root: string;
let t: TestApp;
let api: ReturnType<typeof client>;
let admin: string;
const silent = pino({ level: 'silent' });

async function newDataDir(name: string): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'catalog.json'), catalogJson);
  return dir;
}

/** The settings a worker machine has: its own DATA_DIR, the shared database and store. */
const workerEnv = (dataDir: string) => ({ DATA_DIR: dataDir, ...storeEnv(), JOBS_LEASE_SECONDS: '1', WORKER_POLL_MS: '50', WORKER_DRAIN_MS: '0' });

interface RemoteWorker {
  /** Takes the worker away mid-job: kill -9 of its process, or (one PGlite process) a stop. */
  lose(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A worker with its own DATA_DIR. On Postgres a real `trainyard worker` process; PGlite is
 * one process, so there the worker runs in this one but with its own configuration and
 * services (its own catalog, store and model cache), sharing only the database.
 */
async function startRemoteWorker(dataDir: string): Promise<RemoteWorker> {
  if (TEST_DB === 'postgres') {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/main.ts'), 'worker'], {
      env: { ...process.env, ...workerEnv(dataDir), DATABASE_URL: t.testDb.url!, LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    const exited = new Promise((r) => child.once('exit', r));
    const kill = async (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    };
    return { lose: () => kill('SIGKILL'), close: () => kill('SIGTERM') };
  }
  const config = loadConfig({ ...TEST_SERVER_ENV, ...workerEnv(dataDir) });
  const s: Services = await createServices(config, t.testDb.db);
  await s.catalog.watch();
  const w: Worker = startWorker(config, s, silent);
  await w.start();
  const close = async () => {
    await w.stop(0);
    await s.catalog.close();
  };
  return { lose: close, close };
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'trainyard-store-worker-'));
  s3 = await startS3Server();
  bucketEnv = s3Env(s3, await createTestBucket(s3));
  const apiDir = await newDataDir('api');
  t = await startTestApp({
    dataDir: apiDir,
    env: {
      ...storeEnv(),
      WORKER_IN_PROCESS: 'false',
      JOBS_LEASE_SECONDS: '1',
      TRAINYARD_ADMIN_USERNAME: ADMIN.username,
      TRAINYARD_ADMIN_PASSWORD: ADMIN.password,
    },
  });
  api = client(t.url);
  admin = (await api.post('/v1/auth/login', ADMIN)).body.access_token;
});
afterAll(async () => {
  await t?.close();
  await s3?.stop();
  await rm(root, { recursive: true, force: true });
});

/** A small saved model on the API server: a config.json (the marker) and a weights file. */
async function modelFolder(dir: string, greeting: string): Promise<Buffer> {
  const weights = randomBytes(200_000);
  await mkdir(path.join(dir, 'weights'), { recursive: true });
  await writeFile(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'tiny', greeting }));
  await writeFile(path.join(dir, 'weights', 'model.bin'), weights);
  return weights;
}

describe('base models in the store', () => {
  it('registering a folder copies it into the store under models/{id}/; a URI in the store registers as it is; bad sources are refused', async () => {
    const folder = path.join(t.dataDir, 'models', 'tiny-a');
    await modelFolder(folder, 'hello from a');
    const r = await api.post('/v1/admin/base-models', { id: 'tiny-a', architecture: 'tiny', trainers: ['from-store'], path: folder }, admin);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ available: true, registered: true, local_path: null });
    expect(r.body.source).toMatch(/\/models\/tiny-a\/$/);
    // The server's folder can go: the model lives in the store now.
    await rm(folder, { recursive: true });
    expect((await api.get('/v1/base-models/tiny-a', admin)).body).toMatchObject({ available: true, source: r.body.source });

    const byUri = await api.post('/v1/admin/base-models', { id: 'tiny-a-again', architecture: 'tiny', trainers: ['from-store'], uri: r.body.source }, admin);
    expect(byUri.status, JSON.stringify(byUri.body)).toBe(201);
    expect(byUri.body).toMatchObject({ source: r.body.source, available: true });

    const bad = async (body: Record<string, unknown>) =>
      (await api.post('/v1/admin/base-models', { id: 'tiny-x', architecture: 'tiny', trainers: ['from-store'], ...body }, admin)).body.error?.code;
    expect(await bad({ uri: 's3://some-other-bucket/models/x/' })).toBe('BASE_MODEL_URI_UNSUPPORTED');
    expect(await bad({ uri: `file://${path.join(root, 'elsewhere')}/` })).toBe('BASE_MODEL_URI_UNSUPPORTED');
    expect(r.body.source).toBe(`s3://${bucketEnv.S3_BUCKET}/models/tiny-a/`);
    expect(await bad({ uri: r.body.source.replace(/tiny-a\/$/, 'weights-only/') })).toBe('BASE_MODEL_PATH_INVALID');
    expect(await bad({ uri: `${r.body.source}weights/` })).toBe('BASE_MODEL_PATH_INVALID');
    expect(await bad({ path: folder, uri: r.body.source })).toBe('BASE_MODEL_SOURCE_REQUIRED');
    expect(await bad({})).toBe('BASE_MODEL_SOURCE_REQUIRED');
    // catalog.json may name store folders too; availability comes from listing them.
    const entry = (id: string, source: string) => ({ id, name: id, architecture: 'tiny', trainers: ['from-store'], source });
    const missing = r.body.source.replace(/tiny-a\/$/, 'not-there/');
    await writeFile(
      path.join(t.dataDir, 'catalog.json'),
      JSON.stringify({ ...JSON.parse(catalogJson), base_models: [entry('in-file', r.body.source), entry('in-file-missing', missing)] }),
    );
    expect((await api.post('/v1/admin/catalog/reload', {}, admin)).status).toBe(200);
    expect((await api.get('/v1/base-models/in-file', admin)).body).toMatchObject({ source: r.body.source, available: true, registered: false });
    expect((await api.get('/v1/base-models/in-file-missing', admin)).body).toMatchObject({ available: false });
    // Re-registered under its id after removal: the copy replaces the old objects.
    expect((await api.del('/v1/admin/base-models/tiny-a-again', admin)).status).toBe(204);
    expect((await api.del('/v1/admin/base-models/tiny-a', admin)).status).toBe(204);
    await modelFolder(folder, 'hello again');
    const register = () => api.post('/v1/admin/base-models', { id: 'tiny-a', architecture: 'tiny', trainers: ['from-store'], path: folder }, admin);
    // Not while catalog.json's entry still points at models/tiny-a/: a copy would pull it from under it.
    expect((await register()).body.error.code).toBe('BASE_MODEL_EXISTS');
    // Nor while one points at a folder inside it or around it.
    for (const source of [`${r.body.source}weights/`, r.body.source.replace(/tiny-a\/$/, '')]) {
      await writeFile(path.join(t.dataDir, 'catalog.json'), JSON.stringify({ ...JSON.parse(catalogJson), base_models: [entry('in-file', source)] }));
      expect((await api.post('/v1/admin/catalog/reload', {}, admin)).status).toBe(200);
      const refused = await register();
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatchObject({ code: 'BASE_MODEL_EXISTS', message: expect.stringContaining('in-file') });
    }
    await writeFile(path.join(t.dataDir, 'catalog.json'), catalogJson);
    expect((await api.post('/v1/admin/catalog/reload', {}, admin)).status).toBe(200);
    const again = await register();
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect((await api.get('/v1/base-models/tiny-a', admin)).body).toMatchObject({ available: true });
    // Users see no server path in a file:// source.
    const u = await api.user('looker');
    expect((await api.get('/v1/base-models/tiny-a', u.token)).body.source).not.toContain(root);
  });

  it(`a worker with its own DATA_DIR and no shared folder (${TEST_DB === 'postgres' ? 'a separate process' : 'own services in this process'}) trains from the store; the retry on another such worker resumes from the stored checkpoint`, async () => {
    const folder = path.join(t.dataDir, 'models', 'tiny-b');
    const weights = await modelFolder(folder, 'hello from b');
    const reg = await api.post('/v1/admin/base-models', { id: 'tiny-b', architecture: 'tiny', trainers: ['from-store'], path: folder }, admin);
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    await rm(path.join(t.dataDir, 'models'), { recursive: true, force: true });
    // "Folder" objects, as the AWS console and s3fs make them: no file to fetch, and no obstacle.
    const s3c = s3Client(s3!);
    for (const Key of ['models/tiny-b/', 'models/tiny-b/weights/'])
      await s3c.send(new PutObjectCommand({ Bucket: bucketEnv.S3_BUCKET, Key, Body: new Uint8Array(0) }));
    s3c.destroy();
    const keys = [];
    for await (const o of t.rt.services.store.list('models/tiny-b/')) keys.push(o.key);
    expect(keys).toEqual(expect.arrayContaining(['models/tiny-b/', 'models/tiny-b/weights/']));

    const u = await api.user('remote');
    const ds = await csvDataset(api, u.token, 'rows');
    const job = await api.post('/v1/jobs', { trainer: 'from-store', dataset_id: ds, base_model: 'tiny-b', output: { model_name: 'far' } }, u.token);
    expect(job.status, JSON.stringify(job.body)).toBe(202);

    // The first worker fetches everything, saves a checkpoint at step 2, and is lost.
    const firstDir = await newDataDir('worker-1');
    const first = await startRemoteWorker(firstDir);
    try {
      await waitFor(
        async () => (await t.testDb.db.query<{ checkpoint: { step: number } | null }>('select checkpoint from jobs where id = $1', [job.body.id])).rows[0],
        (row) => row?.checkpoint?.step === 2,
        { timeoutMs: 30_000, message: 'the first attempt to store its checkpoint' },
      );
    } finally {
      await first.lose();
    }

    // The second worker, on a machine of its own, resumes from the stored checkpoint.
    const secondDir = await newDataDir('worker-2');
    const second = await startRemoteWorker(secondDir);
    let done;
    try {
      done = await waitForJob(api, u.token, job.body.id, undefined, 45_000);
    } finally {
      await second.close();
    }
    expect(done, JSON.stringify(done.error)).toMatchObject({ status: 'succeeded', attempt: 2 });
    const logs = (await api.get(`/v1/jobs/${job.body.id}/logs`, u.token)).body.data.map((l: { message: string }) => l.message);
    expect(logs).toContain('resumed from step 2');
    expect(logs.filter((m: string) => m === 'base model hello from b, 600 rows')).toHaveLength(2);

    const v = (await api.get('/v1/models/far/versions/1', u.token)).body;
    // The model the fixture wrote (every version also carries its TensorBoard events file).
    const signed = (await api.get(`/v1/models/far/versions/1/artifacts/${v.artifacts.find((a: { format: string }) => a.format !== 'tfevents').name}`, u.token))
      .body;
    const model = (await (await fetch(signed.url)).json()) as Record<string, unknown>;
    const sha = createHash('sha256').update(weights).digest('hex');
    expect(model).toMatchObject({ greeting: 'hello from b', weights: sha, rows: 600, attempt: 2, resumed: `attempt 1 saw ${sha}` });
    // Each worker read the base model from its own cache, under its own DATA_DIR.
    expect(String(model.base_model_path).startsWith(path.join(secondDir, 'model-cache') + path.sep)).toBe(true);
    for (const dir of [firstDir, secondDir]) expect((await readdir(path.join(dir, 'model-cache'))).filter((n) => n.startsWith('tiny-b--'))).toHaveLength(1);
    // The API server's DATA_DIR never held a worker's files.
    expect(existsSync(path.join(t.dataDir, 'model-cache'))).toBe(false);
    expect(existsSync(path.join(t.dataDir, 'work'))).toBe(false);
  }, 120_000);
});
