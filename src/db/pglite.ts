import { PGlite } from '@electric-sql/pglite';
import { assertChannel, type Db, type QueryResult, type Tx } from './db.js';

/**
 * PGlite is one Postgres backend in this process. It serialises queries itself, and its
 * transaction() holds that backend exclusively, so other callers queue behind a transaction
 * as they would behind a row lock on a server.
 */
export async function openPglite(dataDir: string | null): Promise<Db> {
  const pg = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  return wrapPglite(pg);
}

function toResult<T>(r: { rows: unknown[]; affectedRows?: number }): QueryResult<T> {
  return { rows: r.rows as T[], rowCount: r.affectedRows ?? r.rows.length };
}

export function wrapPglite(pg: PGlite): Db {
  let closed = false;
  return {
    kind: 'pglite',
    async query<T>(sql: string, params?: readonly unknown[]) {
      return toResult<T>(await pg.query(sql, params as unknown[] | undefined));
    },
    async exec(sql: string) {
      await pg.exec(sql);
    },
    transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      return pg.transaction(async (t) =>
        fn({
          async query<R>(sql: string, params?: readonly unknown[]) {
            return toResult<R>(await t.query(sql, params as unknown[] | undefined));
          },
          async exec(sql: string) {
            await t.exec(sql);
          },
        }),
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
