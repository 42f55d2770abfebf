import pg from 'pg';
import { assertChannel, type Db, type QueryResult, type Tx } from './db.js';
import { redactDbError, redacting } from './redact.js';

// int8 as number, like PGlite: our counters (bytes, credits) stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export interface PgOptions {
  max?: number;
  logError?: (msg: string, err: unknown) => void;
}

/**
 * A pool for queries and one dedicated client for LISTEN, reconnected with backoff: a
 * notification missed while reconnecting is harmless because every listener also polls.
 */
export async function openPg(url: string, opts: PgOptions = {}): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10 });
  const logError = opts.logError ?? (() => {});
  pool.on('error', (err) => logError('idle pg client error', redactDbError(err)));
  await pool.query('select 1');

  const handlers = new Map<string, Set<(payload: string) => void>>();
  let listener: pg.Client | null = null;
  let connecting: Promise<pg.Client> | null = null;
  let closed = false;
  let retryTimer: NodeJS.Timeout | null = null;
  const stateHandlers = new Set<(up: boolean) => void>();
  const tellState = (up: boolean) => stateHandlers.forEach((h) => h(up));

  async function connectListener(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    client.on('notification', (msg) => {
      for (const h of handlers.get(msg.channel) ?? []) h(msg.payload ?? '');
    });
    client.on('error', (err) => {
      logError('LISTEN connection lost', redactDbError(err));
      if (listener === client) listener = null;
      tellState(false);
      client.end().catch(() => {});
      scheduleReconnect(1000);
    });
    await client.connect();
    for (const ch of handlers.keys()) await client.query(`LISTEN ${ch}`);
    tellState(true);
    return client;
  }

  function scheduleReconnect(delay: number) {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      getListener().catch(() => scheduleReconnect(Math.min(delay * 2, 30_000)));
    }, delay);
    retryTimer.unref();
  }

  async function getListener(): Promise<pg.Client> {
    if (listener) return listener;
    connecting ??= connectListener().then(
      (c) => ((listener = c), (connecting = null), c),
      (e) => {
        connecting = null;
        throw e;
      },
    );
    return connecting;
  }

  const wrap = (c: pg.Pool | pg.PoolClient): Tx => ({
    query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
      return redacting(async () => {
        const r = await c.query(sql, params as unknown[] | undefined);
        return { rows: r.rows as T[], rowCount: r.rowCount ?? r.rows.length };
      });
    },
    exec(sql: string) {
      return redacting(async () => void (await c.query(sql)));
    },
  });
  const base = wrap(pool);

  return {
    kind: 'pg',
    query: base.query,
    exec: base.exec,
    async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw redactDbError(err);
      } finally {
        client.release();
      }
    },
    async listen(channel, handler) {
      assertChannel(channel);
      let set = handlers.get(channel);
      const first = !set;
      if (!set) handlers.set(channel, (set = new Set()));
      set.add(handler);
      if (first) await (await getListener()).query(`LISTEN ${channel}`);
      return async () => {
        set.delete(handler);
        if (set.size === 0 && handlers.get(channel) === set) {
          handlers.delete(channel);
          if (listener && !closed) await listener.query(`UNLISTEN ${channel}`).catch(() => {});
        }
      };
    },
    onListenerState(handler) {
      stateHandlers.add(handler);
      return () => void stateHandlers.delete(handler);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      const l = listener ?? (connecting ? await connecting.catch(() => null) : null);
      listener = null;
      if (l) await l.end().catch(() => {});
      await pool.end();
    },
  };
}
