import { randomBytes } from 'node:crypto';
import { ValidationError } from './errors.js';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

/** Opaque prefixed ids: `file_` + 20 base32 chars (100 random bits). */
export function newId(prefix: string, length = 20): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i]! & 31];
  return `${prefix}_${out}`;
}

/** Keyset cursors: (created_at, id) of the last row, base64url JSON. Opaque to clients. */
export interface Cursor {
  t: string;
  id: string;
}

/**
 * A listed row's creation time as its cursor holds it, to the microsecond Postgres keeps. A Date
 * keeps milliseconds: rows created in one transaction (a sweep's jobs, one event's webhook
 * deliveries) share a millisecond with different microseconds, and a cursor cut to the
 * millisecond skipped those after the page's last row. `col`: the created_at column, qualified
 * if need be. Every list query that pages with toPage selects it.
 */
export const cursorTime = (col = 'created_at') => `to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_t`;

export function encodeCursor(createdAt: Date | string, id: string): string {
  return Buffer.from(JSON.stringify({ t: typeof createdAt === 'string' ? createdAt : createdAt.toISOString(), id })).toString('base64url');
}

const ISSUED_ID = /^[a-z]{1,20}_[0-9a-z]{1,64}$/;
// Milliseconds: a cursor issued before they held microseconds (or from a Date) still pages.
const ISSUED_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})(\d{3})?Z$/;

export function decodeCursor(cursor: string | undefined): Cursor | null {
  if (!cursor) return null;
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Cursor;
    // Only what encodeCursor writes: a forged one ("2024", year 0, a NUL in the id) reached
    // Postgres and answered 500 (issue #10).
    const m = typeof c.t === 'string' ? ISSUED_TIME.exec(c.t) : null;
    if (m && typeof c.id === 'string' && ISSUED_ID.test(c.id)) {
      const ms = Date.parse(`${m[1]}Z`);
      if (Number.isFinite(ms) && new Date(ms).toISOString() === `${m[1]}Z` && new Date(ms).getUTCFullYear() >= 1) return c;
    }
  } catch {
    /* fall through */
  }
  throw new ValidationError('INVALID_CURSOR', 'cursor is not one this server issued');
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** Callers fetch limit+1 rows; the extra row only tells whether a next page exists. */
export function toPage<R extends { created_at: Date; id: string; cursor_t?: string }, T>(rows: R[], limit: number, map: (r: R) => T): Page<T> {
  const more = rows.length > limit;
  const slice = more ? rows.slice(0, limit) : rows;
  const last = slice[slice.length - 1];
  return { data: slice.map(map), next_cursor: more && last ? encodeCursor(last.cursor_t ?? last.created_at, last.id) : null };
}
