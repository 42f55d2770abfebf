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
      kind: 'kubernetes';
      /** KUBECONFIG (a file), else the in-cluster service account. */
      kubeconfig: string | null;
      /** KUBERNETES_NAMESPACE (default default): Jobs and Secrets go there. */
      namespace: string;
      /** KUBERNETES_IMAGE: the launcher image (see the Dockerfile). */
      image: string;
      /** KUBERNETES_LABELS (k=v,k=v) on Jobs, pods and Secrets; KUBERNETES_POD_ANNOTATIONS (JSON) on pods. */
      labels: Record<string, string>;
      podAnnotations: Record<string, string>;
      /** KUBERNETES_GPU_PRODUCT: a GPU job's nodeSelector on nvidia.com/gpu.product; null: any GPU node. */
      gpuProduct: string | null;
      /** KUBERNETES_TOLERATIONS: a JSON array of tolerations for the pods. */
      tolerations: Array<Record<string, unknown>>;
      /** KUBERNETES_PENDING_SECONDS: a pod not scheduled (or not pulled) by then is an infrastructure failure. */
      pendingSeconds: number;
      /** KUBERNETES_TTL_SECONDS: ttlSecondsAfterFinished of the Jobs. */
      ttlSeconds: number;
    } & RemoteExecutorSettings)
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

function jsonOf<T>(env: Env, name: string, def: T, ok: (v: unknown) => boolean): T {
  const raw = env[name];
  if (!raw) return def;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    v = undefined;
  }
  if (!ok(v)) throw new ConfigError(name, `expected JSON of the documented shape, got ${raw.slice(0, 200)}`);
  return v as T;
}

/** k=v,k=v (Kubernetes label syntax is checked by the API server). */
function keyValues(env: Env, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (env[name] ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const at = item.indexOf('=');
    if (at <= 0) throw new ConfigError(name, `expected k=v items, got "${item}"`);
    out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}

export function executorSettings(env: Env, publicUrl: string | null): ExecutorSettings {
  const kind = oneOf(env, 'EXECUTOR', ['local', 'slurm', 'kubernetes'] as const, 'local');
  if (kind === 'local') return { kind };
  const apiUrl = env.EXECUTOR_API_URL || publicUrl;
  if (!apiUrl || !/^https?:\/\/[^/]+/.test(apiUrl))
    throw new ConfigError('EXECUTOR_API_URL', 'required (or PUBLIC_URL): the http(s) URL where launchers reach the API');
  const remote: RemoteExecutorSettings = {
    apiUrl,
    // The image's entry point (Dockerfile) on Kubernetes; a `trainyard` on the nodes' PATH for Slurm.
    launcher: env.EXECUTOR_LAUNCHER || kind === 'slurm' ? launcher(env.EXECUTOR_LAUNCHER) : ['node', '/app/dist/main.js'],
    workDir: env.EXECUTOR_WORK_DIR || '/tmp/trainyard-attempts',
    python: env.EXECUTOR_PYTHON || 'python3',
    pollMs: int(env, 'EXECUTOR_POLL_MS', 1000, 10, 600_000),
  };
  if (kind === 'kubernetes') {
    return {
      kind,
      kubeconfig: env.KUBECONFIG || null,
      namespace: env.KUBERNETES_NAMESPACE || 'default',
      image: need(env, 'KUBERNETES_IMAGE', 'for EXECUTOR=kubernetes: the launcher image'),
      labels: keyValues(env, 'KUBERNETES_LABELS'),
      podAnnotations: jsonOf(
        env,
        'KUBERNETES_POD_ANNOTATIONS',
        {},
        (v) => !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string'),
      ),
      gpuProduct: env.KUBERNETES_GPU_PRODUCT || null,
      tolerations: jsonOf(env, 'KUBERNETES_TOLERATIONS', [], (v) => Array.isArray(v) && v.every((x) => !!x && typeof x === 'object')),
      pendingSeconds: int(env, 'KUBERNETES_PENDING_SECONDS', 600, 1, 7 * 86_400),
      ttlSeconds: int(env, 'KUBERNETES_TTL_SECONDS', 3600, 0, 30 * 86_400),
      ...remote,
    };
  }
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
