import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';

/**
 * The Python SDK (clients/python) against a real server with a worker: its pytest suite signs
 * in with an API key made here and drives every resource, a training job on linear-classifier
 * included, through a cutting TCP proxy and a 429-answering server of its own. Then mypy
 * --strict over the package, which is how "typed" is kept true.
 */
const PYTHON = path.resolve(process.env.TRAINYARD_SDK_PYTHON ?? '.venv-clients/bin/python');
const HAVE = existsSync(PYTHON);
if (!HAVE && process.env.CI === 'true') throw new Error(`CI: the Python SDK environment is missing (${PYTHON}); .ci/run creates .venv-clients`);
if (!HAVE)
  console.warn(
    `SKIPPING the Python SDK tests: no environment at ${PYTHON} (python3 -m venv .venv-clients && .venv-clients/bin/pip install -e 'clients/python[tqdm]' -r clients/python/requirements-dev.txt, or set TRAINYARD_SDK_PYTHON)`,
  );

function runPython(args: string[], env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, args, {
      cwd: path.resolve('clients/python'),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', PYTHONDONTWRITEBYTECODE: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe.skipIf(!HAVE)('the Python SDK against a live server', () => {
  let t: TestApp;
  let apiKey: string;

  beforeAll(async () => {
    // EVENTS_REPLAY_MAX at its least: a finished job's replay then spans several `event: more`
    // pages, so the SDK's stream is proven across them as well as across a cut connection.
    t = await startTestApp({ env: { WORKER_POLL_MS: '50', SIGNUP_CREDIT_GRANT: '1000', EVENTS_REPLAY_MAX: '10' } });
    const api = client(t.url);
    const user = await api.user('pysdk');
    const key = await api.post('/v1/api-keys', { name: 'python sdk tests' }, user.token);
    expect(key.status).toBe(201);
    apiKey = key.body.secret as string;
  });
  afterAll(() => t?.close());

  it('passes its pytest suite: every resource, a resumed event stream, a retried 429, watch, no drift from /openapi.json', async () => {
    const { code, out } = await runPython(
      ['-m', 'pytest', 'tests', '-q', '-p', 'no:cacheprovider', '-rfEs'],
      { TRAINYARD_URL: t.url, TRAINYARD_API_KEY: apiKey },
      110_000,
    );
    if (code !== 0) console.error(out);
    expect(code).toBe(0);
    // Every test ran: a skipped one (no server, say) would pass in silence otherwise.
    const summary = out.trim().split('\n').at(-1) ?? '';
    expect(summary).toMatch(/^\d+ passed in [\d.]+s/);
  });

  it('type-checks with mypy --strict', async () => {
    const { code, out } = await runPython(['-m', 'mypy', '--strict', '--no-incremental', '--cache-dir', '/dev/null', 'src/trainyard', 'tests'], {}, 110_000);
    if (code !== 0) console.error(out);
    expect(code).toBe(0);
    expect(out).toMatch(/Success: no issues found/);
  });
});
