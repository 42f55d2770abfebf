// Runs the real `trainyard` binary (dist/main.js) as a user would: a child process with its
// own HOME and config folder, and `script` for a pseudo-terminal where the output is live.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve('.');
export const BIN = path.join(ROOT, 'dist/main.js');

/** Newest modification time among the client's sources and the dispatcher. */
function newestSource(): number {
  const dir = path.join(ROOT, 'src/cli/client');
  const files = [path.join(ROOT, 'src/main.ts'), ...readdirSync(dir).map((f) => path.join(dir, f))];
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

/**
 * The tests run the built binary, as the README's quick start does. `npm ci` builds dist/
 * (prepare); a checkout whose client sources are newer than the build is rebuilt here first.
 */
export function ensureBuilt(): void {
  const built = path.join(ROOT, 'dist/cli/client/index.js');
  if (existsSync(built) && existsSync(BIN) && statSync(built).mtimeMs >= newestSource()) return;
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building dist/ failed:\n${r.stdout}\n${r.stderr}`);
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `trainyard ...args` with the given environment; stdin from `input` (closed when absent). */
export function cli(args: string[], env: Record<string, string>, input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * `trainyard ...args` in a pseudo-terminal (util-linux `script`; -e passes the exit status
 * on): what a person at a terminal sees, escape sequences and all. `onOutput` sees it as it comes.
 */
/** util-linux `script` gives the terminal tests their pseudo-terminal (.ci/run installs it). */
export function requireScript(): void {
  if (spawnSync('script', ['--version'], { encoding: 'utf8' }).status !== 0)
    throw new Error('the terminal tests need script(1) from util-linux (Debian: apt-get install bsdutils)');
}

export function inPty(
  args: string[],
  env: Record<string, string>,
  onOutput?: (all: string) => void,
): { done: Promise<{ code: number | null; out: string }>; type: (text: string) => void; output: () => string } {
  const cmd = [process.execPath, BIN, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: ROOT, env: { ...env, TERM: 'xterm-256color' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const add = (d: Buffer) => {
    out += d.toString();
    onOutput?.(out);
  };
  child.stdout.on('data', add);
  child.stderr.on('data', add);
  const done = new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
  // What is written to script's stdin reaches the program as typed at its terminal.
  return { done, type: (text) => child.stdin.write(text), output: () => out };
}

export const parseJson = <T = any>(r: Run): T => {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
};
