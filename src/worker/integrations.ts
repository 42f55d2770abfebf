import type { Logger } from 'pino';
import type { Db } from '../db/db.js';
import { jobById, metricEvents } from '../domain/jobs/queries.js';
import { isFinal, JOB_STATES } from '../domain/jobs/states.js';
import type { JobRow } from '../domain/jobs/types.js';
import { artifacts as versionArtifacts, setVersionIntegration, versionById, type ArtifactRow, type VersionRow } from '../domain/registry/queries.js';
import type { AddressPolicy, Resolver } from '../net/address-guard.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { StoredIntegration } from '../tracking/integrations.js';
import { MlflowClient, type MlflowMetric, type RunStatus } from '../tracking/mlflow.js';

/** Metric reports logged per run (evenly thinned beyond, the last kept). */
const MAX_METRIC_EVENTS = 20_000;
/** An artifact read into memory for one upload: larger ones are left out, and the run says so. */
const MAX_UPLOAD_BYTES = 512 * 1024 * 1024;

export interface TrackingDeps {
  db: Db;
  store: BlobStore;
  /** The webhook address policy (WEBHOOK_ALLOW_ADDRESSES): trackers are user-supplied URLs too. */
  policy: AddressPolicy;
  resolver?: Resolver;
  log: Logger;
  /** One JSON request to the tracker; default 30 s. */
  timeoutMs?: number;
}

const RUN_STATUS: Record<string, RunStatus> = { [JOB_STATES.SUCCEEDED]: 'FINISHED', [JOB_STATES.FAILED]: 'FAILED', [JOB_STATES.CANCELLED]: 'KILLED' };

/** Hyperparameters as MLflow params: strings, nested values as JSON. */
function params(job: JobRow): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(job.hyperparameters)) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  out['trainyard.trainer'] = job.trainer;
  if (job.base_model) out['trainyard.base_model'] = job.base_model;
  if (job.dataset_id) out['trainyard.dataset_id'] = job.dataset_id;
  return out;
}

async function readAll(store: BlobStore, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await store.get(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Logs ended jobs to the experiment trackers they asked for (issue #17). It runs after the
 * job's final state is committed and apart from it: the job, its credits and its webhooks
 * never wait on a tracker, and a tracker that fails is recorded on the job (status failed,
 * error), never thrown. The worker waits for what is in flight when it stops.
 */
export class Tracking {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly d: TrackingDeps) {}

  /** Starts logging `jobId` when it has ended with trackers still pending; returns at once. */
  afterJob(jobId: string): void {
    const p = this.logJob(jobId)
      .catch((err) => this.d.log.warn({ err, job: jobId }, 'tracking failed'))
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Until every logging started has finished (each request has its own timeout). */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  private async logJob(jobId: string): Promise<void> {
    const job = await jobById(this.d.db, null, jobId);
    if (!job || !isFinal(job.status) || !job.integrations.some((i) => i.status === 'pending')) return;
    const version = job.model_version_id ? await versionById(this.d.db, job.model_version_id) : null;
    const files = version ? await versionArtifacts(this.d.db, [version.id]) : [];
    const metrics = await this.metrics(job);
    const done: StoredIntegration[] = [];
    for (const it of job.integrations) {
      if (it.status !== 'pending' || it.type !== 'mlflow') {
        done.push(it);
        continue;
      }
      const r = await this.logMlflow(job, it, version, files, metrics).then(
        (ok): StoredIntegration => ({ ...it, status: 'logged', run_id: ok.runId, experiment_id: ok.experimentId, error: null }),
        (err: Error & { runId?: string; experimentId?: string }): StoredIntegration => ({
          ...it,
          status: 'failed',
          run_id: err.runId ?? null,
          experiment_id: err.experimentId ?? null,
          error: String(err.message).slice(0, 1000),
        }),
      );
      done.push(r);
      if (version && r.status === 'logged' && !done.slice(0, -1).some((x) => x.status === 'logged'))
        await setVersionIntegration(this.d.db, version.id, 'mlflow', {
          run_id: r.run_id,
          experiment_id: r.experiment_id,
          tracking_uri: r.tracking_uri,
          status: 'logged',
        });
    }
    await this.d.db.query('update jobs set integrations = $2 where id = $1', [job.id, JSON.stringify(done)]);
  }

  /** The stored metric history (each report at its step) and the final metrics at the last step. */
  private async metrics(job: JobRow): Promise<MlflowMetric[]> {
    const out: MlflowMetric[] = [];
    let lastStep = 0;
    for (const e of await metricEvents(this.d.db, job.id, MAX_METRIC_EVENTS)) {
      const d = e.data as { step: number; values: Record<string, number> };
      lastStep = Math.max(lastStep, d.step);
      for (const [key, value] of Object.entries(d.values)) out.push({ key, value, step: d.step, timestamp: e.created_at.getTime() });
    }
    const final = ((job.result as { metrics?: Record<string, number> } | null)?.metrics ?? {}) as Record<string, number>;
    const at = (job.finished_at ?? new Date()).getTime();
    for (const [key, value] of Object.entries(final)) if (typeof value === 'number') out.push({ key, value, step: lastStep, timestamp: at });
    return out;
  }

  private async logMlflow(
    job: JobRow,
    it: StoredIntegration,
    version: VersionRow | null,
    files: ArtifactRow[],
    metrics: MlflowMetric[],
  ): Promise<{ runId: string; experimentId: string }> {
    const client = new MlflowClient(it.tracking_uri, {
      policy: this.d.policy,
      ...(this.d.resolver ? { resolver: this.d.resolver } : {}),
      ...(this.d.timeoutMs ? { timeoutMs: this.d.timeoutMs } : {}),
    });
    const experimentId = await client.experimentId(it.experiment);
    const model = job.output?.model_name;
    const skipped = files.filter((f) => f.bytes > MAX_UPLOAD_BYTES).map((f) => f.name);
    const tags: Record<string, string> = {
      'mlflow.source.name': 'trainyard',
      'trainyard.job_id': job.id,
      'trainyard.trainer': job.trainer,
      'trainyard.status': job.status,
      ...(model ? { 'trainyard.model': model } : {}),
      ...(version ? { 'trainyard.model_version': String(version.version) } : {}),
      ...(job.error ? { 'trainyard.error': `${job.error.code}: ${job.error.message}`.slice(0, 5000) } : {}),
      ...(skipped.length ? { 'trainyard.artifacts_not_uploaded': skipped.join(', ') } : {}),
    };
    const runName = model && version ? `${model}-v${version.version}` : job.id;
    const { runId, artifactUri } = await client.createRun(experimentId, { runName, startTime: (job.started_at ?? job.created_at).getTime(), tags });
    try {
      await client.logBatch(runId, params(job), metrics);
      for (const f of files) if (f.bytes <= MAX_UPLOAD_BYTES) await client.uploadArtifact(artifactUri, f.name, await readAll(this.d.store, f.storage_key));
      await client.endRun(runId, RUN_STATUS[job.status] ?? 'FINISHED', (job.finished_at ?? new Date()).getTime());
    } catch (err) {
      // The run exists: say which, so a user can look at (or delete) what did arrive.
      await client.endRun(runId, 'FAILED', Date.now()).catch(() => {});
      throw Object.assign(err as Error, { runId, experimentId });
    }
    return { runId, experimentId };
  }
}
