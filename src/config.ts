import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from './errors.js';
import { executorSettings, type ExecutorSettings } from './executors/config.js';
import type { RateLimitStoreKind } from './app/plugins/rate-limit-store.js';

/** "N/window" rate limit, e.g. 600/1m. max 0 switches the limit off. */
export interface RateLimit {
  max: number;
  windowMs: number;
}

export interface Config {
  port: number;
  host: string;
  /** Take the client's address from X-Forwarded-For (behind a reverse proxy). */
  trustProxy: boolean;
  dataDir: string;
  databaseUrl: string | null;
  /** LISTEN's own connection when DATABASE_URL is a transaction-mode pooler (PgBouncer); null: DATABASE_URL. */
  databaseListenUrl: string | null;
  storageDir: string;
  /** Where blobs live: the filesystem under storageDir, or an S3 bucket (src/storage/s3.ts). */
  storage: StorageConfig;
  /** Absolute base URL used in links we hand out (signed upload URLs); derived from the request when unset. */
  publicUrl: string | null;
  /** The built dashboard (web/dist) served at /; null: DASHBOARD=off, / answers 404 like any unknown path. */
  dashboardDir: string | null;
  secret: Buffer;
  /** TRAINYARD_SECRET_ROTATE: this process may replace the secret the database's other processes use. */
  secretRotate: boolean;
  jwtTtlSeconds: number;
  signupPolicy: 'open' | 'closed';
  signupCreditGrant: number;
  uploads: { maxFileBytes: number; signedUrlTtlSeconds: number; purgeIntervalMs: number; importMaxBytes: number; importTimeoutMs: number; importAllow: string };
  datasets: {
    maxFiles: number;
    maxImages: number;
    maxRows: number;
    /** video-set: videos, seconds per video, bytes in all; each ffprobe run's time limit and how many run at once */
    video: { maxVideos: number; maxSeconds: number; maxTotalBytes: number; probeTimeoutMs: number; probeConcurrency: number };
  };
  rateLimits: { default: RateLimit; auth: RateLimit; upload: RateLimit };
  /** Where the counters live (src/app/plugins/rate-limit-store.ts): postgres shares them across API replicas. */
  rateLimitStore: RateLimitStoreKind;
  login: { maxFailures: number; lockSeconds: number };
  /** Authenticated principals reused for ttlMs (0: off) in each API process, invalidated over NOTIFY (issue #15). */
  authCache: { ttlMs: number; maxEntries: number };
  /** GET /v1/jobs/{id} answers reused for ttlMs (0: off) in each API process, invalidated over NOTIFY (issue #15). */
  jobCache: { ttlMs: number; maxEntries: number };
  admin: { username: string; password: string; email: string } | null;
  credits: { enabled: boolean };
  jobs: {
    maxQueuedPerUser: number;
    maxRunningPerUser: number;
    maxAttempts: number;
    maxRuntimeSeconds: number;
    leaseSeconds: number;
  };
  worker: {
    inProcess: boolean;
    /** Jobs a worker runs at once (CPU jobs); GPU jobs are also bounded by gpus. */
    concurrency: number;
    /** GPU slot ids this worker hands out (CUDA_VISIBLE_DEVICES); empty = no GPU jobs. */
    gpus: number[];
    labels: string[];
    workDir: string;
    pollMs: number;
    stopGraceMs: number;
    /** On shutdown, how long running jobs may finish before their trainers are stopped and handed back. */
    drainMs: number;
    maxArtifactBytes: number;
    /** How trainer processes are confined (src/executors/sandbox.ts). */
    sandbox: { mode: 'auto' | 'off'; uid: number; uidCount: number; cpuSeconds: number };
    /** WARM_TRAINERS: Node trainers start on a pre-started process (src/executors/warm-pool.ts). */
    warmTrainers: boolean;
    /** Store-backed base models fetched to this worker's disk (src/worker/model-cache.ts). */
    modelCache: { dir: string; maxBytes: number };
    /** EXECUTOR: where attempts run (src/executors/config.ts). */
    executor: ExecutorSettings;
  };
  webhooks: { timeoutMs: number; maxAttempts: number; allow: string };
  /** Live job events (SSE and WebSocket): open streams per user, past events replayed per connection. */
  events: { maxStreamsPerUser: number; replayMax: number; retention: { days: number; batch: number; intervalMs: number } };
  /** predictMaxBytes/predictMaxInstances: one predict request's body and instance count (a recording is many rows). */
  serving: { cacheBytes: number; dir: string; predictMaxBytes: number; predictMaxInstances: number };
  /** The interpreter of the Python trainer environment (`trainyard setup python` makes it). */
  python: { bin: string };
  /**
   * Seed-API facades (src/compat): which are on (TRAINYARD_COMPAT), each on its own port or
   * only under /compat/<name>, and every COMPAT_* setting, which each facade reads itself.
   */
  compat: { facades: CompatFacade[]; settings: Env };
  logLevel: string;
  /** json: one JSON object per line (for collectors); pretty: for a person; auto: pretty on a terminal. */
  logFormat: 'auto' | 'json' | 'pretty';
}

export type StorageConfig =
  | { kind: 'fs' }
  | {
      kind: 's3';
      bucket: string;
      region: string;
      endpoint: string | null;
      forcePathStyle: boolean;
      /** null: the SDK's default credential chain (AWS_* variables, shared config, instance role). */
      credentials: { accessKeyId: string; secretAccessKey: string } | null;
    };

/** STORAGE=fs|s3 and the S3_* settings; an incomplete S3 setup is refused at start, naming the variable. */
export function storageConfig(env: Env): StorageConfig {
  const kind = oneOf(env, 'STORAGE', ['fs', 's3'] as const, 'fs');
  if (kind === 'fs') return { kind };
  const bucket = env.S3_BUCKET ?? '';
  // S3's bucket naming rules (3–63 of a-z 0-9 . -, starting and ending alphanumeric).
  if (!bucket) throw new ConfigError('S3_BUCKET', 'required when STORAGE=s3');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new ConfigError('S3_BUCKET', `not a valid bucket name: "${bucket}"`);
  const region = env.S3_REGION || 'us-east-1';
  if (!/^[a-z0-9-]+$/.test(region)) throw new ConfigError('S3_REGION', `expected a region such as us-east-1, got "${region}"`);
  const endpoint = env.S3_ENDPOINT || null;
  if (endpoint !== null) {
    let u: URL | null;
    try {
      u = new URL(endpoint);
    } catch {
      u = null;
    }
    if (!u || !/^https?:$/.test(u.protocol) || u.username || u.password)
      throw new ConfigError('S3_ENDPOINT', `expected an http(s) URL without credentials, such as http://127.0.0.1:9000, got "${endpoint}"`);
  }
  const id = env.S3_ACCESS_KEY_ID ?? '';
  const secret = env.S3_SECRET_ACCESS_KEY ?? '';
  if (!!id !== !!secret)
    throw new ConfigError(id ? 'S3_SECRET_ACCESS_KEY' : 'S3_ACCESS_KEY_ID', 'set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither');
  return {
    kind,
    bucket,
    region,
    endpoint: endpoint ? endpoint.replace(/\/+$/, '') : null,
    forcePathStyle: bool(env, 'S3_FORCE_PATH_STYLE', endpoint !== null),
    credentials: id ? { accessKeyId: id, secretAccessKey: secret } : null,
  };
}

export interface CompatFacade {
  name: string;
  /** Its own port (0: any free one), or null: served only under /compat/<name> on the main port. */
  port: number | null;
}

export type Env = Record<string, string | undefined>;

const DURATION = /^(\d+)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE = /^(\d+)(b|kb|kib|mb|mib|gb|gib)?$/i;
const UNIT_BYTES: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };

export function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function bytes(env: Env, name: string, def: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const m = SIZE.exec(raw.trim());
  if (!m) throw new ConfigError(name, `expected a size such as 500mb or 1gib, got "${raw}"`);
  const n = Number(m[1]) * UNIT_BYTES[(m[2] ?? 'b').toLowerCase()]!;
  if (n <= 0) throw new ConfigError(name, 'must be positive');
  return n;
}

function durationMs(raw: string, name: string): number {
  const m = DURATION.exec(raw.trim());
  if (!m) throw new ConfigError(name, `expected a duration such as 30s or 1m, got "${raw}"`);
  return Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
}

export function rateLimit(env: Env, name: string, def: string): RateLimit {
  const raw = env[name] ?? def;
  const [max, window] = raw.split('/');
  if (max === undefined || window === undefined || !/^\d+$/.test(max.trim())) {
    throw new ConfigError(name, `expected "N/window" such as 600/1m (0/1m turns it off), got "${raw}"`);
  }
  return { max: Number(max), windowMs: durationMs(window, name) };
}

/** A JSON object setting (e.g. extra hyperparameters), {} when unset. */
export function jsonObject(env: Env, name: string, example = '{"key": "value"}'): Record<string, unknown> {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new ConfigError(name, `expected a JSON object such as ${example}, got "${raw}"`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(name, `expected a JSON object such as ${example}, got "${raw}"`);
  return value as Record<string, unknown>;
}

export function list(env: Env, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

export function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

export function oneOf<T extends string>(env: Env, name: string, values: readonly T[], def: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!(values as readonly string[]).includes(raw)) throw new ConfigError(name, `expected one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
}

/**
 * The master secret signs JWTs and blob URLs (through derived keys). When it is not given we
 * generate it once and keep it in DATA_DIR, so tokens survive restarts without any setup.
 */
function loadSecret(env: Env, dataDir: string): Buffer {
  const raw = env.TRAINYARD_SECRET ?? env.JWT_SECRET;
  if (raw !== undefined && raw !== '') {
    if (raw.length < 32) throw new ConfigError(env.TRAINYARD_SECRET ? 'TRAINYARD_SECRET' : 'JWT_SECRET', 'must be at least 32 characters');
    return Buffer.from(raw, 'utf8');
  }
  const file = path.join(dataDir, 'secret.key');
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
  const secret = randomBytes(48);
  writeFileSync(file, secret.toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  return secret;
}

/** "neurolab:8000,training-service" → each named facade, with its own port where one is given. */
function compatFacades(raw: string): CompatFacade[] {
  const out: CompatFacade[] = [];
  for (const item of raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const m = /^([a-z][a-z0-9-]{0,62})(?::(\d{1,5}))?$/.exec(item);
    if (!m) throw new ConfigError('TRAINYARD_COMPAT', `expected name or name:port items such as neurolab:8000, got "${item}"`);
    const port = m[2] === undefined ? null : Number(m[2]);
    if (port !== null && port > 65535) throw new ConfigError('TRAINYARD_COMPAT', `port ${port} of ${m[1]} is not a TCP port`);
    if (out.some((f) => f.name === m[1])) throw new ConfigError('TRAINYARD_COMPAT', `${m[1]} is named twice`);
    out.push({ name: m[1]!, port });
  }
  return out;
}

/** Optional DATA_DIR/config.json: same keys as the environment; the environment wins. */
function fileEnv(dataDir: string): Env {
  const file = path.join(dataDir, 'config.json');
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(file, `not valid JSON: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(file, 'must hold a JSON object of VARIABLE: value');
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v === null ? undefined : String(v)]));
}

// web/dist of this package: src/config.ts (tsx, tests) and dist/config.js (built) are both one level under the root.
const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../web/dist', import.meta.url));

export function loadConfig(processEnv: Env = process.env): Config {
  const dataDir = path.resolve(processEnv.DATA_DIR || './data');
  mkdirSync(dataDir, { recursive: true });
  const env: Env = { ...fileEnv(dataDir), ...processEnv };

  const adminUser = env.TRAINYARD_ADMIN_USERNAME;
  const adminPass = env.TRAINYARD_ADMIN_PASSWORD;
  if (!!adminUser !== !!adminPass) {
    throw new ConfigError(
      adminUser ? 'TRAINYARD_ADMIN_PASSWORD' : 'TRAINYARD_ADMIN_USERNAME',
      'set both TRAINYARD_ADMIN_USERNAME and TRAINYARD_ADMIN_PASSWORD, or neither',
    );
  }
  const databaseUrl = env.DATABASE_URL || null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new ConfigError('DATABASE_URL', 'expected a postgres:// URL');
  const databaseListenUrl = env.DATABASE_LISTEN_URL || null;
  if (databaseListenUrl && !databaseUrl)
    throw new ConfigError('DATABASE_LISTEN_URL', 'needs DATABASE_URL (it is where LISTEN goes when DATABASE_URL is a pooler)');
  if (databaseListenUrl && !/^postgres(ql)?:\/\//.test(databaseListenUrl)) throw new ConfigError('DATABASE_LISTEN_URL', 'expected a postgres:// URL');
  const rateLimitStore = oneOf(env, 'RATE_LIMIT_STORE', ['auto', 'memory', 'postgres'] as const, 'auto');
  if (rateLimitStore === 'postgres' && !databaseUrl) {
    throw new ConfigError('RATE_LIMIT_STORE', 'postgres needs DATABASE_URL (the embedded PGlite serves one process, where memory is exact)');
  }
  const publicUrl = env.PUBLIC_URL || null;
  if (publicUrl && !/^https?:\/\/[^/]+/.test(publicUrl)) throw new ConfigError('PUBLIC_URL', `expected an http(s) URL, got "${publicUrl}"`);
  const storageDir = path.resolve(dataDir, env.STORAGE_DIR || 'storage');

  return {
    port: int(env, 'PORT', 8080, 0, 65535),
    host: env.HOST || '127.0.0.1',
    trustProxy: bool(env, 'TRUST_PROXY', false),
    dataDir,
    databaseUrl,
    databaseListenUrl,
    storageDir,
    storage: storageConfig(env),
    publicUrl: publicUrl ? publicUrl.replace(/\/+$/, '') : null,
    dashboardDir: env.DASHBOARD === 'off' ? null : path.resolve(env.DASHBOARD_DIR || DEFAULT_DASHBOARD_DIR),
    secret: loadSecret(env, dataDir),
    secretRotate: bool(env, 'TRAINYARD_SECRET_ROTATE', false),
    jwtTtlSeconds: int(env, 'JWT_TTL_SECONDS', 86_400, 60, 30 * 86_400),
    signupPolicy: oneOf(env, 'SIGNUP_POLICY', ['open', 'closed'] as const, 'open'),
    signupCreditGrant: int(env, 'SIGNUP_CREDIT_GRANT', 100, 0, 1_000_000_000),
    uploads: {
      maxFileBytes: bytes(env, 'UPLOAD_MAX_BYTES', 2 * 1024 ** 3),
      signedUrlTtlSeconds: int(env, 'SIGNED_URL_TTL_SECONDS', 3600, 10, 7 * 86_400),
      purgeIntervalMs: int(env, 'UPLOAD_PURGE_INTERVAL_MS', 60_000, 100, 86_400_000),
      importMaxBytes: bytes(env, 'IMPORT_MAX_BYTES', 512 * 1024 ** 2),
      importTimeoutMs: int(env, 'IMPORT_TIMEOUT_MS', 60_000, 100, 3_600_000),
      // Test suites point this at one loopback alias; production leaves it empty.
      importAllow: env.IMPORT_ALLOW_ADDRESSES ?? '',
    },
    datasets: {
      maxFiles: int(env, 'DATASET_MAX_FILES', 1000, 1, 100_000),
      maxImages: int(env, 'DATASET_MAX_IMAGES', 1000, 1, 1_000_000),
      maxRows: int(env, 'DATASET_MAX_ROWS', 5_000_000, 1, 1_000_000_000),
      video: {
        maxVideos: int(env, 'DATASET_MAX_VIDEOS', 1000, 1, 1_000_000),
        maxSeconds: int(env, 'DATASET_MAX_VIDEO_SECONDS', 600, 1, 86_400),
        maxTotalBytes: bytes(env, 'DATASET_MAX_VIDEO_BYTES', 10 * 1024 ** 3),
        probeTimeoutMs: int(env, 'VIDEO_PROBE_TIMEOUT_MS', 30_000, 100, 3_600_000),
        probeConcurrency: int(env, 'VIDEO_PROBE_CONCURRENCY', 2, 1, 64),
      },
    },
    rateLimits: {
      // A dashboard polling a few jobs makes ~2 requests/s; 600/min leaves it room while
      // stopping a runaway script. Auth is tighter: it guards password guessing and signups.
      default: rateLimit(env, 'RATE_LIMIT_DEFAULT', '600/1m'),
      auth: rateLimit(env, 'RATE_LIMIT_AUTH', '20/1m'),
      upload: rateLimit(env, 'RATE_LIMIT_UPLOAD', '120/1m'),
    },
    rateLimitStore,
    login: {
      maxFailures: int(env, 'LOGIN_MAX_FAILURES', 5, 1, 1000),
      lockSeconds: int(env, 'LOGIN_LOCK_SECONDS', 300, 1, 86_400),
    },
    authCache: { ttlMs: int(env, 'AUTH_CACHE_MS', 5000, 0, 300_000), maxEntries: int(env, 'AUTH_CACHE_SIZE', 10_000, 1, 1_000_000) },
    jobCache: { ttlMs: int(env, 'JOB_CACHE_MS', 30_000, 0, 3_600_000), maxEntries: int(env, 'JOB_CACHE_SIZE', 10_000, 1, 1_000_000) },
    admin: adminUser && adminPass ? { username: adminUser, password: adminPass, email: env.TRAINYARD_ADMIN_EMAIL || `${adminUser}@trainyard.local` } : null,
    credits: { enabled: bool(env, 'CREDITS_ENABLED', true) },
    jobs: {
      maxQueuedPerUser: int(env, 'JOBS_MAX_QUEUED_PER_USER', 100, 1, 1_000_000),
      maxRunningPerUser: int(env, 'JOBS_MAX_RUNNING_PER_USER', 4, 1, 10_000),
      maxAttempts: int(env, 'JOBS_MAX_ATTEMPTS', 3, 1, 100),
      maxRuntimeSeconds: int(env, 'JOBS_MAX_RUNTIME_SECONDS', 86_400, 1, 30 * 86_400),
      // 30 s: a lost worker is noticed within half a minute; heartbeats every lease/3.
      leaseSeconds: int(env, 'JOBS_LEASE_SECONDS', 30, 1, 3600),
    },
    worker: {
      inProcess: bool(env, 'WORKER_IN_PROCESS', true),
      concurrency: int(env, 'WORKER_CONCURRENCY', 1, 1, 256),
      gpus: list(env, 'WORKER_GPUS').map((g) => {
        if (!/^\d+$/.test(g)) throw new ConfigError('WORKER_GPUS', `expected GPU indexes such as 0,1, got "${g}"`);
        return Number(g);
      }),
      labels: list(env, 'WORKER_LABELS'),
      workDir: path.resolve(dataDir, env.WORKER_DIR || 'work'),
      pollMs: int(env, 'WORKER_POLL_MS', 2000, 10, 600_000),
      stopGraceMs: int(env, 'WORKER_STOP_GRACE_MS', 10_000, 0, 3_600_000),
      drainMs: int(env, 'WORKER_DRAIN_MS', 10_000, 0, 86_400_000),
      maxArtifactBytes: bytes(env, 'ARTIFACT_MAX_BYTES', 10 * 1024 ** 3),
      sandbox: {
        mode: oneOf(env, 'TRAINER_SANDBOX', ['auto', 'off'] as const, 'auto'),
        // systemd's DynamicUser range: uids no account uses, one per concurrent job.
        uid: int(env, 'TRAINER_UID', 61184, 1, 2 ** 31 - 2),
        uidCount: int(env, 'TRAINER_UID_COUNT', 1024, 1, 65_536),
        cpuSeconds: int(env, 'TRAINER_CPU_SECONDS', 0, 0, 365 * 86_400),
      },
      // Issue #15: a pre-started process per kind of Node trainer takes the next job (src/executors/warm-pool.ts).
      warmTrainers: oneOf(env, 'WARM_TRAINERS', ['on', 'off'] as const, 'on') === 'on',
      modelCache: {
        dir: path.resolve(dataDir, env.MODEL_CACHE_DIR || 'model-cache'),
        maxBytes: bytes(env, 'MODEL_CACHE_MAX_BYTES', 50 * 1024 ** 3),
      },
      executor: executorSettings(env, publicUrl),
    },
    serving: {
      // Artifact bytes of the models kept loaded for prediction (least recently used go first).
      cacheBytes: bytes(env, 'SERVING_CACHE_BYTES', 1024 ** 3),
      // Recordings, not rows (issue #18): a 100-step, 6-channel window is ~6 KB, so the 1 MiB
      // every other JSON body gets would hold ~126 of them; 16 MiB holds a few thousand.
      predictMaxBytes: bytes(env, 'PREDICT_MAX_BYTES', 16 * 1024 ** 2),
      predictMaxInstances: int(env, 'PREDICT_MAX_INSTANCES', 10_000, 1, 1_000_000),
      dir: path.join(dataDir, 'serving'),
    },
    python: { bin: env.TRAINER_PYTHON ? path.resolve(env.TRAINER_PYTHON) : path.join(dataDir, 'python', '.venv', 'bin', 'python') },
    webhooks: {
      timeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 600_000),
      maxAttempts: int(env, 'WEBHOOK_MAX_ATTEMPTS', 8, 1, 100),
      allow: env.WEBHOOK_ALLOW_ADDRESSES ?? '',
    },
    events: {
      // A dashboard watches a handful of jobs; 20 leaves room for tabs and reconnects while one
      // user can no longer hold hundreds of streams (each a socket, a buffer and a replay).
      maxStreamsPerUser: int(env, 'EVENTS_MAX_STREAMS_PER_USER', 20, 1, 100_000),
      // Past events one connection replays before it ends and the client resumes (Last-Event-ID).
      replayMax: int(env, 'EVENTS_REPLAY_MAX', 1000, 10, 1_000_000),
      // Events of jobs finished this many days ago are deleted (src/domain/jobs/retention.ts); 0 keeps them.
      retention: {
        days: int(env, 'EVENTS_RETENTION_DAYS', 0, 0, 36_500),
        batch: int(env, 'EVENTS_RETENTION_BATCH', 5000, 1, 1_000_000),
        intervalMs: int(env, 'EVENTS_RETENTION_INTERVAL_MS', 3_600_000, 100, 86_400_000),
      },
    },
    compat: {
      facades: compatFacades(env.TRAINYARD_COMPAT ?? ''),
      settings: Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('COMPAT_'))),
    },
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    logFormat: oneOf(env, 'LOG_FORMAT', ['auto', 'json', 'pretty'] as const, 'auto'),
  };
}
