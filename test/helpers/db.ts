import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { Db } from '../../src/db/db.js';
import { openPg } from '../../src/db/pg.js';
import { openPglite } from '../../src/db/pglite.js';

export const TEST_DB = (process.env.TRAINYARD_TEST_DB ?? 'pglite') as 'pglite' | 'postgres';

export interface TestDatabase {
  db: Db;
  url: string | null;
  drop(): Promise<void>;
}

/**
 * A fresh database: an in-memory PGlite, or a new database in the run's Postgres cluster.
 * `kind` overrides the project's TRAINYARD_TEST_DB (a file that proves itself on both, in a
 * project whose globalSetup also starts the cluster).
 */
export async function createTestDatabase(kind: 'pglite' | 'postgres' = TEST_DB): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const db = await openPglite(null);
    return { db, url: null, drop: () => db.close() };
  }
  const adminUrl = inject('pgUrl');
  const name = `ty_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = adminUrl.replace(/\/postgres$/, `/${name}`);
  const db = await openPg(url);
  return {
    db,
    url,
    async drop() {
      await db.close();
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
