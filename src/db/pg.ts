import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { CHANNELS } from './channels.js';
import { assertChannel, type Db, type QueryResult, type Tx } from './db.js';
import { NotifySync } from './notify-sync.js';
import { redactDbError, redacting } from './redact.js';

// int8 as number, like PGlite: our counters (bytes, credits) stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/** A statement that only reads (no function here writes when selected). */
const SELECT = /^\s*select\b/i;

/** How long a new LISTEN connection waits for its own probe notification (it takes ms). */
const LISTEN_PROBE_MS = 2000;

export interface PgOptions {
  max?: number;
  /**
   * Where the LISTEN connection goes, when not to `url`: behind PgBouncer in transaction mode a
   * LISTEN is dropped as soon as its statement ends (the server connection goes back to the pool),
   * so notifications need a direct or session-pooled connection (DATABASE_LISTEN_URL).
   */
  listenUrl?: string | null;
  logError?: (msg: string, err: unknown) => void;
}

/**
 * A pool for queries and one dedicated client for LISTEN, reconnected with backoff: a
 * notification missed while reconnecting is harmless because every listener also polls.
 * The pool only ever sends unnamed statements (node-postgres names one only when asked), and
 * every advisory lock is transaction-scoped, so `url` may be PgBouncer in transaction mode.
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
  let hearing = false;
  const tellState = (up: boolean) => {
    hearing = up;
    stateHandlers.forEach((h) => h(up));
  };

  /**
   * Sends this connection a notification through the pool and waits for it. Through PgBouncer in
   * transaction mode (DATABASE_URL a pooler, no DATABASE_LISTEN_URL) the LISTEN was made on a
   * server connection that went back to the pool, so nothing arrives: say so loudly, and report
   * the listener as down, so what caches on notifications (the principal cache) does not.
   */
  async function hearsItself(client: pg.Client): Promise<boolean> {
    const token = randomBytes(8).toString('hex');
    let timer: NodeJS.Timeout | undefined;
    let onMessage: (m: pg.Notification) => void = () => {};
    const heard = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), LISTEN_PROBE_MS);
      onMessage = (m) => m.channel === CHANNELS.listenProbe && m.payload === token && resolve(true);
    });
    client.on('notification', onMessage);
    try {
      await client.query(`LISTEN ${CHANNELS.listenProbe}`);
      await pool.query('select pg_notify($1, $2)', [CHANNELS.listenProbe, token]);
      return await heard;
    } finally {
      clearTimeout(timer);
      client.off('notification', onMessage);
      await client.query(`UNLISTEN ${CHANNELS.listenProbe}`).catch(() => {});
    }
  }

  /** Listener connections that failed: one never becomes (or stays) `listener`. */
  const lost = new WeakSet<pg.Client>();

  async function connectListener(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: opts.listenUrl || url });
    client.on('notification', (msg) => {
      for (const h of handlers.get(msg.channel) ?? []) h(msg.payload ?? '');
    });
    client.on('error', (err) => {
      logError('LISTEN connection lost', redactDbError(err));
      lost.add(client);
      if (listener === client) listener = null;
      tellState(false);
      client.end().catch(() => {});
      scheduleReconnect(1000);
    });
    await client.connect();
    for (const ch of handlers.keys()) await client.query(`LISTEN ${ch}`);
    const heard = await hearsItself(client);
    if (!heard) {
      logError(
        'the LISTEN connection hears no notifications: is DATABASE_URL a transaction-mode pooler (PgBouncer)? Set DATABASE_LISTEN_URL to a direct or session-mode connection',
        new Error(`no notification within ${LISTEN_PROBE_MS} ms`),
      );
    }
    // Lost while being set up (during the probe's UNLISTEN, whose error is swallowed): its error
    // handler already said "down" and asked for a retry, which this must not answer with a dead
    // client marked up, kept as `listener` for good while no notification arrives.
    if (lost.has(client)) throw new Error('the LISTEN connection was lost while it was being set up');
    tellState(heard);
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
  // Counts what may have written (anything but a plain select, every committed transaction).
  const sync = new NotifySync({
    listen: (channel, handler) => db.listen(channel, handler),
    send: async (payload) => void (await pool.query('select pg_notify($1, $2)', [CHANNELS.sync, payload])),
  });

  const db: Db = {
    kind: 'pg',
    async query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
      const r = await base.query<T>(sql, params);
      if (!SELECT.test(sql)) sync.wrote();
      return r;
    },
    async exec(sql: string) {
      await base.exec(sql);
      sync.wrote();
    },
    notifySync: sync,
    async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        sync.wrote();
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
    listening: () => hearing,
    onListenerState(handler) {
      stateHandlers.add(handler);
      return () => void stateHandlers.delete(handler);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      await sync.close();
      const l = listener ?? (connecting ? await connecting.catch(() => null) : null);
      listener = null;
      if (l) await l.end().catch(() => {});
      await pool.end();
    },
  };
  return db;
}
