import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.js';

// migrations/ sits at the package root, the same two levels up from src/db and dist/db.
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const out: Migration[] = [];
  for (const name of names) {
    const m = /^(\d{4})_[a-z0-9_]+\.sql$/.exec(name);
    if (!m) throw new Error(`migration file name must look like 0001_name.sql: ${name}`);
    const id = Number(m[1]);
    if (out.length && out[out.length - 1]!.id === id) throw new Error(`duplicate migration number ${id}`);
    out.push({ id, name, sql: await readFile(`${dir}/${name}`, 'utf8') });
  }
  return out;
}

// Any 64-bit constant works; this one is "trainyrd" in ASCII (decimal: PG15 has no hex literals).
const MIGRATION_LOCK = '8390876161197568612';

/**
 * Applies pending migrations in one transaction under a transaction-scoped advisory lock:
 * a second process starting at the same moment waits, then finds nothing left to do.
 */
export async function migrate(db: Db, migrations?: Migration[]): Promise<string[]> {
  const all = migrations ?? (await loadMigrations());
  return db.transaction(async (tx) => {
    await tx.query(`select pg_advisory_xact_lock(${MIGRATION_LOCK}::bigint)`);
    await tx.exec(`create table if not exists trainyard_migrations (
      id integer primary key, name text not null, applied_at timestamptz not null default now())`);
    const { rows } = await tx.query<{ id: number; name: string }>('select id, name from trainyard_migrations order by id');
    const applied = new Map(rows.map((r) => [r.id, r.name]));
    for (const [id, name] of applied) {
      const known = all.find((m) => m.id === id);
      if (!known) throw new Error(`database has migration ${name} that this build does not know: is it older than the database?`);
      if (known.name !== name) throw new Error(`migration ${id} is ${name} in the database but ${known.name} here`);
    }
    const done: string[] = [];
    for (const m of all) {
      if (applied.has(m.id)) continue;
      await tx.exec(m.sql);
      await tx.query('insert into trainyard_migrations (id, name) values ($1, $2)', [m.id, m.name]);
      done.push(m.name);
    }
    return done;
  });
}

export async function pendingMigrations(db: Db): Promise<number> {
  const all = await loadMigrations();
  const { rows } = await db.query<{ n: number }>('select count(*)::int as n from trainyard_migrations').catch(() => ({ rows: [{ n: 0 }] }));
  return all.length - (rows[0]?.n ?? 0);
}
