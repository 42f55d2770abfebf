/**
 * A transparent wrapper around the service's Db (passed to startRuntime as `db`) that timestamps
 * the moments a pickup goes through without touching src/: when the job-creating transaction
 * committed, when the worker heard the NOTIFY, and when its claim query ran.
 */
import type { Db, Queryable } from '../../src/db/db.js';
import { CHANNELS } from '../../src/db/channels.js';
import { nowMs } from './stats.js';

export interface Probe {
  /** job id → the creating transaction's COMMIT returned. */
  committed: Map<string, number>;
  /** job id → the worker's LISTEN handler ran. */
  heard: Map<string, number>;
  /** job id → the claim query that returned it (start, end). */
  claimed: Map<string, { start: number; end: number }>;
}

export function newProbe(): Probe {
  return { committed: new Map(), heard: new Map(), claimed: new Map() };
}

export function probeDb(db: Db, p: Probe): Db {
  const timed = (q: Queryable) =>
    (async (sql: string, params?: readonly unknown[]) => {
      const start = nowMs();
      const r = await q.query<{ id?: string }>(sql, params);
      // The worker's claim picks its job with one of two candidate queries (src/domain/jobs/lifecycle/sql.ts:
      // the idle-owner fast path, then the full fair order), the only queries that lock with SKIP LOCKED.
      const id = r.rows[0]?.id;
      if (id && /for update (of j )?skip locked/.test(sql) && !p.claimed.has(id)) p.claimed.set(id, { start, end: nowMs() });
      return r;
    }) as Db['query'];
  const query = timed(db);
  return {
    kind: db.kind,
    query,
    exec: (sql) => db.exec(sql),
    async transaction(fn) {
      // The claim runs inside its transaction (with its status event): time its query there too.
      const r = await db.transaction((tx) => fn({ query: timed(tx), exec: (sql) => tx.exec(sql) }));
      const t = nowMs();
      // JobsService.create's transaction returns the new job row.
      const row = r as { id?: unknown; status?: unknown } | null;
      if (row && typeof row === 'object' && row.status === 'queued' && typeof row.id === 'string' && !p.committed.has(row.id)) p.committed.set(row.id, t);
      return r;
    },
    listen: (channel, handler) =>
      db.listen(channel, (payload) => {
        if (channel === CHANNELS.jobs && !p.heard.has(payload)) p.heard.set(payload, nowMs());
        handler(payload);
      }),
    close: () => db.close(),
  };
}
