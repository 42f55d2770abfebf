/**
 * A throwaway Postgres server for one benchmark run, started the way the test suite's global
 * setup does it (test/helpers/postgres-cluster.ts): initdb + pg_ctl into a temp folder, as the
 * `postgres` user when run as root, listening on 127.0.0.1 only.
 *
 * Unlike the tests it keeps Postgres' default durability (fsync, synchronous_commit, full page
 * writes on): the figures are meant to be those of a real server. BENCH_PG_FAST=1 turns them
 * off like the tests do, to see how much of a figure is commit flushing.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { onCleanup } from './cleanup.js';
import { freePort, pgBin, runAs } from '../../test/helpers/pg-programs.js';

export interface PgCluster {
  /** Admin URL (database `postgres`). */
  url: string;
  version: string;
  durability: 'default' | 'off';
  /** Creates a fresh database and returns its URL. */
  createDatabase(): Promise<string>;
  /** Stops the server and removes its folder. Idempotent. */
  stop(): void;
}

async function createDatabase(url: string): Promise<string> {
  const name = `ty_${randomBytes(6).toString('hex')}`;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`create database ${name}`);
  await c.end();
  return url.replace(/\/postgres$/, `/${name}`);
}

/** The cluster a parent process started, seen from a child process (which does not own it). */
export function attachPgCluster(c: Pick<PgCluster, 'url' | 'version' | 'durability'>): PgCluster {
  return { url: c.url, version: c.version, durability: c.durability, createDatabase: () => createDatabase(c.url), stop: () => {} };
}

export async function startPgCluster(): Promise<PgCluster> {
  const fast = process.env.BENCH_PG_FAST === '1';
  const dir = mkdtempSync(path.join(tmpdir(), 'trainyard-bench-pg-'));
  const data = path.join(dir, 'data');
  const user = runAs();
  chmodSync(dir, 0o755);
  if (user) chownSync(dir, user.uid, user.gid);
  const opts = { stdio: 'pipe' as const, ...(user ?? {}) };
  let stopped = false;
  let started = false;
  // A bench that throws or is interrupted still takes its server down with it.
  const unregister = onCleanup(() => stop());
  const stop = () => {
    if (stopped) return;
    stopped = true;
    unregister();
    try {
      if (started) execFileSync(pgBin('pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], opts);
    } catch {
      // Already gone.
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const port = await freePort();
  const url = `postgres://trainyard@127.0.0.1:${port}/postgres`;
  const cluster: PgCluster = {
    url,
    version: '',
    durability: fast ? 'off' : 'default',
    createDatabase: () => createDatabase(url),
    stop,
  };
  try {
    execFileSync(pgBin('initdb'), ['-D', data, '-U', 'trainyard', '--auth=trust', '-E', 'UTF8', '--no-locale'], opts);
    const settings = [
      `-p ${port}`,
      `-k ${dir}`,
      "-c listen_addresses='127.0.0.1'",
      '-c max_connections=300',
      ...(fast ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : []),
    ].join(' ');
    execFileSync(pgBin('pg_ctl'), ['-D', data, '-o', settings, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start'], opts);
    started = true;
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    cluster.version = (await c.query<{ server_version: string }>('show server_version')).rows[0]!.server_version;
    await c.end();
  } catch (err) {
    stop();
    throw err;
  }
  return cluster;
}
