import { PGlite } from '@electric-sql/pglite';
import { assertChannel, type Db, type QueryResult, type Tx } from './db.js';
import { redacting } from './redact.js';

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
