import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

/**
 * What the throwaway Postgres servers of the test suite and the benchmarks share: finding the
 * server programs, the user to run them as, and a free port.
 */

/** initdb on PATH, else Debian's /usr/lib/postgresql/<newest>/bin. */
export function pgBin(name: string): string {
  const onPath = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const v of versions) {
    const p = path.join(root, v, 'bin', name);
    if (existsSync(p)) return p;
  }
  throw new Error(`${name} not found: install the PostgreSQL server (Debian: apt-get install postgresql); .ci/run does this`);
}

/** Postgres refuses to run as root: as root we run it as the `postgres` system user. */
export function runAs(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  for (const user of ['postgres', 'nobody']) {
    const r = spawnSync('id', ['-u', user], { encoding: 'utf8' });
    if (r.status === 0) {
      const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim();
      return { uid: Number(r.stdout.trim()), gid: Number(gid) };
    }
  }
  throw new Error('running as root and no postgres or nobody user exists to run the cluster');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}
