/**
 * The real service for a benchmark: startRuntime() in this process on a random 127.0.0.1 port,
 * over either the embedded default (PGlite in DATA_DIR/pgdata, on disk, exactly what
 * `npm start` uses) or a fresh database on a Postgres server started by the bench.
 * Everything else is the production default unless a bench says otherwise; the rate limits
 * are raised out of the way (a load test is not a runaway script) but stay switched on.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import type { Db } from '../../src/db/db.js';
import { openDb } from '../../src/db/open.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { onCleanup } from './cleanup.js';
import type { PgCluster } from './pg-cluster.js';
import { sleep } from './stats.js';

export type DbKind = 'pglite' | 'postgres';

export interface BenchApp {
  kind: DbKind;
  url: string;
  rt: Runtime;
  dataDir: string;
  close(): Promise<void>;
}

export const BENCH_RATE_LIMIT = '100000000/1m';

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `trainyard-bench-${prefix}-`));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const unregister = onCleanup(remove);
  return {
    dir,
    remove() {
      unregister();
      remove();
    },
  };
}

/**
 * A folder for files a bench and its trainer both write (stamps, go-files, run logs). On a root
 * worker the trainer runs sandboxed as its own unprivileged uid (TRAINER_SANDBOX=auto), so a
 * plain mkdtemp folder (0700, root's) is closed to it: this one is world-writable, and file()
 * makes an empty file the trainer may append to.
 */
export function exchangeDir(prefix: string): { dir: string; remove(): void; file(name: string): string } {
  const t = tempDir(prefix);
  chmodSync(t.dir, 0o777);
  return {
    ...t,
    file(name: string) {
      const f = path.join(t.dir, name);
      writeFileSync(f, '');
      chmodSync(f, 0o666);
      return f;
    },
  };
}

export interface BenchAppOptions {
  cluster?: PgCluster;
  env?: Record<string, string>;
  catalog?: unknown;
  /** Wraps the database the service uses (bench/lib/db-probe.ts), which the bench then closes itself. */
  wrapDb?: (db: Db) => Db;
}

export async function startBenchApp(kind: DbKind, o: BenchAppOptions = {}): Promise<BenchApp> {
  const tmp = tempDir('app');
  if (o.catalog) writeFileSync(path.join(tmp.dir, 'catalog.json'), JSON.stringify(o.catalog));
  let databaseUrl: string | undefined;
  if (kind === 'postgres') {
    if (!o.cluster) throw new Error('postgres needs a cluster');
    databaseUrl = await o.cluster.createDatabase();
  }
  const config = loadConfig({
    DATA_DIR: tmp.dir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_DEFAULT: BENCH_RATE_LIMIT,
    RATE_LIMIT_AUTH: BENCH_RATE_LIMIT,
    RATE_LIMIT_UPLOAD: BENCH_RATE_LIMIT,
    SIGNUP_CREDIT_GRANT: '1000000000',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...o.env,
  });
  let rt: Runtime;
  let db: Db | null = null;
  try {
    // The same openDb() the service uses on its own: PGlite in DATA_DIR/pgdata, or the pg pool.
    if (o.wrapDb) db = o.wrapDb(await openDb(config));
    rt = await startRuntime(config, { logger: pino({ level: 'silent' }), ...(db ? { db } : {}) });
  } catch (err) {
    await db?.close();
    tmp.remove();
    throw err;
  }
  return {
    kind,
    url: rt.url,
    rt,
    dataDir: tmp.dir,
    async close() {
      await rt.close();
      await db?.close();
      tmp.remove();
    },
  };
}

/** A thin JSON client for set-up calls (not used for measured traffic). */
export function api(base: string) {
  async function call<T = Record<string, unknown>>(
    method: string,
    p: string,
    o: { token?: string; json?: unknown; body?: FormData } = {},
  ): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = {};
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let body: string | FormData | undefined = o.body;
    if (o.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(o.json);
    }
    const res = await fetch(new URL(p, base), { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    return { status: res.status, body: (text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text) as T };
  }
  const must = <T>(r: { status: number; body: T }, want: number, what: string): T => {
    if (r.status !== want) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  return {
    call,
    /** Signs up and logs in a user; returns its id, JWT and a fresh API key. */
    async user(name: string) {
      const password = 'correct horse battery staple';
      const u = must(
        await call<{ id: string }>('POST', '/v1/auth/signup', { json: { username: name, email: `${name}@example.com`, password } }),
        201,
        'signup',
      );
      const login = must(await call<{ access_token: string }>('POST', '/v1/auth/login', { json: { username: name, password } }), 200, 'login');
      const key = must(await call<{ secret: string }>('POST', '/v1/api-keys', { token: login.access_token, json: { name: 'bench' } }), 201, 'api key');
      return { id: u.id, token: login.access_token, apiKey: key.secret };
    },
    /** A small ready tabular-csv dataset. */
    async csvDataset(token: string, name = 'bench'): Promise<string> {
      const rows = ['f1,f2,label', ...Array.from({ length: 50 }, (_, i) => `${(i % 7) / 7},${(i % 5) / 5},${i % 2 ? 'a' : 'b'}`)].join('\n') + '\n';
      const form = new FormData();
      form.append('file', new Blob([rows]), `${name}.csv`);
      const f = must(await call<{ id: string }>('POST', '/v1/files', { token, body: form }), 201, 'upload');
      const d = must(
        await call<{ id: string }>('POST', '/v1/datasets', {
          token,
          json: { name, kind: 'tabular-csv', file_ids: [f.id], options: { label_column: 'label' } },
        }),
        201,
        'dataset',
      );
      for (const until = Date.now() + 30_000; Date.now() < until; await sleep(20)) {
        const ds = must(await call<{ status: string }>('GET', `/v1/datasets/${d.id}`, { token }), 200, 'dataset');
        if (ds.status === 'ready') return d.id;
        if (ds.status !== 'processing') throw new Error(`dataset ${d.id} is ${ds.status}`);
      }
      throw new Error('dataset not ready after 30 s');
    },
    async createJob(token: string, body: Record<string, unknown>): Promise<{ id: string; status: string }> {
      return must(await call<{ id: string; status: string }>('POST', '/v1/jobs', { token, json: body }), 202, 'create job');
    },
    async waitForJob(token: string, id: string, timeoutMs = 60_000, pollMs = 20): Promise<{ id: string; status: string; error: unknown }> {
      for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(pollMs)) {
        const j = must(await call<{ id: string; status: string; error: unknown }>('GET', `/v1/jobs/${id}`, { token }), 200, 'job');
        if (['succeeded', 'failed', 'cancelled'].includes(j.status)) return j;
      }
      throw new Error(`job ${id} not finished after ${timeoutMs} ms`);
    },
  };
}

/** A catalog.json entry for a bench fixture trainer (runtime "command"), like test/helpers/jobs.ts. */
export function benchTrainer(id: string, command: string[]) {
  return {
    id,
    title: `bench ${id}`,
    task: 'bench',
    description: 'benchmark fixture trainer',
    dataset: { kinds: ['tabular-csv'] },
    hyperparameters: { type: 'object', additionalProperties: true, properties: {} },
    primary_metric: { name: 'score', goal: 'maximize' },
    resources: { gpus: 0, memory_mb: 64 },
    pricing: { type: 'fixed', credits: 1 },
    base_models: 'none',
    runtime: { type: 'command', entry: id, command },
  };
}

export const FIXTURES = path.resolve('bench/fixtures');
