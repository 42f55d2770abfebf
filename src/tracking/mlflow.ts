/**
 * A small MLflow tracking client over its REST API (the subset a finished job needs):
 * experiments by name, runs, batched params/metrics/tags, the run's end, and artifacts through
 * the tracking server's artifact proxy (`--serve-artifacts`, MLflow 3's default). Every request
 * goes through safeFetch with the webhook address policy: a tracking URI is a user-supplied URL
 * like any other, checked again on every request, never a way into the private network.
 */
import { AppError } from '../errors.js';
import type { AddressPolicy, Resolver } from '../net/address-guard.js';
import { safeFetch, type HttpMethod } from '../net/safe-fetch.js';

/** MLflow's log-batch limits: 1000 metrics, 100 params, 100 tags, 1000 entities in one call. */
export const BATCH_MAX_METRICS = 1000;
export const BATCH_MAX_PARAMS = 100;
/** MLflow's limit on a param value (6000 since MLflow 2). */
const MAX_PARAM_VALUE = 6000;
/** A JSON answer is small; anything bigger is not MLflow talking. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export interface MlflowMetric {
  key: string;
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  step: number;
}

export type RunStatus = 'FINISHED' | 'FAILED' | 'KILLED';

export interface MlflowClientOptions {
  policy: AddressPolicy;
  resolver?: Resolver;
  /** One JSON request; default 30 s. */
  timeoutMs?: number;
  /** One artifact upload; default 10 min. */
  uploadTimeoutMs?: number;
}

export class MlflowClient {
  private readonly base: string;

  constructor(
    trackingUri: string,
    private readonly o: MlflowClientOptions,
  ) {
    this.base = trackingUri.replace(/\/+$/, '');
  }

  private async call<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
    const res = await safeFetch(`${this.base}${path}`, {
      policy: this.o.policy,
      ...(this.o.resolver ? { resolver: this.o.resolver } : {}),
      timeoutMs: this.o.timeoutMs ?? 30_000,
      maxBytes: MAX_ANSWER_BYTES,
      maxRedirects: 0,
      method,
      headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new AppError('TRACKER_INVALID_ANSWER', `MLflow answered ${path} with something that is not JSON`, { status: 502 });
    }
  }

  /** The experiment's id, creating it when it does not exist (another creator racing us is fine). */
  async experimentId(name: string): Promise<string> {
    const find = async (): Promise<string | null> => {
      try {
        const r = await this.call<{ experiment: { experiment_id: string } }>(
          'GET',
          `/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`,
        );
        return r.experiment.experiment_id;
      } catch (err) {
        if (err instanceof AppError && err.code === 'UPSTREAM_STATUS' && (err.details as { status?: number }).status === 404) return null;
        throw err;
      }
    };
    const found = await find();
    if (found) return found;
    try {
      return (await this.call<{ experiment_id: string }>('POST', '/api/2.0/mlflow/experiments/create', { name })).experiment_id;
    } catch (err) {
      const again = await find();
      if (again) return again;
      throw err;
    }
  }

  async createRun(
    experimentId: string,
    o: { runName: string; startTime: number; tags: Record<string, string> },
  ): Promise<{ runId: string; artifactUri: string }> {
    const r = await this.call<{ run: { info: { run_id: string; artifact_uri: string } } }>('POST', '/api/2.0/mlflow/runs/create', {
      experiment_id: experimentId,
      run_name: o.runName,
      start_time: o.startTime,
      tags: Object.entries(o.tags).map(([key, value]) => ({ key, value })),
    });
    return { runId: r.run.info.run_id, artifactUri: r.run.info.artifact_uri };
  }

  /** Params and metrics in as many log-batch calls as MLflow's limits need. */
  async logBatch(runId: string, params: Record<string, string>, metrics: MlflowMetric[]): Promise<void> {
    const p = Object.entries(params).map(([key, value]) => ({ key: key.slice(0, 250), value: value.slice(0, MAX_PARAM_VALUE) }));
    for (let i = 0; i < p.length; i += BATCH_MAX_PARAMS)
      await this.call('POST', '/api/2.0/mlflow/runs/log-batch', { run_id: runId, params: p.slice(i, i + BATCH_MAX_PARAMS) });
    const m = metrics.filter((x) => Number.isFinite(x.value));
    for (let i = 0; i < m.length; i += BATCH_MAX_METRICS)
      await this.call('POST', '/api/2.0/mlflow/runs/log-batch', { run_id: runId, metrics: m.slice(i, i + BATCH_MAX_METRICS) });
  }

  async endRun(runId: string, status: RunStatus, endTime: number): Promise<void> {
    await this.call('POST', '/api/2.0/mlflow/runs/update', { run_id: runId, status, end_time: endTime });
  }

  /**
   * One artifact through the server's proxy. The run's artifact URI says where
   * (`mlflow-artifacts:/<experiment>/<run>/artifacts`); a server that does not proxy artifacts
   * (an s3:// or file:// store the client would write to itself) is refused: this server
   * writes to the tracking URI only.
   */
  async uploadArtifact(artifactUri: string, name: string, bytes: Buffer): Promise<void> {
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.+)$/.exec(artifactUri);
    if (!m)
      throw new AppError(
        'TRACKER_NO_ARTIFACT_PROXY',
        `the run's artifact store (${artifactUri.split(':')[0]}) is not served by the tracking server; start it with --serve-artifacts`,
      );
    const path = `${m[1]!.replace(/\/+$/, '')}/${encodeURIComponent(name)}`;
    const res = await safeFetch(`${this.base}/api/2.0/mlflow-artifacts/artifacts/${path}`, {
      policy: this.o.policy,
      ...(this.o.resolver ? { resolver: this.o.resolver } : {}),
      timeoutMs: this.o.uploadTimeoutMs ?? 600_000,
      maxBytes: MAX_ANSWER_BYTES,
      maxRedirects: 0,
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    res.body.resume();
    await new Promise<void>((resolve, reject) => res.body.once('end', resolve).once('error', reject));
  }
}
