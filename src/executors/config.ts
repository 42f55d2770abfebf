/**
 * EXECUTOR and its settings: where a worker runs its attempts. `local` (the default) runs
 * trainers as child processes of the worker; `slurm` submits one batch job per attempt to a
 * Slurm cluster through slurmrestd, whose script is `trainyard run-attempt`.
 */
import { int, oneOf, type Env } from '../config.js';
import { ConfigError } from '../errors.js';

export interface RemoteExecutorSettings {
  /** EXECUTOR_API_URL: how launchers on the cluster reach the API (default PUBLIC_URL). */
  apiUrl: string;
  /** EXECUTOR_LAUNCHER: the launcher's command on a node, as a JSON array or one word (default trainyard). */
  launcher: string[];
  /** EXECUTOR_WORK_DIR: the attempt folders' parent on the node. */
  workDir: string;
  /** EXECUTOR_PYTHON: the trainer environment's interpreter on the node. */
  python: string;
  /** EXECUTOR_POLL_MS: how often the scheduler's state is read. */
  pollMs: number;
}

export type ExecutorSettings =
  | { kind: 'local' }
  | ({
      kind: 'slurm';
      /** SLURM_REST_URL, SLURM_USER, SLURM_JWT (a token) or SLURM_JWT_KEY_FILE (the cluster's jwt_hs256.key: tokens made as needed). */
      url: string;
      user: string;
      jwt: string | null;
      jwtKeyFile: string | null;
      partition: string | null;
      /** SLURM_API_VERSION, e.g. v0.0.38; discovered when unset. */
      version: string | null;
    } & RemoteExecutorSettings);

function need(env: Env, name: string, why: string): string {
  const v = env[name];
  if (!v) throw new ConfigError(name, `required ${why}`);
  return v;
}

function launcher(raw: string | undefined): string[] {
  if (!raw) return ['trainyard'];
  if (!raw.trim().startsWith('[')) return [raw.trim()];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = null;
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((x) => typeof x === 'string' && x.length > 0))
    throw new ConfigError('EXECUTOR_LAUNCHER', `expected a command or a JSON array of strings, got ${raw}`);
  return parsed as string[];
}

export function executorSettings(env: Env, publicUrl: string | null): ExecutorSettings {
  const kind = oneOf(env, 'EXECUTOR', ['local', 'slurm'] as const, 'local');
  if (kind === 'local') return { kind };
  const apiUrl = env.EXECUTOR_API_URL || publicUrl;
  if (!apiUrl || !/^https?:\/\/[^/]+/.test(apiUrl))
    throw new ConfigError('EXECUTOR_API_URL', 'required (or PUBLIC_URL): the http(s) URL where launchers reach the API');
  const remote: RemoteExecutorSettings = {
    apiUrl,
    launcher: launcher(env.EXECUTOR_LAUNCHER),
    workDir: env.EXECUTOR_WORK_DIR || '/tmp/trainyard-attempts',
    python: env.EXECUTOR_PYTHON || 'python3',
    pollMs: int(env, 'EXECUTOR_POLL_MS', 1000, 10, 600_000),
  };
  const jwt = env.SLURM_JWT || null;
  const jwtKeyFile = env.SLURM_JWT_KEY_FILE || null;
  if (!jwt && !jwtKeyFile) throw new ConfigError('SLURM_JWT', 'EXECUTOR=slurm needs SLURM_JWT or SLURM_JWT_KEY_FILE');
  return {
    kind,
    url: need(env, 'SLURM_REST_URL', 'for EXECUTOR=slurm: slurmrestd’s URL'),
    user: need(env, 'SLURM_USER', 'for EXECUTOR=slurm: the Slurm user the jobs run as'),
    jwt,
    jwtKeyFile,
    partition: env.SLURM_PARTITION || null,
    version: env.SLURM_API_VERSION || null,
    ...remote,
  };
}
