import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DB, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

const MAIN = path.resolve('src/main.ts');
let dataDir: string;
let testDb: TestDatabase | null = null;
let env: Record<string, string>;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function run(args: string[], extra: Record<string, string> = {}): { child: ChildProcess; done: Promise<{ code: number | null; out: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const done = new Promise<{ code: number | null; out: string }>((resolve) => child.on('exit', (code) => resolve({ code, out })));
  return { child, done };
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-cli-'));
  env = { DATA_DIR: dataDir, LOG_LEVEL: 'info', HOST: '127.0.0.1' };
  if (TEST_DB === 'postgres') {
    // The CLI owns its pool; the helper only provides an empty database on the test cluster.
    testDb = await createTestDatabase();
    await testDb.db.close();
    env.DATABASE_URL = testDb.url!;
  }
});
afterAll(async () => {
  if (testDb) await testDb.drop().catch(() => {});
  await rm(dataDir, { recursive: true, force: true });
});

describe('trainyard CLI', () => {
  it('serve: becomes ready, then SIGTERM shuts it down cleanly with exit code 0', async () => {
    const port = await freePort();
    const { child, done } = run(['serve'], { PORT: String(port), TRAINYARD_ADMIN_USERNAME: 'root', TRAINYARD_ADMIN_PASSWORD: 'admin password 123' });
    // Connections are refused until the server listens; the wait fails the test if /readyz never says 200.
    await waitFor(
      () =>
        fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.status,
          () => 'refused',
        ),
      (s) => s === 200,
      { timeoutMs: 45_000, intervalMs: 100, message: 'GET /readyz to answer 200' },
    );
    const login = await fetch(`http://127.0.0.1:${port}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'root', password: 'admin password 123' }),
    });
    expect(login.status).toBe(200);
    child.kill('SIGTERM');
    const { code, out } = await done;
    expect(code).toBe(0);
    expect(out).toMatch(/trainyard is ready/);
    expect(out).toMatch(/shutting down/);
    // Nothing listens any more.
    expect(await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => 'refused')).toBe('refused');
  });

  it('a bad configuration value stops start-up with exit 1 and names the variable', async () => {
    const { code, out } = await run(['serve'], { PORT: 'eighty' }).done;
    expect(code).toBe(1);
    expect(out).toMatch(/configuration error: PORT: expected an integer/);
  });

  it('migrate is idempotent, and admin create makes or promotes an admin', async () => {
    const m = await run(['migrate']).done;
    expect(m.code).toBe(0);
    expect(m.out).toMatch(/database is up to date|applied/);
    const a = await run(['admin', 'create', '--username', 'ops', '--password', 'operations pass 1']).done;
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/created admin ops/);
    const b = await run(['admin', 'create', '--username', 'ops', '--password', 'operations pass 1']).done;
    expect(b.out).toMatch(/promoted admin ops/);
    const bad = await run(['admin', 'create', '--username', 'x']).done;
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/--username and --password/);
    // Four CLI processes one after another, each compiling TypeScript through tsx: ~25 s on a
    // busy two-core machine, so more than the default 30 s would be a coin toss.
  }, 90_000);
});
