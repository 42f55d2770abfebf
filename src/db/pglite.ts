import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { assertChannel, type Db, type QueryResult, type Tx } from './db.js';
import { unpackPgliteSeed } from './pglite-seed.js';
import { redacting } from './redact.js';

/**
 * PGlite is one Postgres backend in this process. It serialises queries itself, and its
 * transaction() holds that backend exclusively, so other callers queue behind a transaction
 * as they would behind a row lock on a server.
 */
export async function openPglite(dataDir: string | null, seed: string | null = DEFAULT_SEED): Promise<Db> {
  if (!dataDir) return wrapPglite(await PGlite.create());
  if (seed && existsSync(seed) && !existsSync(path.join(dataDir, 'PG_VERSION'))) {
    try {
      unpackPgliteSeed(seed, dataDir);
      return wrapPglite(await PGlite.create(dataDir));
    } catch {
      // A seed that cannot be unpacked or that this PGlite cannot open (built by another
      // version): start as if there were none. The folder had no database before this call
      // (no PG_VERSION), so nothing of the user's is lost.
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  return wrapPglite(await PGlite.create(dataDir));
}

/**
 * The build's pre-initialised data folder (src/cli/pglite-seed.ts), beside the compiled code:
 * dist/pglite-seed.tar.gz. Absent when running from the sources (tsx), then initdb runs.
 */
const DEFAULT_SEED = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'pglite-seed.tar.gz');

function toResult<T>(r: { rows: unknown[]; affectedRows?: number }): QueryResult<T> {
  return { rows: r.rows as T[], rowCount: r.affectedRows ?? r.rows.length };
}

export function wrapPglite(pg: PGlite): Db {
  let closed = false;
  return {
    kind: 'pglite',
    query<T>(sql: string, params?: readonly unknown[]) {
      return redacting(async () => toResult<T>(await pg.query(sql, params as unknown[] | undefined)));
    },
    exec(sql: string) {
      return redacting(async () => void (await pg.exec(sql)));
    },
    transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      return redacting(() =>
        pg.transaction(async (t) =>
          fn({
            query<R>(sql: string, params?: readonly unknown[]) {
              return redacting(async () => toResult<R>(await t.query(sql, params as unknown[] | undefined)));
            },
            exec(sql: string) {
              return redacting(async () => void (await t.exec(sql)));
            },
          }),
        ),
      );
    },
    async listen(channel, handler) {
      const unsub = await pg.listen(assertChannel(channel), handler);
      return async () => {
        if (!closed) await unsub();
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      await pg.close();
    },
  };
}
