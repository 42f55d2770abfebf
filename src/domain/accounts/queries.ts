import type { Queryable } from '../../db/db.js';
import type { ROLES } from './schema.js';
import { cursorTime } from '../../ids.js';

type Role = (typeof ROLES)[number];

export interface UserRow {
  id: string;
  username: string;
  email: string;
  password_hash: string;
  role: Role;
  created_at: Date;
  disabled_at: Date | null;
  /** No password, cannot log in: acts only through API keys an admin made for it. */
  service_account: boolean;
}

export interface ApiKeyRow {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const USER_COLS = 'id, username, email, password_hash, role, created_at, disabled_at, service_account';
const KEY_COLS = 'id, user_id, name, prefix, created_at, last_used_at, revoked_at';

export async function insertUser(
  db: Queryable,
  u: Pick<UserRow, 'id' | 'username' | 'email' | 'password_hash' | 'role'> & { service_account?: boolean },
): Promise<UserRow> {
  const { rows } = await db.query<UserRow>(
    `insert into users (id, username, email, password_hash, role, service_account) values ($1, $2, $3, $4, $5, $6) returning ${USER_COLS}`,
    [u.id, u.username, u.email, u.password_hash, u.role, u.service_account ?? false],
  );
  return rows[0]!;
}

export async function listServiceAccounts(db: Queryable, limit: number): Promise<UserRow[]> {
  const { rows } = await db.query<UserRow>(`select ${USER_COLS} from users where service_account order by created_at desc, id desc limit $1`, [limit]);
  return rows;
}

export async function userById(db: Queryable, id: string): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>(`select ${USER_COLS} from users where id = $1`, [id]);
  return rows[0] ?? null;
}

export async function userByLogin(db: Queryable, login: string): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>(`select ${USER_COLS} from users where lower(username) = lower($1) or lower(email) = lower($1) limit 1`, [login]);
  return rows[0] ?? null;
}

export async function usernameOrEmailTaken(db: Queryable, username: string, email: string): Promise<{ username: boolean; email: boolean }> {
  const { rows } = await db.query<{ u: boolean; e: boolean }>(
    `select exists(select 1 from users where lower(username) = lower($1)) as u,
            exists(select 1 from users where lower(email) = lower($2)) as e`,
    [username, email],
  );
  return { username: rows[0]!.u, email: rows[0]!.e };
}

export async function setRole(db: Queryable, id: string, role: Role): Promise<void> {
  await db.query('update users set role = $2 where id = $1', [id, role]);
}

/**
 * An admin's change to an account: its role, and disabled (stamped once, kept while it stays
 * disabled) or enabled (cleared). Null when there is no such account.
 */
export async function updateUser(db: Queryable, id: string, patch: { role?: Role; disabled?: boolean }): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>(
    `update users set
       role = coalesce($2, role),
       disabled_at = case when $3::boolean is null then disabled_at when $3 then coalesce(disabled_at, now()) else null end
     where id = $1 returning ${USER_COLS}`,
    [id, patch.role ?? null, patch.disabled ?? null],
  );
  return rows[0] ?? null;
}

export async function setPassword(db: Queryable, id: string, hash: string): Promise<void> {
  await db.query('update users set password_hash = $2 where id = $1', [id, hash]);
}

export async function listUsers(db: Queryable, limit: number, after: { t: string; id: string } | null): Promise<UserRow[]> {
  const { rows } = await db.query<UserRow>(
    `select ${USER_COLS}, ${cursorTime()} from users
      where ($2::timestamptz is null or (created_at, id) < ($2::timestamptz, $3::text))
      order by created_at desc, id desc limit $1`,
    [limit + 1, after?.t ?? null, after?.id ?? null],
  );
  return rows;
}

export async function insertApiKey(db: Queryable, k: { id: string; user_id: string; name: string; prefix: string; secret_hash: string }): Promise<ApiKeyRow> {
  const { rows } = await db.query<ApiKeyRow>(
    `insert into api_keys (id, user_id, name, prefix, secret_hash) values ($1, $2, $3, $4, $5) returning ${KEY_COLS}`,
    [k.id, k.user_id, k.name, k.prefix, k.secret_hash],
  );
  return rows[0]!;
}

export async function apiKeyUser(db: Queryable, secretHash: string): Promise<(UserRow & { key_id: string; key_last_used_at: Date | null }) | null> {
  const { rows } = await db.query<UserRow & { key_id: string; key_last_used_at: Date | null }>(
    `select u.id, u.username, u.email, u.password_hash, u.role, u.created_at, u.disabled_at, u.service_account,
            k.id as key_id, k.last_used_at as key_last_used_at
       from api_keys k join users u on u.id = k.user_id
      where k.secret_hash = $1 and k.revoked_at is null`,
    [secretHash],
  );
  return rows[0] ?? null;
}

export async function touchApiKey(db: Queryable, keyId: string): Promise<void> {
  await db.query('update api_keys set last_used_at = now() where id = $1', [keyId]);
}

export async function listApiKeys(db: Queryable, userId: string): Promise<ApiKeyRow[]> {
  const { rows } = await db.query<ApiKeyRow>(`select ${KEY_COLS} from api_keys where user_id = $1 and revoked_at is null order by created_at desc, id desc`, [
    userId,
  ]);
  return rows;
}

export async function revokeApiKey(db: Queryable, userId: string, keyId: string): Promise<boolean> {
  const { rowCount } = await db.query('update api_keys set revoked_at = now() where id = $1 and user_id = $2 and revoked_at is null', [keyId, userId]);
  return rowCount > 0;
}

/** Seconds still locked for this key, or 0. */
export async function lockedFor(db: Queryable, key: string): Promise<number> {
  const { rows } = await db.query<{ s: number }>(
    `select ceil(extract(epoch from (locked_until - now())))::int as s from login_failures where key = $1 and locked_until > now()`,
    [key],
  );
  return rows[0]?.s ?? 0;
}

/**
 * Counts a failure in a window as long as the lock; the failure that reaches the limit
 * locks the key. One statement, so concurrent failures from many processes all count.
 */
export async function recordLoginFailure(db: Queryable, key: string, maxFailures: number, lockSeconds: number): Promise<void> {
  await db.query(
    `insert into login_failures as f (key, failures, window_start) values ($1, 1, now())
     on conflict (key) do update set
       failures = case when f.window_start < now() - make_interval(secs => $3) then 1 else f.failures + 1 end,
       window_start = case when f.window_start < now() - make_interval(secs => $3) then now() else f.window_start end,
       locked_until = case
         when (case when f.window_start < now() - make_interval(secs => $3) then 1 else f.failures + 1 end) >= $2
         then now() + make_interval(secs => $3) else f.locked_until end`,
    [key, maxFailures, lockSeconds],
  );
}

export async function clearLoginFailures(db: Queryable, key: string): Promise<void> {
  await db.query('delete from login_failures where key = $1', [key]);
}

// Bots and external identities (issue #12) ---------------------------------------------------

export interface BotRow {
  user_id: string;
  username: string;
  provider: string;
  signup_grant: boolean;
  created_at: Date;
}
export interface IdentityRow {
  provider: string;
  external_id: string;
  user_id: string;
  created_at: Date;
}

const BOT_SELECT = `select b.user_id, u.username, b.provider, b.signup_grant, b.created_at from bots b join users u on u.id = b.user_id`;

export async function insertBot(db: Queryable, b: { user_id: string; provider: string; signup_grant: boolean; created_by: string }): Promise<void> {
  await db.query('insert into bots (user_id, provider, signup_grant, created_by) values ($1, $2, $3, $4)', [
    b.user_id,
    b.provider,
    b.signup_grant,
    b.created_by,
  ]);
}

export async function botByUser(db: Queryable, userId: string): Promise<BotRow | null> {
  const { rows } = await db.query<BotRow>(`${BOT_SELECT} where b.user_id = $1`, [userId]);
  return rows[0] ?? null;
}

export async function listBots(db: Queryable, limit: number): Promise<BotRow[]> {
  const { rows } = await db.query<BotRow>(`${BOT_SELECT} order by b.created_at desc, b.user_id desc limit $1`, [limit]);
  return rows;
}

export async function setBotSignupGrant(db: Queryable, userId: string, grant: boolean): Promise<boolean> {
  const { rowCount } = await db.query('update bots set signup_grant = $2 where user_id = $1', [userId, grant]);
  return rowCount > 0;
}

export async function identity(db: Queryable, provider: string, externalId: string): Promise<IdentityRow | null> {
  const { rows } = await db.query<IdentityRow>('select provider, external_id, user_id, created_at from identities where provider = $1 and external_id = $2', [
    provider,
    externalId,
  ]);
  return rows[0] ?? null;
}

export async function identitiesOf(db: Queryable, userId: string): Promise<IdentityRow[]> {
  const { rows } = await db.query<IdentityRow>(
    'select provider, external_id, user_id, created_at from identities where user_id = $1 order by created_at, provider, external_id limit 1000',
    [userId],
  );
  return rows;
}

export async function insertIdentity(
  db: Queryable,
  i: { provider: string; external_id: string; user_id: string; created_by: string | null },
): Promise<IdentityRow> {
  const { rows } = await db.query<IdentityRow>(
    'insert into identities (provider, external_id, user_id, created_by) values ($1, $2, $3, $4) returning provider, external_id, user_id, created_at',
    [i.provider, i.external_id, i.user_id, i.created_by],
  );
  return rows[0]!;
}

export async function deleteIdentity(db: Queryable, userId: string, provider: string, externalId: string): Promise<boolean> {
  const { rowCount } = await db.query('delete from identities where user_id = $1 and provider = $2 and external_id = $3', [userId, provider, externalId]);
  return rowCount > 0;
}
