import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { packEnv } from '../../src/python/env.js';

/**
 * The trainer environment the Python tests use: TRAINER_PYTHON, or the venv .ci/run makes
 * (`trainyard setup python --venv .venv-trainers`). On CI it must exist — a missing
 * environment fails the run instead of skipping what it should prove.
 */
export const TEST_PYTHON = path.resolve(process.env.TRAINER_PYTHON ?? '.venv-trainers/bin/python');
export const HAVE_PYTHON = existsSync(TEST_PYTHON);
if (!HAVE_PYTHON && process.env.CI) throw new Error(`CI: the Python trainer environment is missing (${TEST_PYTHON}); .ci/run should have created it`);
// Said out loud, not skipped in silence: a developer without the environment sees what did not run.
if (!HAVE_PYTHON)
  console.warn(
    `SKIPPING the Python trainer tests: no environment at ${TEST_PYTHON} (node dist/main.js setup python --venv .venv-trainers, or set TRAINER_PYTHON)`,
  );

/** Runs a Python snippet in the trainer environment (with the packs importable); returns stdout. */
export function pythonSnippet(code: string, args: string[] = [], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      TEST_PYTHON,
      ['-c', code, ...args],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...packEnv() }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`python failed: ${stderr.trim().split('\n').slice(-5).join('\n') || err.message}`));
        else resolve(stdout);
      },
    );
  });
}

/** Mean of the first and last tenth of a series: "the loss went down" without trusting one noisy step. */
export function firstAndLast(values: number[]): { first: number; last: number } {
  const n = Math.max(1, Math.floor(values.length / 10));
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  return { first: mean(values.slice(0, n)), last: mean(values.slice(-n)) };
}

/**
 * TRAINER_SANDBOX for an API test whose built-in trainer starts TEST_PYTHON (a torch backend).
 * The trainer runs sandboxed as on a deployment, where the interpreter is one any trainer uid
 * may run. Here (and on CI) the venv links into pyenv under /root, closed to other users: the
 * sandboxed Node trainer cannot start it (spawn EACCES; a pack started by setpriv itself can),
 * so where a trainer uid cannot, the trainer runs unsandboxed, and says so.
 */
export function trainerSandboxEnv(): Record<string, string> {
  if (process.env.TRAINER_SANDBOX) return { TRAINER_SANDBOX: process.env.TRAINER_SANDBOX };
  if (process.getuid?.() !== 0) return {};
  const r = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', 'sh', '-c', 'test -x "$0"', TEST_PYTHON]);
  if (r.error || r.status === 0) return {};
  console.warn(`${TEST_PYTHON} cannot be run by a trainer uid here; the API test runs with TRAINER_SANDBOX=off`);
  return { TRAINER_SANDBOX: 'off' };
}
