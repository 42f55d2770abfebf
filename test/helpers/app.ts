import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config.js';
import type { Resolver } from '../../src/net/address-guard.js';
import { startRuntime, type Runtime, type RuntimeOptions } from '../../src/runtime.js';
import type { AvailabilityProbe } from '../../src/domain/catalog/types.js';
import { openPg } from '../../src/db/pg.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { TEST_SERVER_ENV } from './test-env.js';
import { testStoreEnv } from './s3-server.js';

export interface TestApp {
  url: string;
  /** Facades on ports of their own (TRAINYARD_COMPAT=name:0): name → base URL. */
  compatUrls: Record<string, string>;
  rt: Runtime;
  testDb: TestDatabase;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * The real service on a real port, over a fresh database and data folder. Rate limits are
 * raised out of the way unless a test sets them; tests talk to it with fetch().
 */
export async function startTestApp(
  opts: {
    env?: Record<string, string>;
    resolver?: Resolver;
    probe?: AvailabilityProbe;
    dataDir?: string;
    logger?: Logger;
    db?: 'pglite' | 'postgres';
    executor?: RuntimeOptions['executor'];
  } = {},
): Promise<TestApp> {
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'trainyard-test-')));
  const config = loadConfig({
    DATA_DIR: dataDir,
    ...TEST_SERVER_ENV,
    // The s3 project (TRAINYARD_TEST_STORE=s3): a fresh bucket on the run's SeaweedFS, unless the test picks a store.
    ...(opts.env?.STORAGE ? {} : await testStoreEnv()),
    ...opts.env,
  });
  const testDb = await createTestDatabase(opts.db);
  let rt: Runtime;
  try {
    rt = await startRuntime(config, {
      db: testDb.db,
      logger: opts.logger ?? pino({ level: 'silent' }),
      ...(opts.resolver ? { resolver: opts.resolver } : {}),
      ...(opts.probe ? { probe: opts.probe } : {}),
      ...(opts.executor ? { executor: opts.executor } : {}),
    });
  } catch (err) {
    await testDb.drop();
    throw err;
  }
  return {
    url: rt.url,
    compatUrls: rt.compatUrls,
    rt,
    testDb,
    dataDir,
    async close() {
      await rt.close();
      await testDb.drop();
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A second API process on `a`'s database, as another replica would be: on Postgres with a pool
 * and LISTEN connection of its own; on PGlite (one process owns it) a second runtime over the
 * same handle. Its own data folder, no worker unless `env` asks for one.
 */
export async function startPeer(a: TestApp, env: Record<string, string>): Promise<{ rt: Runtime; close(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-test-peer-'));
  const db = a.testDb.url ? await openPg(a.testDb.url) : null;
  const config = loadConfig({ ...TEST_SERVER_ENV, STORAGE: 'fs', WORKER_IN_PROCESS: 'false', ...env, DATA_DIR: dataDir });
  const rt = await startRuntime(config, { db: db ?? a.testDb.db, logger: pino({ level: 'silent' }) });
  return {
    rt,
    async close() {
      await rt.close();
      await db?.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A thin fetch wrapper: JSON in, JSON (or text) out, with an optional bearer token. */
export function client(base: string) {
  async function call<T = any>(
    method: string,
    p: string,
    o: { token?: string; json?: unknown; body?: RequestInit['body']; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let body = o.body;
    if (o.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(o.json);
    }
    const res = await fetch(new URL(p, base), { method, headers, ...(body !== undefined ? { body, duplex: 'half' } : {}) } as RequestInit);
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T, headers: res.headers };
  }
  return {
    call,
    get: <T = any>(p: string, token?: string) => call<T>('GET', p, token ? { token } : {}),
    post: <T = any>(p: string, json: unknown, token?: string) => call<T>('POST', p, { json, ...(token ? { token } : {}) }),
    del: <T = any>(p: string, token?: string) => call<T>('DELETE', p, token ? { token } : {}),
    /** Signs up and logs in a fresh user; returns its token and id. */
    async user(name: string, password = 'correct horse battery staple') {
      const signup = await call('POST', '/v1/auth/signup', { json: { username: name, email: `${name}@example.com`, password } });
      if (signup.status !== 201) throw new Error(`signup failed: ${JSON.stringify(signup.body)}`);
      const login = await call('POST', '/v1/auth/login', { json: { username: name, password } });
      return { id: signup.body.id as string, token: login.body.access_token as string, username: name, password };
    },
    /** multipart upload of one file. */
    async upload(token: string, filename: string, content: Buffer | string, field = 'file') {
      const form = new FormData();
      form.append(field, new Blob([typeof content === 'string' ? Buffer.from(content) : content]), filename);
      return call('POST', '/v1/files', { token, body: form });
    },
  };
}
