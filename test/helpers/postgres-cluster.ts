import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { freePort, pgBin, runAs } from './pg-programs.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
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
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses='127.0.0.1'",
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=300',
  ].join(' ');
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
