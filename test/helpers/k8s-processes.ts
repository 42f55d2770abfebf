import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import path from 'node:path';

// The control plane's daemons as child processes of the test run: each logs to a file in the
// cluster's folder (shown when it dies while starting), and `stopAll` ends them newest first
// and proves that none is left.

/** The folder with etcd, kube-apiserver, … : K8S_BIN_DIR, else what scripts/k8s-binaries.sh builds (cached by version). */
export function k8sBinDir(): string {
  if (process.env.K8S_BIN_DIR) return process.env.K8S_BIN_DIR;
  const out = execFileSync('bash', [path.resolve('scripts/k8s-binaries.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop()!;
}

export class DaemonExitedError extends Error {
  readonly code = 'K8S_DAEMON_EXITED';
  constructor(name: string, status: number | string, logTail: string) {
    super(`${name} exited (${status}) while the test cluster was running:\n${logTail}`);
  }
}

export interface Daemon {
  name: string;
  pid: number;
  child: ChildProcess;
  log: string;
  exited: number | string | null;
  /** Throws DaemonExitedError if it has died: a wait calls this on each look. */
  check(): void;
}

export function startDaemon(dir: string, bin: string, name: string, args: string[]): Daemon {
  const log = path.join(dir, `${name}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(path.join(bin, name), args, { stdio: ['ignore', fd, fd], cwd: dir });
  closeSync(fd);
  const d: Daemon = {
    name,
    pid: child.pid!,
    child,
    log,
    exited: null,
    check() {
      if (d.exited !== null) throw new DaemonExitedError(name, d.exited, tail(log));
    },
  };
  child.on('exit', (code, signal) => (d.exited = code ?? signal ?? -1));
  return d;
}

export function tail(file: string, chars = 3000): string {
  try {
    return readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM newest first (kwok before the API server, the API server before etcd), SIGKILL after `graceMs`. */
export async function stopAll(daemons: Daemon[], graceMs = 5_000): Promise<void> {
  for (const d of [...daemons].reverse()) {
    if (d.exited !== null) continue;
    const gone = new Promise<void>((r) => d.child.once('exit', () => r()));
    d.child.kill('SIGTERM');
    const timer = setTimeout(() => d.child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
  const left = daemons.filter((d) => alive(d.pid));
  if (left.length) throw new Error(`k8s test cluster: still running after stop: ${left.map((d) => `${d.name} (${d.pid})`).join(', ')}`);
}

export interface Probe {
  status: number;
  body: string;
}

/** One GET for a health endpoint; `ca` pins the cluster's CA, without it any certificate is taken (loopback only). */
export function get(url: string, ca?: Buffer): Promise<Probe> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const done = (res: http.IncomingMessage) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const req =
      u.protocol === 'https:' ? https.get(u, { ca, rejectUnauthorized: ca !== undefined, timeout: 2_000 }, done) : http.get(u, { timeout: 2_000 }, done);
    // Not up yet: a refused connection is a state to wait past, not an error.
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}
