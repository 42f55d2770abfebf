import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { waitFor, waitForJob } from '../helpers/wait.js';

// Issue #17: a job with an MLflow integration is logged to a real MLflow tracking server
// (from PyPI, on loopback): its run, params, metric history and artifacts, read back through
// MLflow's own REST API; and every training job's TensorBoard events file, read back with
// tensorboard's own EventAccumulator. The venv: .venv-tracking (or TRACKING_PYTHON).
const PYTHON = process.env.TRACKING_PYTHON ?? path.resolve('.venv-tracking/bin/python');
const HAVE = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import mlflow, tensorboard'], { stdio: 'ignore' }).status === 0;
const MISSING = `no Python with mlflow and tensorboard at ${PYTHON}: python3 -m venv .venv-tracking && .venv-tracking/bin/python -m pip install mlflow==3.17.2 tensorboard==2.21.0`;
if (!HAVE && process.env.CI !== 'true') console.warn(`skipping the MLflow tests: ${MISSING}`);

const FIXTURES = path.resolve('test/fixtures/trainers');
const READ_EVENTS = `
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
ea = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0, 'images': 0})
ea.Reload()
tags = ea.Tags()
print(json.dumps({
  'scalars': {t: [[e.step, e.value] for e in ea.Scalars(t)] for t in tags['scalars']},
  'images': {t: [[e.step, e.width, e.height] for e in ea.Images(t)] for t in tags['images']},
}))
`;

let tmp: string;
let mlflow: ChildProcess | null = null;
let mlflowUrl: string;
let t: TestApp;
let api: ReturnType<typeof client>;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function ml(p: string): Promise<any> {
  const res = await fetch(`${mlflowUrl}${p}`);
  expect(res.status, p).toBe(200);
  return res.json();
}

/** An artifact of a version, downloaded through its signed URL. */
async function download(token: string, model: string, name: string): Promise<Buffer> {
  const link = await api.get(`/v1/models/${model}/versions/1/artifacts/${name}`, token);
  expect(link.status).toBe(200);
  return Buffer.from(await (await fetch(link.body.url)).arrayBuffer());
}

/** The file as tensorboard's own reader sees it. */
async function readEvents(bytes: Buffer, name: string): Promise<{ scalars: Record<string, number[][]>; images: Record<string, number[][]> }> {
  const file = path.join(tmp, name);
  await writeFile(file, bytes);
  const r = spawnSync(PYTHON, ['-c', READ_EVENTS, file], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  if (!HAVE) {
    if (process.env.CI === 'true') throw new Error(MISSING);
    return;
  }
  tmp = await mkdtemp(path.join(tmpdir(), 'trainyard-mlflow-'));
  const port = await freePort();
  mlflowUrl = `http://127.0.0.1:${port}`;
  // Its own process group, so afterAll ends the server and whatever it started.
  mlflow = spawn(
    PYTHON,
    ['-m', 'mlflow', 'server', '--host', '127.0.0.1', '--port', String(port), '--workers', '1'].concat([
      '--backend-store-uri',
      `sqlite:///${path.join(tmp, 'mlflow.db')}`,
      '--artifacts-destination',
      path.join(tmp, 'artifacts'),
    ]),
    { cwd: tmp, detached: true, stdio: 'ignore' },
  );
  const exited = new Promise<never>((_, reject) => mlflow!.once('exit', (code) => reject(new Error(`mlflow server exited with ${code}`))));
  exited.catch(() => {});
  await Promise.race([
    exited,
    waitFor(
      () =>
        fetch(`${mlflowUrl}/health`).then(
          (r) => r.ok,
          () => false,
        ),
      Boolean,
      { timeoutMs: 120_000, intervalMs: 200, message: 'the MLflow server to answer /health' },
    ),
  ]);
  const dataDir = path.join(tmp, 'data');
  const sampler = {
    ...(testTrainers().trainers[0] as Record<string, unknown>),
    id: 'sampler',
    hyperparameters: { type: 'object', properties: { steps: { type: 'integer', default: 4 }, sample_every: { type: 'integer', default: 2 } } },
    runtime: { type: 'command', entry: 'sampler', command: [process.execPath, path.join(FIXTURES, 'sampler.mjs')] },
  };
  await mkdir(dataDir);
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers({ sampler })));
  t = await startTestApp({ dataDir, env: { WORKER_POLL_MS: '50', WORKER_DRAIN_MS: '0', WEBHOOK_ALLOW_ADDRESSES: '127.0.0.1/32' } });
  api = client(t.url);
});

afterAll(async () => {
  await t?.close();
  if (mlflow?.pid && mlflow.exitCode === null) {
    const gone = new Promise((r) => mlflow!.once('exit', r));
    process.kill(-mlflow.pid, 'SIGTERM');
    const timer = setTimeout(() => process.kill(-mlflow!.pid!, 'SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe.skipIf(!HAVE && process.env.CI !== 'true')('MLflow and TensorBoard', () => {
  it('a job with an MLflow integration: its run, params, metric history and artifacts in MLflow; the version records the run', async () => {
    const u = await api.user('tracked-user');
    const ds = await csvDataset(api, u.token, 'tracked-data');
    const integration = { type: 'mlflow', tracking_uri: mlflowUrl, experiment: 'trainyard-tests' };
    const r = await api.post(
      '/v1/jobs',
      { trainer: 'echo', dataset_id: ds, hyperparameters: { steps: 6, sleep_ms: 5 }, output: { model_name: 'tracked' }, integrations: [integration] },
      u.token,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.integrations).toEqual([{ ...integration, status: 'pending', run_id: null, experiment_id: null, error: null }]);
    const done = await waitForJob(api, u.token, r.body.id);
    expect(done.status).toBe('succeeded');
    // The job ended before the tracker heard of it: logging is after, and apart.
    const job = await waitFor(
      async () => (await api.get(`/v1/jobs/${r.body.id}`, u.token)).body,
      (j) => j.integrations[0].status !== 'pending',
      { timeoutMs: 60_000, intervalMs: 100, message: 'the MLflow integration to be logged' },
    );
    const logged = job.integrations[0];
    expect(logged, JSON.stringify(logged)).toMatchObject({ status: 'logged', error: null });

    // MLflow's own API: the run, in the experiment, finished, with the job's params and tags.
    const exp = await ml(`/api/2.0/mlflow/experiments/get-by-name?experiment_name=trainyard-tests`);
    expect(exp.experiment.experiment_id).toBe(logged.experiment_id);
    const run = (await ml(`/api/2.0/mlflow/runs/get?run_id=${logged.run_id}`)).run;
    expect(run.info).toMatchObject({ experiment_id: logged.experiment_id, status: 'FINISHED', run_name: 'tracked-v1' });
    const params = Object.fromEntries(run.data.params.map((p: any) => [p.key, p.value]));
    expect(params).toMatchObject({ steps: '6', sleep_ms: '5', 'trainyard.trainer': 'echo', 'trainyard.dataset_id': ds });
    const tags = Object.fromEntries(run.data.tags.map((p: any) => [p.key, p.value]));
    expect(tags).toMatchObject({ 'trainyard.job_id': r.body.id, 'trainyard.model': 'tracked', 'trainyard.model_version': '1' });

    // The metric history, step by step, as Trainyard recorded it.
    const ours = (await api.get(`/v1/jobs/${r.body.id}/metrics`, u.token)).body.metrics.score.map((p: any) => [p.step, p.value]);
    expect(ours).toEqual([1, 2, 3, 4, 5, 6].map((s) => [s, s]));
    const history = (await ml(`/api/2.0/mlflow/metrics/get-history?run_id=${logged.run_id}&metric_key=score`)).metrics;
    expect(history.map((m: any) => [m.step, m.value])).toEqual(expect.arrayContaining(ours));

    // The artifacts: the model and the TensorBoard file, byte for byte.
    const version = (await api.get('/v1/models/tracked/versions/1', u.token)).body;
    expect(version.integrations).toEqual({ mlflow: { run_id: logged.run_id, experiment_id: logged.experiment_id, tracking_uri: mlflowUrl, status: 'logged' } });
    const names = version.artifacts.map((a: any) => a.name);
    const events = names.find((n: string) => n.startsWith('events.out.tfevents.'));
    expect(names).toEqual(['model', events].sort());
    const listed = (await ml(`/api/2.0/mlflow/artifacts/list?run_id=${logged.run_id}`)).files.map((f: any) => f.path);
    expect(listed.sort()).toEqual(names);
    const fromMlflow = Buffer.from(
      await (await fetch(`${mlflowUrl}/api/2.0/mlflow-artifacts/artifacts/${logged.experiment_id}/${logged.run_id}/artifacts/${events}`)).arrayBuffer(),
    );
    expect(fromMlflow.equals(await download(u.token, 'tracked', events))).toBe(true);

    // tensorboard's reader sees the same scalars as the job's metrics.
    const tb = await readEvents(fromMlflow, events);
    expect(tb.scalars.score).toEqual(ours);
    expect(tb.scalars['result/score']).toEqual([[6, 6]]);
  });

  it("examples/mlflow-job.json (the README's example) runs the built-in linear classifier into MLflow, every epoch a step", async () => {
    const u = await api.user('example-user');
    const example = JSON.parse(await readFile('examples/mlflow-job.json', 'utf8'));
    example.dataset_id = await csvDataset(api, u.token, 'example-data');
    example.integrations[0].tracking_uri = mlflowUrl;
    const r = await api.post('/v1/jobs', example, u.token);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect((await waitForJob(api, u.token, r.body.id, undefined, 60_000)).status).toBe('succeeded');
    const job = await waitFor(
      async () => (await api.get(`/v1/jobs/${r.body.id}`, u.token)).body,
      (j) => j.integrations[0].status !== 'pending',
      { timeoutMs: 60_000, intervalMs: 100, message: 'the example job to be logged' },
    );
    const { run_id } = job.integrations[0];
    expect(job.integrations[0].status).toBe('logged');
    const ours = (await api.get(`/v1/jobs/${r.body.id}/metrics`, u.token)).body.metrics.val_accuracy.map((p: any) => [p.step, p.value]);
    expect(ours.length).toBeGreaterThan(5);
    const history = (await ml(`/api/2.0/mlflow/metrics/get-history?run_id=${run_id}&metric_key=val_accuracy`)).metrics;
    expect(history.map((m: any) => [m.step, m.value])).toEqual(expect.arrayContaining(ours));
    const params = Object.fromEntries((await ml(`/api/2.0/mlflow/runs/get?run_id=${run_id}`)).run.data.params.map((p: any) => [p.key, p.value]));
    expect(params).toMatchObject({ epochs: String(example.hyperparameters.epochs), 'trainyard.trainer': 'linear-classifier' });
  });

  it("every training job's events file holds its PNG samples as images, readable by tensorboard", async () => {
    const u = await api.user('tb-user');
    const ds = await csvDataset(api, u.token, 'tb-data');
    const r = await api.post(
      '/v1/jobs',
      { trainer: 'sampler', dataset_id: ds, hyperparameters: { steps: 4, sample_every: 2 }, output: { model_name: 'pictures' } },
      u.token,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.integrations).toEqual([]);
    expect((await waitForJob(api, u.token, r.body.id)).status).toBe('succeeded');
    const version = (await api.get('/v1/models/pictures/versions/1', u.token)).body;
    const artifact = version.artifacts.find((a: any) => a.format === 'tfevents');
    expect(artifact.name).toMatch(/^events\.out\.tfevents\.\d+\.trainyard$/);
    expect(version.integrations).toEqual({});
    const tb = await readEvents(await download(u.token, 'pictures', artifact.name), artifact.name);
    // sampler.mjs renders one 3×2 PNG per prompt at steps 2 and 4.
    expect(tb.images).toEqual({
      'samples/0': [
        [2, 3, 2],
        [4, 3, 2],
      ],
    });
  });

  it('a failed job is logged as a FAILED run; a tracker that does not answer is recorded on the job, which ends as it would anyway', async () => {
    const u = await api.user('failing-user');
    const ds = await csvDataset(api, u.token, 'failing-data');
    const closed = `http://127.0.0.1:${await freePort()}`;
    const integrations = [
      { type: 'mlflow', tracking_uri: mlflowUrl, experiment: 'trainyard-failures' },
      { type: 'mlflow', tracking_uri: closed, experiment: 'nowhere' },
    ];
    const r = await api.post('/v1/jobs', { trainer: 'crash', dataset_id: ds, output: { model_name: 'crashed' }, integrations }, u.token);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect((await waitForJob(api, u.token, r.body.id)).status).toBe('failed');
    const job = await waitFor(
      async () => (await api.get(`/v1/jobs/${r.body.id}`, u.token)).body,
      (j) => j.integrations.every((i: any) => i.status !== 'pending'),
      { timeoutMs: 60_000, intervalMs: 100, message: 'both integrations to settle' },
    );
    expect(job.status).toBe('failed');
    const [logged, unreachable] = job.integrations;
    expect(logged).toMatchObject({ status: 'logged', error: null });
    expect(unreachable).toMatchObject({ status: 'failed', run_id: null, tracking_uri: closed });
    expect(unreachable.error).toMatch(/127\.0\.0\.1/);
    const run = (await ml(`/api/2.0/mlflow/runs/get?run_id=${logged.run_id}`)).run;
    expect(run.info.status).toBe('FAILED');
    const tags = Object.fromEntries(run.data.tags.map((p: any) => [p.key, p.value]));
    expect(tags['trainyard.error']).toMatch(/^TRAINER_FAILED: .*simulated crash/);
    expect((await ml(`/api/2.0/mlflow/artifacts/list?run_id=${logged.run_id}`)).files ?? []).toEqual([]);
  });

  it('a tracking URI the address guard refuses is a 400 at creation, and nothing is stored', async () => {
    const u = await api.user('guarded-user');
    const ds = await csvDataset(api, u.token, 'guarded-data');
    const body = (uri: string) => ({
      trainer: 'echo',
      dataset_id: ds,
      output: { model_name: 'never' },
      integrations: [{ type: 'mlflow', tracking_uri: uri, experiment: 'x' }],
    });
    const metadata = await api.post('/v1/jobs', body('http://169.254.169.254/'), u.token);
    expect(metadata.status).toBe(400);
    expect(metadata.body.error).toMatchObject({ code: 'ADDRESS_NOT_ALLOWED', details: { field: 'integrations[0].tracking_uri' } });
    const scheme = await api.post('/v1/jobs', body('file:///etc/passwd'), u.token);
    expect(scheme.body.error).toMatchObject({ code: 'URL_SCHEME_NOT_ALLOWED', details: { field: 'integrations[0].tracking_uri' } });
    const invalid = await api.post('/v1/jobs', body('not a url'), u.token);
    expect(invalid.body.error).toMatchObject({ code: 'URL_INVALID', details: { field: 'integrations[0].tracking_uri' } });
    expect((await api.get('/v1/jobs', u.token)).body.data).toEqual([]);
  });
});
