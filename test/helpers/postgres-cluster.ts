import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

/** initdb on PATH, else Debian's /usr/lib/postgresql/<newest>/bin. */
function pgBin(name: string): string {
  const onPath = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = path.join(root, v, 'bin', name);
    if (existsSync(p)) return p;
  }
  throw new Error(`${name} not found: install the PostgreSQL server (Debian: apt-get install postgresql); .ci/run does this`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Postgres refuses to run as root: as root we run it as the `postgres` system user. */
function runAs(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  for (const user of ['postgres', 'nobody']) {
    const r = spawnSync('id', ['-u', user], { encoding: 'utf8' });
    if (r.status === 0) {
      const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim();
      return { uid: Number(r.stdout.trim()), gid: Number(gid) };
    }
  }
  throw new Error('running as root and no postgres or nobody user exists to run the test cluster');
}

/**
 * One throwaway cluster for the whole run (initdb ~1 s, start ~0.3 s); each test file then
 * creates its own database in it. fsync is off: the data dies with the run anyway.
 */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(tmpdir(), 'trainyard-pg-'));
  const data = path.join(dir, 'data');
  const user = runAs();
  chmodSync(dir, 0o755);
  if (user) chownSync(dir, user.uid, user.gid);
  const opts = { stdio: 'pipe' as const, ...(user ?? {}) };
  execFileSync(pgBin('initdb'), ['-D', data, '-U', 'trainyard', '--auth=trust', '-E', 'UTF8', '--no-locale'], opts);
  const port = await freePort();
  const settings = [`-p ${port}`, `-k ${dir}`, "-c listen_addresses='127.0.0.1'", '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', '-c max_connections=300'].join(' ');
  execFileSync(pgBin('pg_ctl'), ['-D', data, '-o', settings, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start'], opts);
  project.provide('pgUrl', `postgres://trainyard@127.0.0.1:${port}/postgres`);
  return () => {
    try {
      execFileSync(pgBin('pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], opts);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
