/**
 * The Kubernetes executor: one `batch/v1` Job per attempt whose container is the launcher
 * (`trainyard run-attempt` in the image the Dockerfile builds), the attempt token in a Secret
 * that is deleted afterwards. The worker keeps the claim and the lease; this creates the
 * objects, reads their state when the watch (watcher.ts) says they changed, and deletes the
 * Job to stop it (Background, with the grace as the pod's termination grace: SIGTERM reaches
 * the launcher, which passes it to the trainer).
 */
import { ApiException, BatchV1Api, CoreV1Api, KubeConfig, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { JOB_ERROR_CODES } from '../../domain/jobs/states.js';
import type { AttemptContext, AttemptOutcome, Executor, RunningAttempt } from '../executor.js';
import { attemptCredentials, launcherArgv, reportedOutcome, type RemoteConfig, type RemoteDeps } from '../remote.js';
import { classify, disruptionOf } from './classify.js';
import { attemptJob, attemptName, tokenSecret, type ManifestConfig } from './manifest.js';
import { AttemptWatcher, type AttemptWatcherLog } from './watcher.js';

interface AttemptState {
  stopAsked: boolean;
  grace: number;
  /** The watch saw the attempt's Job or pod change since the last read. */
  changed: boolean;
  wake: () => void;
}

export interface KubernetesExecutorConfig extends RemoteConfig, ManifestConfig {
  /** A pod not scheduled (or whose image cannot be pulled) for this long is an infrastructure failure. */
  pendingSeconds: number;
}

const notFound = (e: unknown) => e instanceof ApiException && e.code === 404;

/** While the watch is up, an attempt still reads its state this often (a missed event costs no more). */
const RESYNC_MS = 30_000;

/** kubeconfig from a file, else the pod's own service account (in-cluster). */
export function kubeConfig(file: string | null): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromCluster();
  return kc;
}

export class KubernetesExecutor implements Executor {
  readonly kind = 'kubernetes';
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly watcher: AttemptWatcher;

  constructor(
    kc: KubeConfig,
    private readonly c: KubernetesExecutorConfig,
    private readonly d: RemoteDeps,
    log?: AttemptWatcherLog,
  ) {
    this.batch = kc.makeApiClient(BatchV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.watcher = new AttemptWatcher(kc, c.namespace, log ?? { warn: () => {} });
  }

  start(ctx: AttemptContext): RunningAttempt {
    const s: AttemptState = { stopAsked: false, grace: Infinity, changed: false, wake: () => {} };
    const stop = (graceMs: number) => {
      s.stopAsked = true;
      s.grace = Math.min(s.grace, Math.max(0, graceMs));
      s.wake();
    };
    const name = attemptName(ctx.job);
    const ns = this.c.namespace;
    const cleanUp = async () => {
      await this.core.deleteNamespacedSecret({ name, namespace: ns }).catch((e: unknown) => {
        if (!notFound(e)) ctx.log.warn({ err: e, secret: name }, 'deleting the attempt token Secret failed');
      });
    };
    return { stop, done: this.run(ctx, name, s), cleanUp };
  }

  private async run(ctx: AttemptContext, name: string, s: AttemptState): Promise<AttemptOutcome> {
    const unsubscribe = this.watcher.subscribe(name, () => {
      s.changed = true;
      s.wake();
    });
    try {
      return await this.follow(ctx, name, s);
    } finally {
      unsubscribe();
    }
  }

  private async follow(ctx: AttemptContext, name: string, s: AttemptState): Promise<AttemptOutcome> {
    const { job, fence, log } = ctx;
    const ns = this.c.namespace;
    const startedAt = Date.now();
    const { url, token } = attemptCredentials(this.d, this.c, job, fence);
    try {
      await this.core.createNamespacedSecret({ namespace: ns, body: tokenSecret(this.c, job, token) });
      await this.batch.createNamespacedJob({ namespace: ns, body: attemptJob(this.c, job, launcherArgv(this.c, url)) });
    } catch (err) {
      if (s.stopAsked) return { type: 'stopped' };
      const code = err instanceof ApiException ? err.code : 0;
      if (code >= 400 && code < 500 && code !== 429)
        return {
          type: 'failed',
          error: { code: JOB_ERROR_CODES.TRAINER_UNAVAILABLE, message: `Kubernetes refused the Job: ${(err as Error).message.slice(0, 500)}` },
        };
      return { type: 'infrastructure', message: `Kubernetes could not be reached: ${(err as Error).message.slice(0, 300)}` };
    }
    log.info({ k8s_job: name, namespace: ns }, 'submitted to Kubernetes');
    let deleted = false;
    let disrupted: string | null = null;
    let pendingSince: number | null = null;
    for (;;) {
      // Asked again on the next round when it fails: a stop the API server missed once would
      // leave the Job running and a drain waiting for it.
      if (s.stopAsked && !deleted) {
        deleted = await this.deleteJob(name, s.grace).then(
          () => true,
          (err: unknown) => (log.warn({ err, k8s_job: name }, 'deleting the Job failed; trying again'), false),
        );
      }
      let seen: { k8sJob: V1Job | null; pod: V1Pod | null };
      s.changed = false; // what happens from here on is seen by this read or wakes the next
      try {
        seen = await this.look(name);
      } catch (err) {
        log.warn({ err, k8s_job: name }, 'reading the Job failed; trying again');
        await sleep(this.c.pollMs);
        continue;
      }
      const { k8sJob, pod } = seen;
      // Gone after our delete: the attempt is over once its pod is gone too.
      if (deleted && !k8sJob && !pod) break;
      if (!s.stopAsked)
        disrupted ??= disruptionOf(pod) ?? (pod?.metadata?.deletionTimestamp ? 'the pod was deleted outside Trainyard (a drain, a preemption)' : null);
      const v = classify(k8sJob, pod, null);
      if (v.kind !== 'pending' && v.kind !== 'running') break;
      if (!k8sJob && !deleted) break; // deleted by someone else
      if (v.kind === 'pending' && v.reason !== 'no pod yet') {
        pendingSince ??= v.since ?? Date.now();
        if (Date.now() - pendingSince > this.c.pendingSeconds * 1000 && !deleted) {
          await this.deleteJob(name, 0).catch(() => {});
          return { type: 'infrastructure', message: `the pod did not start within ${this.c.pendingSeconds} s (${v.reason.slice(0, 300)})` };
        }
      } else pendingSince = null;
      if (s.changed || (s.stopAsked && !deleted)) continue;
      // Watched: the next event wakes us (a pending pod's deadline too, which no event marks).
      // Not watched: poll. A stop wakes us either way.
      let wait = this.watcher.live ? Math.max(this.c.pollMs, RESYNC_MS) : this.c.pollMs;
      if (pendingSince !== null) wait = Math.min(wait, Math.max(0, pendingSince + this.c.pendingSeconds * 1000 - Date.now()) + 50);
      const timer = new AbortController();
      await Promise.race([sleep(wait, undefined, { signal: timer.signal }).catch(() => {}), new Promise<void>((r) => (s.wake = r))]);
      timer.abort();
    }
    const reported = await reportedOutcome(this.d, fence, startedAt, s.stopAsked);
    if (reported) return reported;
    if (s.stopAsked) return { type: 'stopped' };
    // A Job or pod that cannot be read now is classified from nothing: the cluster's fault.
    const last = await this.look(name).catch(() => ({ k8sJob: null, pod: null }));
    const v = classify(last.k8sJob, last.pod, disrupted);
    const why = `Kubernetes Job ${ns}/${name}`;
    if (v.kind === 'infrastructure') return { type: 'infrastructure', message: `${why}: ${v.message}` };
    if (v.kind === 'failed')
      return { type: 'failed', error: { code: JOB_ERROR_CODES[v.code], message: `${why}: ${v.message}, without a report from the launcher` } };
    if (v.kind === 'succeeded')
      return { type: 'failed', error: { code: JOB_ERROR_CODES.TRAINER_FAILED, message: `${why} completed without a report from the launcher` } };
    return { type: 'infrastructure', message: `${why} disappeared` };
  }

  /** The attempt's Job and its one pod, each null when there is none (any more). */
  private async look(name: string): Promise<{ k8sJob: V1Job | null; pod: V1Pod | null }> {
    const ns = this.c.namespace;
    const k8sJob = await this.batch.readNamespacedJob({ name, namespace: ns }).catch((e: unknown) => (notFound(e) ? null : Promise.reject(e)));
    const pods = await this.core.listNamespacedPod({ namespace: ns, labelSelector: `batch.kubernetes.io/job-name=${name}` });
    return { k8sJob, pod: pods.items[0] ?? null };
  }

  private async deleteJob(name: string, graceMs: number): Promise<void> {
    await this.batch
      .deleteNamespacedJob({ name, namespace: this.c.namespace, propagationPolicy: 'Background', gracePeriodSeconds: Math.ceil(graceMs / 1000) })
      .catch((e: unknown) => (notFound(e) ? undefined : Promise.reject(e)));
  }

  async close(): Promise<void> {
    this.watcher.close();
  }
}
