/**
 * A thin typed client for slurmrestd: submit a batch job, read its state, cancel or signal it,
 * ping. JWT auth (`AuthAltTypes=auth/jwt` on the cluster, `rest_auth/jwt` on slurmrestd): every
 * request carries the user name and a token. The JSON shapes that change between Slurm releases
 * are in ./version.ts; this file only speaks HTTP and maps the answers to stable types.
 */
import { dialectFor, pickVersion, type Dialect, type RawJobFields, type SlurmApiVersion, type SlurmJobSpec } from './version.js';

export type { SlurmJobSpec, SlurmApiVersion } from './version.js';
export { isKnownVersion, KNOWN_VERSIONS } from './version.js';

/** A job's state in Trainyard's terms, the same for every Slurm version. */
export type SlurmJobStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'timeout' | 'node_fail' | 'preempted' | 'out_of_memory' | 'unknown';

export interface SlurmJobInfo extends RawJobFields {
  status: SlurmJobStatus;
  /** Slurm will not change it any more. */
  final: boolean;
  /** The job object as slurmrestd sent it, for logs and for fields this client does not read. */
  raw: Record<string, unknown>;
}

export type SlurmErrorCode =
  /** slurmrestd cannot be reached, or it cannot reach slurmctld: worth retrying later. */
  | 'SLURM_UNAVAILABLE'
  /** The user name or token was refused. */
  | 'SLURM_AUTH'
  /** Slurm refused the request (bad spec, no such partition, ...): retrying the same will not help. */
  | 'SLURM_REJECTED'
  /** Slurm does not know the job (never existed, or purged after MinJobAge). */
  | 'SLURM_JOB_NOT_FOUND'
  /** slurmrestd serves no OpenAPI version this client knows. */
  | 'SLURM_UNSUPPORTED_VERSION'
  /** An answer that is not the JSON this client expects. */
  | 'SLURM_BAD_RESPONSE';

export interface SlurmApiError {
  error: string;
  error_number?: number;
  description?: string;
  source?: string;
}

export class SlurmError extends Error {
  readonly code: SlurmErrorCode;
  constructor(
    code: SlurmErrorCode,
    message: string,
    readonly details: { status?: number; errors?: SlurmApiError[]; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SlurmError';
    this.code = code;
  }
}

export interface SlurmRestOptions {
  /** slurmrestd's base URL, e.g. http://slurm-head:6820 */
  url: string;
  /** X-SLURM-USER-NAME: the user the jobs run as. */
  userName: string;
  /** X-SLURM-USER-TOKEN, or a function asked before each request (tokens expire). */
  token: string | (() => string | Promise<string>);
  /** The OpenAPI version to speak; discovered from GET /openapi when unset. */
  version?: SlurmApiVersion;
  fetch?: typeof fetch;
  /** Per request (default 10 s). */
  timeoutMs?: number;
}

// Slurm's error numbers that mean "the controller could not be reached" (slurm_errno.h: the
// SLURM_COMMUNICATIONS_* and SLURM_PROTOCOL_* ranges, and ESLURM_IN_STANDBY_MODE).
const isUnavailableErrno = (n: number) => (n >= 1000 && n < 2000) || n === 2097 || n === 2098;
// ESLURM_INVALID_JOB_ID: the job is unknown (or already purged).
const INVALID_JOB_ID = 2017;

export class SlurmRestClient {
  private readonly dialect: Dialect;
  private constructor(
    private readonly opts: SlurmRestOptions,
    version: SlurmApiVersion,
  ) {
    this.dialect = dialectFor(version);
  }

  /** A client for `opts.version`, or for the newest version this slurmrestd serves. */
  static async connect(opts: SlurmRestOptions): Promise<SlurmRestClient> {
    if (opts.version) return new SlurmRestClient(opts, opts.version);
    const probe = new SlurmRestClient(opts, 'v0.0.38');
    const spec = await probe.request('GET', '/openapi');
    const paths = Object.keys((spec as { paths?: Record<string, unknown> }).paths ?? {});
    const version = pickVersion(paths);
    if (!version) {
      const served = [...new Set(paths.map((p) => /^\/slurm\/(v[\d.]+)\//.exec(p)?.[1]).filter(Boolean))].join(', ') || 'none';
      throw new SlurmError('SLURM_UNSUPPORTED_VERSION', `slurmrestd at ${opts.url} serves no known OpenAPI version (served: ${served})`);
    }
    return new SlurmRestClient(opts, version);
  }

  get version(): SlurmApiVersion {
    return this.dialect.version;
  }

  /** The controllers' answer to a ping; throws SLURM_UNAVAILABLE when none is up. */
  async ping(): Promise<{ release: string | null; controllers: Array<{ hostname: string; up: boolean }> }> {
    const body = await this.request('GET', this.path('ping'));
    const pings = Array.isArray(body.pings) ? (body.pings as Array<Record<string, unknown>>) : [];
    const controllers = pings.map((p) => ({
      hostname: String(p.hostname ?? ''),
      // v0.0.38 says ping: "UP"; later versions say pinged: "UP" and responding: true.
      up: p.ping === 'UP' || p.pinged === 'UP' || p.responding === true,
    }));
    if (!controllers.some((c) => c.up)) throw new SlurmError('SLURM_UNAVAILABLE', `no Slurm controller answers: ${JSON.stringify(pings)}`);
    const meta = body.meta as { Slurm?: { release?: string }; slurm?: { release?: string } } | undefined;
    return { release: meta?.Slurm?.release ?? meta?.slurm?.release ?? null, controllers };
  }

  async submit(spec: SlurmJobSpec): Promise<{ jobId: number }> {
    const body = await this.request('POST', this.path('job/submit'), this.dialect.submitBody(spec));
    const jobId = body.job_id;
    if (typeof jobId !== 'number') throw new SlurmError('SLURM_BAD_RESPONSE', `submit answered without a job_id: ${JSON.stringify(body).slice(0, 500)}`);
    return { jobId };
  }

  /** The job's state; null once Slurm no longer knows it (purged MinJobAge after it ended). */
  async job(jobId: number): Promise<SlurmJobInfo | null> {
    let body: Record<string, unknown>;
    try {
      body = await this.request('GET', this.path(`job/${jobId}`));
    } catch (err) {
      if (err instanceof SlurmError && err.code === 'SLURM_JOB_NOT_FOUND') return null;
      throw err;
    }
    const jobs = Array.isArray(body.jobs) ? (body.jobs as Array<Record<string, unknown>>) : [];
    const raw = jobs.find((j) => j.job_id === jobId) ?? jobs[0];
    if (!raw) return null;
    const fields = this.dialect.readJob(raw);
    const status = statusOf(fields.state);
    return { ...fields, status, final: FINAL.has(status) && !fields.stateFlags.includes('COMPLETING'), raw };
  }

  /**
   * Slurm's own cancel (what plain `scancel` does): SIGCONT and SIGTERM to every process of the
   * job, SIGKILL after the cluster's KillWait; the job ends `cancelled`. A job that has already
   * ended is not an error.
   */
  async cancel(jobId: number): Promise<void> {
    await this.kill(jobId, null);
  }

  /**
   * Only sends `signal` (`scancel --signal`): the job goes on, or ends as its script decides
   * (a script that traps SIGTERM and exits 0 ends `completed`).
   */
  async signal(jobId: number, signal: NodeJS.Signals): Promise<void> {
    await this.kill(jobId, signal);
  }

  private async kill(jobId: number, signal: NodeJS.Signals | null): Promise<void> {
    const query = signal ? `?signal=${encodeURIComponent(signal)}` : '';
    try {
      await this.request('DELETE', this.path(`job/${jobId}`) + query);
    } catch (err) {
      // ESLURM_ALREADY_DONE (2021): nothing left to stop.
      if (err instanceof SlurmError && err.details.errors?.some((e) => e.error_number === 2021)) return;
      throw err;
    }
  }

  private path(rest: string): string {
    return `/slurm/${this.dialect.version}/${rest}`;
  }

  private async request(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const { url, userName, token, fetch: doFetch = fetch, timeoutMs = 10_000 } = this.opts;
    const headers: Record<string, string> = {
      'X-SLURM-USER-NAME': userName,
      'X-SLURM-USER-TOKEN': typeof token === 'function' ? await token() : token,
      Accept: 'application/json',
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await doFetch(new URL(path, url), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (cause) {
      throw new SlurmError('SLURM_UNAVAILABLE', `slurmrestd at ${url} did not answer ${method} ${path}: ${(cause as Error).message}`, { cause });
    }
    if (res.status === 401 || res.status === 403)
      throw new SlurmError('SLURM_AUTH', `slurmrestd refused the credentials of ${userName} (${res.status})`, { status: res.status });
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch (cause) {
      const code = res.status >= 500 ? 'SLURM_UNAVAILABLE' : 'SLURM_BAD_RESPONSE';
      throw new SlurmError(code, `${method} ${path}: ${res.status} ${text.slice(0, 300)}`, { status: res.status, cause });
    }
    const errors = (Array.isArray(json.errors) ? json.errors : []) as SlurmApiError[];
    if (errors.length === 0 && res.ok) return json;
    const what = errors.map((e) => e.description || e.error).join('; ') || `HTTP ${res.status}`;
    const numbers = errors.map((e) => e.error_number ?? 0);
    const code: SlurmErrorCode = numbers.includes(INVALID_JOB_ID)
      ? 'SLURM_JOB_NOT_FOUND'
      : numbers.some(isUnavailableErrno) || (errors.length === 0 && res.status >= 500)
        ? 'SLURM_UNAVAILABLE'
        : 'SLURM_REJECTED';
    throw new SlurmError(code, `${method} ${path}: ${what}`, { status: res.status, errors });
  }
}

const FINAL = new Set<SlurmJobStatus>(['completed', 'failed', 'cancelled', 'timeout', 'node_fail', 'preempted', 'out_of_memory']);

/** Slurm's base job states (slurm.h `job_states`) in Trainyard's terms. */
export function statusOf(state: string): SlurmJobStatus {
  switch (state) {
    case 'PENDING':
    case 'REQUEUED':
    case 'REQUEUE_HOLD':
    case 'REQUEUE_FED':
    case 'RESV_DEL_HOLD':
      return 'pending';
    // Allocated and not yet over: booting nodes, suspended, still tearing down.
    case 'RUNNING':
    case 'CONFIGURING':
    case 'COMPLETING':
    case 'SUSPENDED':
    case 'STOPPED':
    case 'SIGNALING':
    case 'STAGE_OUT':
    case 'RESIZING':
      return 'running';
    case 'COMPLETED':
      return 'completed';
    case 'FAILED':
      return 'failed';
    case 'CANCELLED':
      return 'cancelled';
    case 'TIMEOUT':
    case 'DEADLINE':
      return 'timeout';
    case 'NODE_FAIL':
    case 'BOOT_FAIL':
      return 'node_fail';
    case 'PREEMPTED':
      return 'preempted';
    case 'OUT_OF_MEMORY':
      return 'out_of_memory';
    default:
      return 'unknown';
  }
}
