import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `trainyard run-attempt` starts on a Slurm node or in a pod for every attempt, and loading the
// server's modules (fastify, the database drivers, the S3 client, the services) used to be most
// of its start-up: over a second before it could fetch its spec. These tests run the real entry
// point and check which modules it loaded, not how long it took (a busy CI machine would make a
// timing flaky): src/main.ts imports a command's modules only when that command runs, and the
// launcher's graph holds nothing of the server.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RECORDER = path.join(ROOT, 'test/helpers/record-imports.mjs');
/** What runs the TypeScript sources here (a build runs without them): not the program's own. */
const HARNESS = new Set(['tsx', 'esbuild']);

/** Never in the launcher's graph: the server, its database drivers and its blob store's SDK. */
const SERVER_PACKAGES = /^(fastify|@fastify\/.*|pg|pg-.*|@electric-sql\/.*|@aws-sdk\/.*|@smithy\/.*|@kubernetes\/.*|@node-rs\/argon2|prom-client)$/;
const SERVER_MODULES = /^src\/(runtime|services)\.ts$|^src\/(app|db|storage|api|compat|serving|domain\/accounts)\/|^src\/domain\/jobs\/service\.ts$/;

/** A clean environment for a command under the recorder, writing to `out`. */
function recorderEnv(out: string, extraEnv: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv, RECORD_IMPORTS_TO: out };
  delete env.TRAINYARD_API_KEY;
  delete env.TRAINYARD_ATTEMPT_URL;
  delete env.TRAINYARD_ATTEMPT_TOKEN;
  return env;
}
const recorderArgs = (args: string[]) => ['--import', 'tsx', '--import', RECORDER, path.join(ROOT, 'src/main.ts'), ...args];

/**
 * Runs `src/main.ts ...args` from source (as the Slurm tests do) and answers the packages and
 * the project's own files it loaded, each sorted.
 */
function load(args: string[], extraEnv: Record<string, string> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'trainyard-imports-'));
  try {
    const out = path.join(dir, 'loaded.txt');
    const res = spawnSync(process.execPath, recorderArgs(args), { cwd: ROOT, env: recorderEnv(out, extraEnv), encoding: 'utf8', timeout: 60_000 });
    return { status: res.status, stderr: res.stderr, ...loaded(out) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `trainyard serve` with `env` until it logs that it is ready, then stopped (SIGTERM): what it loaded. */
async function loadServe(env: Record<string, string>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'trainyard-imports-'));
  try {
    const out = path.join(dir, 'loaded.txt');
    const child = spawn(process.execPath, recorderArgs(['serve']), {
      cwd: ROOT,
      env: recorderEnv(out, { DATA_DIR: path.join(dir, 'data'), PORT: '0', LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    // Bounded below the test's own timeout: a server that neither gets ready nor exits is killed
    // here and the test fails with its output, instead of timing out with the process left running.
    let timer: NodeJS.Timeout | undefined;
    const ready = await new Promise<boolean>((resolve) => {
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
        if (stdout.includes('"msg":"trainyard is ready"')) resolve(true);
      });
      void exited.then(() => resolve(false));
      timer = setTimeout(() => resolve(false), 90_000);
    });
    clearTimeout(timer);
    child.kill(ready ? 'SIGTERM' : 'SIGKILL');
    const status = await exited;
    return { ready, status, stdout, stderr, ...loaded(out) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The packages and the project's own files the recorder wrote to `out`, each sorted. */
function loaded(out: string) {
  const entries = readFileSync(out, 'utf8').split('\n').filter(Boolean);
  const packages = new Set<string>();
  const files = new Set<string>();
  for (const entry of entries) {
    if (entry.startsWith('node:')) continue;
    const file = entry.startsWith('file:') ? fileURLToPath(entry) : entry;
    // The innermost node_modules names the package, scoped or not.
    const pkg = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (pkg) {
      if (!HARNESS.has(pkg[1]!)) packages.add(pkg[1]!);
    } else if (file.startsWith(ROOT)) files.add(path.relative(ROOT, file).split(path.sep).join('/'));
  }
  return { packages: [...packages].sort(), files: [...files].sort() };
}

describe('what a command loads', () => {
  it('run-attempt loads the launcher and nothing of the server', { timeout: 90_000 }, () => {
    // Without a URL and token it stops with a usage error, after importing all it would run with.
    const r = load(['run-attempt']);
    expect(r.stderr).toContain('an attempt URL and token are required');
    expect(r.status).toBe(1);
    // The recorder saw the launcher's graph: an empty answer below would prove nothing otherwise.
    expect(r.files).toEqual(expect.arrayContaining(['src/main.ts', 'src/cli/run-attempt.ts', 'src/launcher/run-attempt.ts', 'src/executors/local.ts']));
    expect(r.packages.filter((p) => SERVER_PACKAGES.test(p))).toEqual([]);
    expect(r.files.filter((f) => SERVER_MODULES.test(f))).toEqual([]);
    // No package at all today: one the launcher really needs is added here deliberately, once
    // it is known to load quickly.
    expect(r.packages).toEqual([]);
  });

  it('help loads only the dispatcher', { timeout: 90_000 }, () => {
    const r = load(['help']);
    expect(r.status).toBe(0);
    expect(r.packages).toEqual([]);
    // commands.ts is the client's list of command names: a constant, no imports.
    expect(r.files).toEqual(['src/cli/client/commands.ts', 'src/errors.ts', 'src/main.ts']);
  });

  it('the client commands load the client and commander, nothing of the server', { timeout: 90_000 }, () => {
    // Nothing listens on port 9 (discard): whoami fails after loading all a client command runs with.
    const r = load(['whoami'], { TRAINYARD_URL: 'http://127.0.0.1:9', XDG_CONFIG_HOME: tmpdir() });
    expect(r.stderr).toContain('trainyard: UNREACHABLE');
    expect(r.status).toBe(1);
    expect(r.files).toEqual(expect.arrayContaining(['src/main.ts', 'src/cli/client/index.ts', 'src/cli/client/http.ts', 'src/cli/client/watch.ts']));
    expect(r.packages.filter((p) => SERVER_PACKAGES.test(p))).toEqual([]);
    expect(
      r.files.filter(
        (f) => SERVER_MODULES.test(f) || (f.startsWith('src/') && !f.startsWith('src/cli/client/') && f !== 'src/main.ts' && f !== 'src/errors.ts'),
      ),
    ).toEqual([]);
    expect(r.packages).toEqual(['commander']);
  });

  it('serve on the embedded defaults loads no cluster client and no image library', { timeout: 120_000 }, async () => {
    // @kubernetes/client-node took ~0.4 s of every start-up and sharp ~0.07 s; a server on the
    // defaults (local trainers, no image dataset yet) uses neither, so both load when needed.
    const r = await loadServe({});
    expect(r.ready, r.stderr + r.stdout).toBe(true);
    expect(r.status).toBe(0);
    // The recorder saw the server's graph: the API, the embedded database, the local executor.
    expect(r.packages).toEqual(expect.arrayContaining(['fastify', '@electric-sql/pglite']));
    expect(r.files).toEqual(expect.arrayContaining(['src/runtime.ts', 'src/executors/local-executor.ts', 'src/executors/cluster.ts']));
    expect(r.packages.filter((p) => /^(@kubernetes\/.*|sharp|@img\/.*)$/.test(p))).toEqual([]);
    expect(r.files.filter((f) => /^src\/executors\/(kubernetes|slurm)\//.test(f))).toEqual([]);
  });
});
