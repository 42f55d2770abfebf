/**
 * Everything that changes with slurmrestd's OpenAPI version lives here, so a Slurm upgrade
 * touches this file only. Two shapes exist:
 *
 * - `v0.0.36`–`v0.0.38` (Slurm 21.08–22.05; Debian 12 ships 22.05 with v0.0.38, which the
 *   slurm tests run against): the environment is an object, `time_limit` a number of minutes,
 *   GPUs go in `gres`, `job_state` is one string and `exit_code` the raw wait(2) status.
 * - `v0.0.39` and later (Slurm 23.02+): the environment is a `KEY=value` array, numbers that
 *   may be unset are `{ set, infinite, number }`, GPUs go in `tres_per_node` (`gres` is
 *   ignored there with a warning), `job_state` is an array of state and flags, and `exit_code`
 *   an object with `return_code` and `signal`. Written from the published schemas; no such
 *   slurmrestd runs on this machine, so the reading side accepts both shapes either way.
 */

/** Newest first: the client picks the first one the server serves. */
export const KNOWN_VERSIONS = ['v0.0.42', 'v0.0.41', 'v0.0.40', 'v0.0.39', 'v0.0.38', 'v0.0.37', 'v0.0.36'] as const;
export type SlurmApiVersion = (typeof KNOWN_VERSIONS)[number];

/** What Trainyard asks of one batch job, whatever the version. */
export interface SlurmJobSpec {
  name: string;
  /** The whole batch script, `#!` line included. */
  script: string;
  /** Absolute, on the compute node; the job's own files are resolved against it. */
  workingDirectory: string;
  /** The job's complete environment: nothing of the submitting process leaks into it. */
  environment: Record<string, string>;
  /** `--gres=gpu:N`; 0 or unset asks for none. */
  gpus?: number;
  timeLimitMinutes?: number;
  /** Absolute paths (or Slurm patterns like `%j`); Slurm's default is slurm-<id>.out in the working directory. */
  stdout?: string;
  stderr?: string;
  partition?: string;
  cpusPerTask?: number;
  /**
   * Let Slurm requeue the job by itself after a node failure or a preemption (default: no;
   * Trainyard retries, one attempt at a time). v0.0.38 cannot say no (see below): there an
   * unset or false `requeue` leaves it to the cluster's JobRequeue.
   */
  requeue?: boolean;
}

/** The fields of a job that the client reads, in one shape for every version. */
export interface RawJobFields {
  jobId: number;
  /** Slurm's base state, e.g. `PENDING`, `RUNNING`, `NODE_FAIL`. */
  state: string;
  /** Flags beside it in v0.0.39+ (`COMPLETING`, `REQUEUED`, ...); [] before. */
  stateFlags: string[];
  /** `state_reason`, e.g. `Resources`, `NonZeroExitCode`, `NodeDown`, `None`. */
  reason: string;
  /** The script's exit status; null while unknown or when a signal ended it. */
  exitCode: number | null;
  /** The signal that ended the script, if one did. */
  signal: number | null;
  nodes: string | null;
  /**
   * `restart_cnt`: how often Slurm requeued the job (after a node failure or a preemption,
   * where the cluster's JobRequeue allows it). A requeued job shows as pending again (reason
   * `BeginTime`), so > 0 is how a caller tells "lost its node and waits to rerun" from "queued".
   */
  restarts: number;
}

export interface Dialect {
  readonly version: SlurmApiVersion;
  /** The body for POST /slurm/<version>/job/submit. */
  submitBody(spec: SlurmJobSpec): unknown;
  /** One element of a GET /slurm/<version>/job/<id> response's `jobs`. */
  readJob(job: Record<string, unknown>): RawJobFields;
}

export function isKnownVersion(v: string): v is SlurmApiVersion {
  return (KNOWN_VERSIONS as readonly string[]).includes(v);
}

/** The newest known version among the served paths (`/slurm/v0.0.38/ping`, ...); null if none. */
export function pickVersion(paths: readonly string[]): SlurmApiVersion | null {
  const served = new Set(paths.map((p) => /^\/slurm\/(v\d+\.\d+\.\d+)\//.exec(p)?.[1]).filter((v): v is string => v !== undefined));
  return KNOWN_VERSIONS.find((v) => served.has(v)) ?? null;
}

export function dialectFor(version: SlurmApiVersion): Dialect {
  const minor = Number(version.split('.')[2]);
  return minor <= 38 ? legacy(version) : current(version);
}

function legacy(version: SlurmApiVersion): Dialect {
  return {
    version,
    submitBody: (s) => ({
      script: s.script,
      job: {
        ...common(s),
        // `requeue` only when true: v0.0.38 (22.05.8) sets requeue=true whenever the field is
        // there, even as false. Left out, the cluster's JobRequeue decides (Slurm's default, 1,
        // requeues a batch job after a node failure; the job then shows `restarts` > 0).
        ...(s.requeue ? { requeue: true } : {}),
        environment: { ...s.environment },
        ...(s.gpus ? { gres: `gpu:${s.gpus}` } : {}),
        ...(s.timeLimitMinutes !== undefined ? { time_limit: s.timeLimitMinutes } : {}),
      },
    }),
    readJob: (j) => {
      // The raw wait(2) status: exit code in the high byte, terminating signal in the low bits.
      const status = num(j.exit_code);
      const signal = status === null ? null : status & 0x7f;
      return {
        ...base(j),
        state: str(j.job_state) ?? 'UNKNOWN',
        stateFlags: [],
        exitCode: status === null || signal ? null : (status >> 8) & 0xff,
        signal: signal || null,
      };
    },
  };
}

function current(version: SlurmApiVersion): Dialect {
  const set = (n: number) => ({ set: true, infinite: false, number: n });
  return {
    version,
    submitBody: (s) => ({
      script: s.script,
      job: {
        ...common(s),
        environment: Object.entries(s.environment).map(([k, v]) => `${k}=${v}`),
        requeue: s.requeue ?? false,
        ...(s.gpus ? { tres_per_node: `gres/gpu:${s.gpus}` } : {}),
        ...(s.timeLimitMinutes !== undefined ? { time_limit: set(s.timeLimitMinutes) } : {}),
      },
    }),
    readJob: (j) => {
      const states = Array.isArray(j.job_state) ? j.job_state.map(String) : [str(j.job_state) ?? 'UNKNOWN'];
      const exit = j.exit_code;
      let exitCode = num(exit);
      let signal: number | null = null;
      if (exit && typeof exit === 'object' && 'return_code' in exit) {
        const e = exit as Record<string, unknown>;
        exitCode = num(e.return_code);
        const sig = e.signal as Record<string, unknown> | undefined;
        signal = num(sig?.id ?? sig?.signal_id) || null;
      }
      return { ...base(j), state: states[0] ?? 'UNKNOWN', stateFlags: states.slice(1), exitCode: signal ? null : exitCode, signal };
    },
  };
}

/** Fields spelled the same in every version. */
function common(s: SlurmJobSpec): Record<string, unknown> {
  return {
    name: s.name,
    current_working_directory: s.workingDirectory,
    ...(s.stdout ? { standard_output: s.stdout } : {}),
    ...(s.stderr ? { standard_error: s.stderr } : {}),
    ...(s.partition ? { partition: s.partition } : {}),
    ...(s.cpusPerTask ? { cpus_per_task: s.cpusPerTask } : {}),
  };
}

function base(j: Record<string, unknown>): Omit<RawJobFields, 'state' | 'stateFlags' | 'exitCode' | 'signal'> {
  return { jobId: num(j.job_id) ?? -1, reason: str(j.state_reason) ?? 'None', nodes: str(j.nodes) || null, restarts: num(j.restart_cnt) ?? 0 };
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** A number, or v0.0.39+'s `{ set, infinite, number }` (null when unset or infinite). */
function num(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object') {
    const o = v as { set?: boolean; infinite?: boolean; number?: unknown };
    if (o.set === false || o.infinite === true) return null;
    return typeof o.number === 'number' ? o.number : null;
  }
  return null;
}
