import { ApiException, BatchV1Api, CoreV1Api, KubeConfig, Watch, type V1Job, type V1JobCondition, type V1Pod } from '@kubernetes/client-node';
import { GPU_PRODUCT_LABEL, KWOK_TAINT, type K8sClusterInfo } from './k8s-cluster.js';
import { waitFor } from './wait.js';

// What the k8s tests do to the cluster as the executor would: one GPU Job per training run,
// its settings in a Secret, its end seen through a watch. Pods "run" as the pod annotations
// (test/fixtures/k8s/kwok-stages.yaml) say: `trainyard.test/run-for`, `.../exit-code`, `.../reason`.

export interface K8sClients {
  kc: KubeConfig;
  batch: BatchV1Api;
  core: CoreV1Api;
  namespace: string;
}

export function clientsFor(kubeconfig: string, namespace: string): K8sClients {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { kc, batch: kc.makeApiClient(BatchV1Api), core: kc.makeApiClient(CoreV1Api), namespace };
}

export interface PodScript {
  /** How long the fake container runs (a Go duration; '1h' holds it until the test ends it). */
  runFor?: string;
  /** Ends Failed with this exit code (and `reason`, default Error) instead of Succeeded. */
  exitCode?: number;
  reason?: string;
}

/** A one-GPU training Job as an executor would make it: no retries, a deadline, cleanup after it ends. */
export function gpuJob(name: string, k8s: K8sClusterInfo, secret: string, script: PodScript = {}): V1Job {
  const annotations: Record<string, string> = { 'trainyard.test/run-for': script.runFor ?? '1s' };
  if (script.exitCode !== undefined) annotations['trainyard.test/exit-code'] = String(script.exitCode);
  if (script.reason) annotations['trainyard.test/reason'] = script.reason;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'trainyard' } },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: 600,
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { annotations, labels: { 'app.kubernetes.io/managed-by': 'trainyard' } },
        spec: {
          restartPolicy: 'Never',
          nodeSelector: { [GPU_PRODUCT_LABEL]: k8s.gpuProduct },
          tolerations: [{ key: KWOK_TAINT.key, operator: 'Equal', value: KWOK_TAINT.value, effect: KWOK_TAINT.effect }],
          containers: [
            {
              name: 'trainer',
              image: 'trainyard/trainer:test',
              envFrom: [{ secretRef: { name: secret } }],
              // An extended resource: requests default to the limit, and must equal it.
              resources: { limits: { 'nvidia.com/gpu': '1' } },
            },
          ],
        },
      },
    },
  };
}

/** A Job condition type that ends it: Complete, Failed (Kubernetes ≥1.31 sets these only once its pods are gone or terminal). */
export type JobEnd = 'Complete' | 'Failed';

/**
 * Opens a watch on one Job before anything happens to it, so no transition is missed, and
 * resolves with the Job once it carries an ending condition (Complete or Failed).
 */
export async function watchJobEnd(c: K8sClients, name: string, timeoutMs = 60_000): Promise<{ ended: Promise<V1Job>; close(): void }> {
  let resolve!: (j: V1Job) => void;
  let reject!: (e: unknown) => void;
  const ended = new Promise<V1Job>((res, rej) => ((resolve = res), (reject = rej)));
  const endOf = (j: V1Job): V1JobCondition | undefined =>
    j.status?.conditions?.find((x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True');
  const ctl = await new Watch(c.kc).watch(
    `/apis/batch/v1/namespaces/${c.namespace}/jobs`,
    { fieldSelector: `metadata.name=${name}` },
    (phase, job: V1Job) => {
      if (phase !== 'DELETED' && endOf(job)) resolve(job);
    },
    (err) => reject(err ?? new Error(`the watch on job ${name} closed before it ended`)),
  );
  const timer = setTimeout(() => reject(new Error(`job ${name} did not end within ${timeoutMs} ms`)), timeoutMs);
  void ended.finally(() => clearTimeout(timer)).catch(() => undefined);
  return { ended, close: () => ctl.abort() };
}

/** Every version of a Job's pods that a watch delivers, from before the Job exists: what a poll could miss (an eviction's condition lasts only until kwok rewrites the status). */
export async function recordPods(c: K8sClients, job: string): Promise<{ seen: Array<{ type: string; pod: V1Pod }>; close(): void }> {
  const seen: Array<{ type: string; pod: V1Pod }> = [];
  const ctl = await new Watch(c.kc).watch(
    `/api/v1/namespaces/${c.namespace}/pods`,
    { labelSelector: `batch.kubernetes.io/job-name=${job}` },
    (type, pod: V1Pod) => seen.push({ type, pod }),
    () => undefined,
  );
  return { seen, close: () => ctl.abort() };
}

export async function podsOf(c: K8sClients, job: string): Promise<V1Pod[]> {
  return (await c.core.listNamespacedPod({ namespace: c.namespace, labelSelector: `batch.kubernetes.io/job-name=${job}` })).items;
}

/** The Job's one pod once `done` holds for it. */
export async function waitPod(c: K8sClients, job: string, done: (p: V1Pod) => boolean, message: string, timeoutMs = 30_000): Promise<V1Pod> {
  const pods = await waitFor(
    () => podsOf(c, job),
    (ps) => ps.length === 1 && done(ps[0]!),
    { timeoutMs, intervalMs: 100, message: `job ${job}'s pod: ${message}` },
  );
  return pods[0]!;
}

export const isNotFound = (e: unknown) => e instanceof ApiException && e.code === 404;

/** Resolves once `read` answers 404. */
export async function waitGone(read: () => Promise<unknown>, message: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      try {
        await read();
        return false;
      } catch (e) {
        if (isNotFound(e)) return true;
        throw e;
      }
    },
    Boolean,
    { timeoutMs, intervalMs: 100, message },
  );
}

/** The HTTP status an API call was refused with (403 for RBAC), or 0 if it went through. */
export async function statusOf(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 0;
  } catch (e) {
    if (e instanceof ApiException) return e.code;
    throw e;
  }
}
