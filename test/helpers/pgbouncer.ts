import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort, runAs } from './pg-programs.js';
import { waitFor } from './wait.js';

export interface PgBouncer {
  /** `postgres://…@127.0.0.1:<bouncer port>/<database>`: the same database, through the pooler. */
  url(database: string): string;
  stop(): Promise<void>;
}

/** Debian's pgbouncer (apt-get install pgbouncer; .ci/run does this). */
export function pgbouncerBin(): string {
  const found = spawnSync('sh', ['-c', 'command -v pgbouncer || ls /usr/sbin/pgbouncer 2>/dev/null'], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
  if (!found) throw new Error('pgbouncer not found: install it (Debian: apt-get install pgbouncer); .ci/run does this');
  return found;
}

/**
 * PgBouncer in transaction mode in front of a Postgres server: each transaction (each
 * statement outside one) may run on a different server connection, so session state —
 * LISTEN, named prepared statements, session advisory locks, SET — does not survive. A pool
 * smaller than the clients' makes that real rather than theoretical. It refuses to run as
 * root, so as root it runs as the cluster's user.
 */
export async function startPgBouncer(serverUrl: string, opts: { poolSize?: number } = {}): Promise<PgBouncer> {
  const server = new URL(serverUrl);
  const dir = mkdtempSync(path.join(tmpdir(), 'trainyard-pgbouncer-'));
  const port = await freePort();
  const user = runAs();
  writeFileSync(path.join(dir, 'userlist.txt'), `"${server.username}" ""\n`);
  writeFileSync(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${opts.poolSize ?? 4}`,
      'max_client_conn = 500',
      `logfile = ${path.join(dir, 'pgbouncer.log')}`,
      // node-postgres sends none of these, but a client library might: not a reason to refuse.
      'ignore_startup_parameters = extra_float_digits,options,application_name',
      '',
    ].join('\n'),
  );
  chmodSync(dir, 0o755);
  if (user) chownSync(dir, user.uid, user.gid);
  const child: ChildProcess = spawn(pgbouncerBin(), [path.join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(user ?? {}),
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = (database: string) => `postgres://${server.username}@127.0.0.1:${port}/${database}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`pgbouncer exited (${child.exitCode}): ${stderr}`);
      const c = new pg.Client({ connectionString: url(server.pathname.slice(1) || 'postgres') });
      try {
        await c.connect();
        await c.query('select 1');
        return true;
      } catch {
        return false;
      } finally {
        await c.end().catch(() => {});
      }
    },
    (ok) => ok,
    { timeoutMs: 15_000, intervalMs: 100, message: 'pgbouncer to accept connections' },
  );
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGINT'); // PgBouncer's "safe shutdown"
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
