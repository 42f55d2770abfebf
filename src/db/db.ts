import type { NotifySync } from './notify-sync.js';

/**
 * The one database seam. Two adapters implement it (PGlite embedded, `pg` for a server) so
 * every module speaks one SQL dialect and the test suite can prove both.
 */
export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /** Several statements, no parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export type Tx = Queryable;

export type Unlisten = () => Promise<void>;

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'pg';
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  listen(channel: string, handler: (payload: string) => void): Promise<Unlisten>;
  /**
   * Told when the LISTEN connection is lost (false) and back (true): notifications sent in
   * between are lost, which matters to a listener that caches (the principal cache) rather
   * than polls. Absent where notifications cannot be lost (PGlite, in-process).
   */
  onListenerState?(handler: (up: boolean) => void): () => void;
  /** Whether notifications reach this process now (false: the LISTEN connection is down or deaf). */
  listening?(): boolean;
  /**
   * Where a write's notification can reach this process after the write's answer (a server:
   * two connections), what a cache asks before serving a hit so that this process sees its own
   * writes (src/db/notify-sync.ts). Absent where notifications are handled before the write's
   * promise settles (PGlite: one in-process backend).
   */
  readonly notifySync?: Pick<NotifySync, 'behind' | 'sync'>;
  close(): Promise<void>;
}

/** LISTEN takes an identifier, not a parameter: only plain names are accepted. */
export function assertChannel(channel: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`invalid channel name: ${channel}`);
  return channel;
}
