/**
 * Records the SQL the service runs while `on` is set (wrapDb for startBenchApp), so a bench can
 * EXPLAIN ANALYZE exactly the statements an API call made, with their parameters, instead of
 * keeping copies of the service's SQL.
 */
import type { Db, Queryable } from '../../src/db/db.js';

export interface Recorded {
  sql: string;
  params: readonly unknown[];
}

export interface Recorder {
  on: boolean;
  seen: Recorded[];
}

export function recordDb(db: Db, r: Recorder): Db {
  const wrap = (q: Queryable) =>
    (async (sql: string, params?: readonly unknown[]) => {
      if (r.on) r.seen.push({ sql, params: params ?? [] });
      return q.query(sql, params);
    }) as Db['query'];
  return {
    kind: db.kind,
    query: wrap(db),
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction((tx) => fn({ query: wrap(tx), exec: (sql) => tx.exec(sql) })),
    listen: (channel, handler) => db.listen(channel, handler),
    close: () => db.close(),
  };
}
