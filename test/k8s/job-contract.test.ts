import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { clientsFor, gpuJob, podsOf, recordPods, statusOf, waitGone, waitPod, watchJobEnd, type K8sClients } from '../helpers/k8s-jobs.js';
import { waitFor } from '../helpers/wait.js';

// The contract a Kubernetes executor relies on, against a real API server, controller manager
// and scheduler (kwok plays the GPU node's kubelet): a one-GPU batch/v1 Job with its settings in
// a Secret is scheduled on the GPU node and its end shows as a Job condition; a second one waits
// (Unschedulable) while the GPU is taken; a failing container's exit code and an OOM kill are
// readable from the pod; a Job deleted in the background takes its pods along; an eviction is
// visible on the pod; a Job past its deadline ends Failed and loses its pod. Everything as `trainyard-executor`, a user with a namespaced Role only.

const k8s = inject('k8s');
let ex: K8sClients;
let admin: K8sClients;
const SECRET = 'trainyard-run-env';

beforeAll(async () => {
  ex = clientsFor(k8s.executorKubeconfig, k8s.namespace);
  admin = clientsFor(k8s.adminKubeconfig, k8s.namespace);
  await ex.core.createNamespacedSecret({
    namespace: k8s.namespace,
    body: { metadata: { name: SECRET }, type: 'Opaque', stringData: { TRAINYARD_JOB_TOKEN: 'not-a-real-token' } },
  });
});

afterAll(async () => {
  // Ended Jobs keep no GPU; this only leaves the namespace as it was found.
  const jobs = await ex.batch.listNamespacedJob({ namespace: k8s.namespace });
  for (const j of jobs.items) await ex.batch.deleteNamespacedJob({ name: j.metadata!.name!, namespace: k8s.namespace, propagationPolicy: 'Background' });
});

const terminated = (p: { status?: { containerStatuses?: Array<{ state?: { terminated?: unknown } }> } }) =>
  p.status?.containerStatuses?.[0]?.state?.terminated as { exitCode: number; reason?: string } | undefined;

describe('the executor identity (RBAC)', () => {
  it('may read its Secret but not nodes, nor anything outside its namespace', async () => {
    expect((await ex.core.readNamespacedSecret({ name: SECRET, namespace: k8s.namespace })).data?.TRAINYARD_JOB_TOKEN).toBeDefined();
    expect(await statusOf(() => ex.core.listNode())).toBe(403);
    const node = await admin.core.readNode({ name: k8s.gpuNode });
    expect(node.status?.allocatable?.['nvidia.com/gpu']).toBe('1');
    expect(await statusOf(() => ex.batch.listNamespacedJob({ namespace: 'default' }))).toBe(403);
  });
});

describe('a one-GPU Job', () => {
  it('is scheduled on the GPU node and completes, seen through a watch', async () => {
    const w = await watchJobEnd(ex, 'train-ok');
    try {
      await ex.batch.createNamespacedJob({ namespace: k8s.namespace, body: gpuJob('train-ok', k8s, SECRET, { runFor: '1s' }) });
      const job = await w.ended;
      expect(job.status?.conditions?.find((c) => c.type === 'Complete')?.status).toBe('True');
      expect(job.status?.succeeded).toBe(1);
    } finally {
      w.close();
    }
    const [pod] = await podsOf(ex, 'train-ok');
    expect(pod?.spec?.nodeName).toBe(k8s.gpuNode);
    expect(pod?.status?.phase).toBe('Succeeded');
    expect(terminated(pod!)).toMatchObject({ exitCode: 0, reason: 'Completed' });
  });

  it('waits Unschedulable while the GPU is taken; deleting the holder in the background frees it', async () => {
    await ex.batch.createNamespacedJob({ namespace: k8s.namespace, body: gpuJob('train-holder', k8s, SECRET, { runFor: '1h' }) });
    const holder = await waitPod(ex, 'train-holder', (p) => p.status?.phase === 'Running', 'Running');
    expect(holder.spec?.nodeName).toBe(k8s.gpuNode);

    const w = await watchJobEnd(ex, 'train-waiting');
    try {
      await ex.batch.createNamespacedJob({ namespace: k8s.namespace, body: gpuJob('train-waiting', k8s, SECRET, { runFor: '1s' }) });
      const waiting = await waitPod(
        ex,
        'train-waiting',
        (p) => p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable') === true,
        'Unschedulable',
      );
      expect(waiting.status?.phase).toBe('Pending');
      expect(waiting.spec?.nodeName).toBeUndefined();
      expect(waiting.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message).toMatch(/Insufficient nvidia\.com\/gpu/);

      await ex.batch.deleteNamespacedJob({ name: 'train-holder', namespace: k8s.namespace, propagationPolicy: 'Background', gracePeriodSeconds: 5 });
      await waitGone(() => ex.batch.readNamespacedJob({ name: 'train-holder', namespace: k8s.namespace }), 'the holder Job to be gone');
      await waitGone(() => ex.core.readNamespacedPod({ name: holder.metadata!.name!, namespace: k8s.namespace }), "the holder's pod to be gone");

      const job = await w.ended;
      expect(job.status?.conditions?.find((c) => c.type === 'Complete')?.status).toBe('True');
    } finally {
      w.close();
    }
  });

  it('fails with the container exit code (3) readable from the pod', async () => {
    const w = await watchJobEnd(ex, 'train-exit3');
    let job;
    try {
      await ex.batch.createNamespacedJob({ namespace: k8s.namespace, body: gpuJob('train-exit3', k8s, SECRET, { runFor: '500ms', exitCode: 3 }) });
      job = await w.ended;
    } finally {
      w.close();
    }
    const failed = job.status?.conditions?.find((c) => c.type === 'Failed');
    expect(failed).toMatchObject({ status: 'True', reason: 'BackoffLimitExceeded' });
    expect(job.status?.failed).toBe(1);
    const [pod] = await podsOf(ex, 'train-exit3');
    expect(pod?.status?.phase).toBe('Failed');
    expect(terminated(pod!)).toMatchObject({ exitCode: 3, reason: 'Error' });
  });

  it('shows an OOM kill as reason OOMKilled (exit code 137)', async () => {
    const w = await watchJobEnd(ex, 'train-oom');
    let job;
    try {
      await ex.batch.createNamespacedJob({
        namespace: k8s.namespace,
        body: gpuJob('train-oom', k8s, SECRET, { runFor: '500ms', exitCode: 137, reason: 'OOMKilled' }),
      });
      job = await w.ended;
    } finally {
      w.close();
    }
    expect(job.status?.conditions?.find((c) => c.type === 'Failed')?.status).toBe('True');
    const [pod] = await podsOf(ex, 'train-oom');
    expect(pod?.status?.phase).toBe('Failed');
    expect(terminated(pod!)).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });
  });

  it('shows an eviction on the pod (DisruptionTarget, then terminated) and ends the Job Failed', async () => {
    const w = await watchJobEnd(ex, 'train-evicted');
    const rec = await recordPods(ex, 'train-evicted');
    try {
      await ex.batch.createNamespacedJob({ namespace: k8s.namespace, body: gpuJob('train-evicted', k8s, SECRET, { runFor: '1h' }) });
      const pod = await waitPod(ex, 'train-evicted', (p) => p.status?.phase === 'Running', 'Running');
      const name = pod.metadata!.name!;
      await ex.core.createNamespacedPodEviction({
        name,
        namespace: k8s.namespace,
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: k8s.namespace } },
      });
      const job = await w.ended;
      expect(job.status?.conditions?.find((c) => c.type === 'Failed')?.status).toBe('True');
      expect(job.status?.failed).toBe(1);
      await waitGone(() => ex.core.readNamespacedPod({ name, namespace: k8s.namespace }), 'the evicted pod to be gone');
      await waitFor(() => rec.seen.some((s) => s.type === 'DELETED'), Boolean, { message: 'the watch to see the pod deleted' });
      const disruption = rec.seen.flatMap((s) => s.pod.status?.conditions ?? []).find((c) => c.type === 'DisruptionTarget');
      expect(disruption).toMatchObject({ status: 'True', reason: 'EvictionByEvictionAPI' });
      expect(rec.seen.some((s) => s.pod.metadata?.deletionTimestamp && s.pod.status?.phase === 'Failed')).toBe(true);
    } finally {
      w.close();
      rec.close();
    }
  });

  it('past activeDeadlineSeconds ends Failed (DeadlineExceeded) and its pod is deleted', async () => {
    const w = await watchJobEnd(ex, 'train-deadline');
    const body = gpuJob('train-deadline', k8s, SECRET, { runFor: '1h' });
    body.spec!.activeDeadlineSeconds = 2;
    let job;
    try {
      await ex.batch.createNamespacedJob({ namespace: k8s.namespace, body });
      job = await w.ended;
    } finally {
      w.close();
    }
    expect(job.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'DeadlineExceeded' });
    await waitFor(
      () => podsOf(ex, 'train-deadline'),
      (ps) => ps.length === 0,
      { timeoutMs: 15_000, message: "the deadline Job's pod to be deleted" },
    );
  });
});
