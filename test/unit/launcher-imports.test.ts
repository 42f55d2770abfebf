import { spawnSync } from 'node:child_process';
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

/**
 * Runs `src/main.ts ...args` from source (as the Slurm tests do) and answers the packages and
 * the project's own files it loaded, each sorted.
 */
function load(args: string[], extraEnv: Record<string, string> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'trainyard-imports-'));
  try {
    const out = path.join(dir, 'loaded.txt');
    const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv, RECORD_IMPORTS_TO: out };
    delete env.TRAINYARD_API_KEY;
    delete env.TRAINYARD_ATTEMPT_URL;
    delete env.TRAINYARD_ATTEMPT_TOKEN;
    const res = spawnSync(process.execPath, ['--import', 'tsx', '--import', RECORDER, path.join(ROOT, 'src/main.ts'), ...args], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
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
    return { status: res.status, stderr: res.stderr, packages: [...packages].sort(), files: [...files].sort() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
});
