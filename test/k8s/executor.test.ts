import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { KWOK_TAINT } from '../helpers/k8s-cluster.js';
import { clientsFor, isNotFound, podsOf, waitPod, type K8sClients } from '../helpers/k8s-jobs.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { freePort } from '../helpers/pg-programs.js';
import { until, waitFor, waitForJob } from '../helpers/wait.js';

// EXECUTOR=kubernetes against a real API server, controller manager and scheduler, as the
// namespaced `trainyard-executor` user. kwok plays the GPU node's kubelet and runs no container,
// so where a pod would run the launcher image, the test runs the real launcher itself with the
// pod's own command line and the token from the attempt's Secret, then ends the pod.

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const k8s = inject('k8s');
type Api = ReturnType<typeof client>;
let t: TestApp;
let api: Api;
let user: Awaited<ReturnType<Api['user']>>;
let ds: string;
let admin: K8sClients;

beforeAll(async () => {
  admin = clientsFor(k8s.adminKubeconfig, k8s.namespace);
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-k8s-exec-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  const port = await freePort();
  t = await startTestApp({
    dataDir,
    env: {
      PORT: String(port),
      EXECUTOR: 'kubernetes',
      EXECUTOR_API_URL: `http://127.0.0.1:${port}`,
      EXECUTOR_WORK_DIR: await mkdtemp(path.join(tmpdir(), 'trainyard-k8s-attempts-')),
      // Far beyond any wait here: every state change must reach the executor through its watch.
      EXECUTOR_POLL_MS: '600000',
      KUBECONFIG: k8s.executorKubeconfig,
      KUBERNETES_NAMESPACE: k8s.namespace,
      KUBERNETES_IMAGE: 'trainyard/launcher:test',
      KUBERNETES_GPU_PRODUCT: k8s.gpuProduct,
      KUBERNETES_TOLERATIONS: JSON.stringify([{ key: KWOK_TAINT.key, operator: 'Equal', value: KWOK_TAINT.value, effect: KWOK_TAINT.effect }]),
      // Pods hold their node (and GPU) until a test ends them: no timing decides what a test sees.
      KUBERNETES_POD_ANNOTATIONS: JSON.stringify({ 'trainyard.test/run-for': '1h' }),
      KUBERNETES_LABELS: 'team=vision',
      WORKER_GPUS: '0,1',
      WORKER_CONCURRENCY: '2',
      WORKER_POLL_MS: '50',
      WORKER_STOP_GRACE_MS: '2000',
      WORKER_DRAIN_MS: '0',
      SIGNUP_CREDIT_GRANT: '1000',
    },
  });
  api = client(t.url);
  user = await api.user('k8s');
  ds = await csvDataset(api, user.token, 'd');
});
afterAll(() => t?.close());

const post = async (trainer: string, hyperparameters: Record<string, unknown>, model: string) => {
  const r = await api.post('/v1/jobs', { trainer, dataset_id: ds, output: { model_name: model }, hyperparameters }, user.token);
  expect(r.status).toBe(202);
  return r.body as { id: string; cost: number };
};
const nameOf = (id: string, attempt = 1) => `ty-${id.replace(/_/g, '-')}-a${attempt}`;
const readJob = (name: string) => admin.batch.readNamespacedJob({ name, namespace: k8s.namespace });
const gone = async (read: () => Promise<unknown>) =>
  read().then(
    () => false,
    (e: unknown) => isNotFound(e),
  );
const balance = async () => (await api.get('/v1/credits/balance', user.token)).body as { balance: number; held: number };

describe('EXECUTOR=kubernetes', () => {
  it('creates one Job per attempt with the token in a Secret; the launcher runs it to success; the Secret is deleted', async () => {
    const job = await post('echo', { steps: 5, sleep_ms: 10 }, 'k8s-echo');
    const name = nameOf(job.id);
    const k = await waitFor(() => readJob(name).catch(() => null), Boolean, { timeoutMs: 20_000, message: `Job ${name}` });
    expect(k!.metadata!.labels).toMatchObject({ team: 'vision', 'app.kubernetes.io/managed-by': 'trainyard', 'trainyard.dev/attempt': '1' });
    expect(k!.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: expect.any(Number), ttlSecondsAfterFinished: 3600 });
    const container = k!.spec!.template.spec!.containers[0]!;
    expect(container).toMatchObject({ image: 'trainyard/launcher:test', envFrom: [{ secretRef: { name } }] });
    expect(container.command!.slice(0, 4)).toEqual(['node', '/app/dist/main.js', 'run-attempt', '--url']);
    expect(JSON.stringify(k)).not.toContain('tya1.'); // the token is only in the Secret
    const secret = await admin.core.readNamespacedSecret({ name, namespace: k8s.namespace });
    const token = Buffer.from(secret.data!.TRAINYARD_ATTEMPT_TOKEN!, 'base64').toString();
    expect(token).toMatch(/^tya1\./);

    // What the image would do in the pod: the launcher, with the pod's arguments and the Secret's token.
    await waitPod(admin, name, (p) => p.status?.phase === 'Running', 'Running');
    const launcher = spawn(process.execPath, ['--import', 'tsx', MAIN, ...container.command!.slice(2)], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), TRAINYARD_ATTEMPT_TOKEN: token },
      stdio: 'ignore',
    });
    expect(await new Promise((r) => launcher.on('close', r))).toBe(0);
    // The container's end, as the kubelet would see the launcher exit: the pod goes away.
    const pod = (await podsOf(admin, name))[0]!;
    await admin.core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: k8s.namespace, gracePeriodSeconds: 0 });
    const done = await waitForJob(api, user.token, job.id, undefined, 60_000);
    expect(done, JSON.stringify(done.error)).toMatchObject({ status: 'succeeded', attempt: 1 });
    const link = await api.get('/v1/models/k8s-echo/versions/1/artifacts/model', user.token);
    expect(await (await fetch(link.body.url)).json()).toEqual({ echo: job.id });
    await until(() => gone(() => admin.core.readNamespacedSecret({ name, namespace: k8s.namespace })), { timeoutMs: 10_000 });
  }, 90_000);

  it('asks for the GPU on the right nodes; a second GPU job waits unschedulable; cancel deletes the Jobs and refunds', async () => {
    const before = await balance();
    // b only once a's pod runs: posted together, the worker may create b's Job first (its claims
    // run concurrently), b then holds the GPU and a waits (seen on a loaded CI machine).
    const a = await post('gpu-echo', { steps: 100000 }, 'gpu-a');
    const podA = await waitPod(admin, nameOf(a.id), (p) => p.status?.phase === 'Running', 'Running', 30_000);
    const b = await post('gpu-echo', { steps: 100000 }, 'gpu-b');
    expect(podA.spec).toMatchObject({ nodeName: k8s.gpuNode, nodeSelector: { 'nvidia.com/gpu.product': k8s.gpuProduct } });
    expect(podA.spec!.containers[0]!.resources!.limits).toEqual({ 'nvidia.com/gpu': '1' });
    const podB = await waitPod(admin, nameOf(b.id), (p) => !!p.status?.conditions?.some((c) => c.reason === 'Unschedulable'), 'Unschedulable', 30_000);
    expect(podB.status!.conditions!.find((c) => c.type === 'PodScheduled')!.message).toMatch(/Insufficient nvidia\.com\/gpu/);
    for (const j of [a, b]) expect((await api.post(`/v1/jobs/${j.id}/cancel`, {}, user.token)).status).toBe(200);
    for (const j of [a, b]) {
      expect((await waitForJob(api, user.token, j.id, undefined, 30_000)).status).toBe('cancelled');
      await until(() => gone(() => readJob(nameOf(j.id))), { timeoutMs: 20_000 });
      await until(async () => (await podsOf(admin, nameOf(j.id))).length === 0, { timeoutMs: 20_000 });
      expect(await gone(() => admin.core.readNamespacedSecret({ name: nameOf(j.id), namespace: k8s.namespace }))).toBe(true);
    }
    expect(await balance()).toMatchObject({ balance: before.balance, held: 0 });
  }, 90_000);

  it('an evicted pod is an infrastructure failure: the job gets attempt 2 in a new Job', async () => {
    const job = await post('gpu-echo', { steps: 100000 }, 'evicted');
    const name = nameOf(job.id);
    const pod = await waitPod(admin, name, (p) => p.status?.phase === 'Running', 'Running', 30_000);
    await admin.core.createNamespacedPodEviction({
      name: pod.metadata!.name!,
      namespace: k8s.namespace,
      body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.metadata!.name!, namespace: k8s.namespace } },
    });
    const retry = await until(
      async () =>
        ((await api.get(`/v1/jobs/${job.id}/events?limit=100`, user.token)).body.data as Array<{ type: string; data: any }>).find(
          (e) => e.type === 'status' && String(e.data.reason ?? '').includes('retrying'),
        ),
      { timeoutMs: 30_000 },
    );
    expect(retry!.data.reason).toMatch(
      new RegExp(`Kubernetes Job ${k8s.namespace}/${name}: the pod was (disrupted|deleted outside Trainyard).*retrying \\(attempt 2 of 3\\)`),
    );
    await waitFor(() => readJob(nameOf(job.id, 2)).catch(() => null), Boolean, { timeoutMs: 30_000, message: 'the attempt-2 Job' });
    expect((await api.post(`/v1/jobs/${job.id}/cancel`, {}, user.token)).status).toBe(200);
    expect((await waitForJob(api, user.token, job.id, undefined, 30_000)).status).toBe('cancelled');
  }, 90_000);
});
