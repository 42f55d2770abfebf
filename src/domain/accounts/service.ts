import type { Config } from '../../config.js';
import type { Db, Queryable } from '../../db/db.js';
import {
  AppError,
  ConflictError,
  ForbiddenError,
  isUniqueViolation,
  NotFoundError,
  TooManyRequestsError,
  UnauthorizedError,
  ValidationError,
} from '../../errors.js';
import { decodeCursor, newId, toPage } from '../../ids.js';
import { deriveKey } from '../../storage/signing.js';
import { BotsService } from './bots.js';
import * as cred from './credentials.js';
import { PrincipalCache } from './principal-cache.js';
import * as q from './queries.js';
import type { ROLES, SignupInput } from './schema.js';
import { clientAddress } from '../../net/client-address.js';

export type Role = (typeof ROLES)[number];
export interface Principal {
  userId: string;
  username: string;
  role: Role;
  /** 'bot': a bot's API key acting for this user (X-On-Behalf-Of); `actor` names the bot. */
  via: 'jwt' | 'api_key' | 'bot';
  keyId?: string;
  actor?: { userId: string; username: string; provider: string };
}

export interface PublicUser {
  id: string;
  username: string;
  email: string;
  role: Role;
  service_account: boolean;
  created_at: string;
}
/** An account as admins see it: whether it is disabled, and since when. */
export interface AdminUser extends PublicUser {
  disabled: boolean;
  disabled_at: string | null;
}
export interface PublicApiKey {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
}

export interface AccountsDeps {
  db: Db;
  secret: Buffer;
  jwtTtlSeconds: number;
  signupPolicy: 'open' | 'closed';
  login: { maxFailures: number; lockSeconds: number };
  /** Principal cache (issue #15): ttlMs 0 = off, every request reads the database. Off when absent. */
  principalCache?: { ttlMs: number; maxEntries: number };
  /** Runs in the signup transaction (the credit grant): both commit or neither does. */
  onSignup?: (tx: Queryable, userId: string) => Promise<void>;
}

/** What the accounts service takes from the configuration: one place for the server and the CLI. */
export function accountsSettings(config: Pick<Config, 'secret' | 'jwtTtlSeconds' | 'signupPolicy' | 'login'>) {
  return { secret: config.secret, jwtTtlSeconds: config.jwtTtlSeconds, signupPolicy: config.signupPolicy, login: config.login };
}

const USERNAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{2,31}$/;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{1,63}$/;
// last_used_at is for humans ("used 3 minutes ago"): one write a minute per key is plenty.
const TOUCH_INTERVAL_MS = 60_000;

export function publicUser(u: q.UserRow): PublicUser {
  return { id: u.id, username: u.username, email: u.email, role: u.role, service_account: u.service_account, created_at: u.created_at.toISOString() };
}

export function adminUser(u: q.UserRow): AdminUser {
  return { ...publicUser(u), disabled: u.disabled_at !== null, disabled_at: u.disabled_at?.toISOString() ?? null };
}

function publicKey(k: q.ApiKeyRow): PublicApiKey {
  return { id: k.id, name: k.name, prefix: k.prefix, created_at: k.created_at.toISOString(), last_used_at: k.last_used_at?.toISOString() ?? null };
}

export function checkPassword(password: string, username: string): void {
  const problems: string[] = [];
  if (password.length < 10) problems.push('at least 10 characters');
  if (new Set(password).size < 5) problems.push('at least 5 different characters');
  if (password.toLowerCase().includes(username.toLowerCase())) problems.push('must not contain the username');
  if (problems.length) throw new ValidationError('WEAK_PASSWORD', `password too weak: ${problems.join('; ')}`, { problems });
}

export class AccountsService {
  private readonly jwtKey: cred.JwtKey;
  /** External identities and bot principals. */
  readonly bots: BotsService;
  /** Authenticated principals reused across requests; see principal-cache.ts for why it stays correct. */
  readonly principals: PrincipalCache;
  constructor(private readonly deps: AccountsDeps) {
    this.jwtKey = cred.jwtKey(deriveKey(deps.secret, 'jwt'));
    this.principals = new PrincipalCache({ db: deps.db, ttlMs: deps.principalCache?.ttlMs ?? 0, maxEntries: deps.principalCache?.maxEntries ?? 0 });
    this.bots = new BotsService({ db: deps.db, ...(deps.onSignup ? { onSignup: deps.onSignup } : {}) });
  }

  async signup(input: SignupInput, opts: { role?: Role; bypassPolicy?: boolean } = {}): Promise<PublicUser> {
    if (this.deps.signupPolicy === 'closed' && !opts.bypassPolicy)
      throw new ForbiddenError('SIGNUP_CLOSED', 'Signup is closed on this server; ask an admin for an account');
    const username = input.username.trim();
    const email = input.email.trim();
    if (!USERNAME.test(username))
      throw new ValidationError('INVALID_USERNAME', 'username: 3-32 letters, digits, "_", "." or "-", starting with a letter or digit');
    if (!EMAIL.test(email)) throw new ValidationError('INVALID_EMAIL', 'email is not a valid address');
    checkPassword(input.password, username);
    const taken = await q.usernameOrEmailTaken(this.deps.db, username, email);
    if (taken.username) throw new ValidationError('USERNAME_TAKEN', 'username is already taken');
    if (taken.email) throw new ValidationError('EMAIL_TAKEN', 'email is already registered');
    const password_hash = await cred.hashPassword(input.password);
    try {
      const row = await this.deps.db.transaction(async (tx) => {
        const u = await q.insertUser(tx, { id: newId('usr'), username, email, password_hash, role: opts.role ?? 'user' });
        await this.deps.onSignup?.(tx, u.id);
        return u;
      });
      return publicUser(row);
    } catch (err) {
      // Two signups racing past the check above: the unique index decides.
      if (isUniqueViolation(err, 'users_username_key')) throw new ValidationError('USERNAME_TAKEN', 'username is already taken');
      if (isUniqueViolation(err, 'users_email_key')) throw new ValidationError('EMAIL_TAKEN', 'email is already registered');
      throw err;
    }
  }

  /**
   * Failures are throttled per account and per client address, in the database so every API
   * process shares the count. The account is the one the login resolves to, so "carol",
   * "CAROL" and "carol@example.com" share one count and one lock; a name that is no account is
   * counted by its spelling (lower-cased), which behaves the same from outside. A locked key
   * answers 429 without even checking the password.
   */
  async login(login: string, password: string, clientIp: string): Promise<{ access_token: string; token_type: 'bearer'; expires_in: number }> {
    const ipKey = `ip:${clientAddress(clientIp)}`;
    await this.refuseIfLocked(ipKey);
    const user = await q.userByLogin(this.deps.db, login.trim());
    const accountKey = user ? `account:${user.id}` : `user:${login.trim().toLowerCase()}`;
    await this.refuseIfLocked(accountKey);
    const ok = await cred.verifyPassword(user?.password_hash ?? cred.DUMMY_HASH, password);
    // A service account has no password (its hash verifies nothing): it never logs in.
    if (!user || !ok || user.disabled_at || user.service_account) {
      // An address can front many people (an office NAT), so it gets ten times the allowance.
      await q.recordLoginFailure(this.deps.db, accountKey, this.deps.login.maxFailures, this.deps.login.lockSeconds);
      await q.recordLoginFailure(this.deps.db, ipKey, this.deps.login.maxFailures * 10, this.deps.login.lockSeconds);
      throw new UnauthorizedError('INVALID_CREDENTIALS', 'Wrong username or password');
    }
    await q.clearLoginFailures(this.deps.db, accountKey);
    const access_token = await cred.signAccessToken(this.jwtKey, user.id, this.deps.jwtTtlSeconds);
    return { access_token, token_type: 'bearer', expires_in: this.deps.jwtTtlSeconds };
  }

  private async refuseIfLocked(key: string): Promise<void> {
    const wait = await q.lockedFor(this.deps.db, key);
    if (wait > 0) throw new TooManyRequestsError('TOO_MANY_LOGIN_ATTEMPTS', `Too many failed logins; try again in ${wait} s`, wait);
  }

  /**
   * Resolves a bearer token (JWT or API key) to a principal, reading the role fresh. With
   * `onBehalfOf` (the X-On-Behalf-Of header) the token must be a bot's, and the principal is
   * the user of that external id at the bot's provider (created on first sight).
   */
  async authenticate(token: string, onBehalfOf?: string): Promise<Principal> {
    const p = await this.authenticateToken(token);
    if (onBehalfOf === undefined) return p;
    if (p.role !== 'bot') throw new ForbiddenError('NOT_A_BOT', 'only a bot’s API key may act on behalf of a user (X-On-Behalf-Of)');
    return this.bots.actFor(p, onBehalfOf);
  }

  private async authenticateToken(token: string): Promise<Principal> {
    const hit = this.principals.get(token);
    if (hit) {
      if (hit.p.keyId && Date.now() - hit.touchedAt > TOUCH_INTERVAL_MS) {
        hit.touchedAt = Date.now();
        await q.touchApiKey(this.deps.db, hit.p.keyId);
      }
      return hit.p;
    }
    const gen = this.principals.begin();
    if (cred.isApiKey(token)) {
      const row = await q.apiKeyUser(this.deps.db, cred.hashApiKey(token));
      if (!row || row.disabled_at) throw new UnauthorizedError('INVALID_API_KEY', 'API key is invalid or revoked');
      let touchedAt = row.key_last_used_at?.getTime() ?? 0;
      if (Date.now() - touchedAt > TOUCH_INTERVAL_MS) {
        await q.touchApiKey(this.deps.db, row.key_id);
        touchedAt = Date.now();
      }
      const p: Principal = { userId: row.id, username: row.username, role: row.role, via: 'api_key', keyId: row.key_id };
      this.principals.set(token, p, gen, Infinity, touchedAt);
      return p;
    }
    const claims = await cred.verifyAccessToken(this.jwtKey, token, this.deps.jwtTtlSeconds);
    const user = claims ? await q.userById(this.deps.db, claims.sub) : null;
    if (!user || user.disabled_at) throw new UnauthorizedError('INVALID_TOKEN', 'Access token is invalid or expired');
    const p: Principal = { userId: user.id, username: user.username, role: user.role, via: 'jwt' };
    this.principals.set(token, p, gen, claims!.notAfterMs);
    return p;
  }

  async me(userId: string): Promise<PublicUser> {
    const u = await q.userById(this.deps.db, userId);
    if (!u) throw new NotFoundError('user', userId);
    return publicUser(u);
  }

  /**
   * Only a login session mints keys: a key minted by a key would outlive its parent's
   * revocation, so a leaked key could make itself permanent.
   */
  async createApiKey(by: Pick<Principal, 'userId' | 'via'>, name: string): Promise<PublicApiKey & { secret: string }> {
    if (by.via !== 'jwt')
      throw new ForbiddenError('SESSION_REQUIRED', 'API keys are created from a login session (a token from /v1/auth/login), not with an API key');
    const userId = by.userId;
    const existing = await q.listApiKeys(this.deps.db, userId);
    if (existing.length >= 50) throw new ConflictError('API_KEY_LIMIT', 'At most 50 active API keys; revoke one first');
    const { secret, prefix } = cred.newApiKeySecret();
    const row = await q.insertApiKey(this.deps.db, { id: newId('key'), user_id: userId, name: name.trim(), prefix, secret_hash: cred.hashApiKey(secret) });
    return { ...publicKey(row), secret };
  }

  async listApiKeys(userId: string): Promise<PublicApiKey[]> {
    return (await q.listApiKeys(this.deps.db, userId)).map(publicKey);
  }

  async revokeApiKey(userId: string, keyId: string): Promise<void> {
    const revoked = await this.principals.change(
      `k:${keyId}`,
      () => q.revokeApiKey(this.deps.db, userId, keyId),
      (ok) => ok,
    );
    if (!revoked) throw new NotFoundError('api key', keyId);
  }

  /** By id or username, for admin actions. */
  async find(idOrUsername: string): Promise<PublicUser | null> {
    const u = (await q.userById(this.deps.db, idOrUsername)) ?? (await q.userByLogin(this.deps.db, idOrUsername));
    return u ? publicUser(u) : null;
  }

  async listUsers(limit: number, cursor?: string) {
    return toPage(await q.listUsers(this.deps.db, limit, decodeCursor(cursor)), limit, adminUser);
  }

  /**
   * An admin promotes or demotes an account (user ↔ admin) or disables or enables it. The
   * change empties this process's principal cache before this returns and every other API
   * process's as their NOTIFY arrives (milliseconds): a disabled account's tokens and keys answer 401.
   * An admin never demotes or disables themself (so some admin always remains); a bot's role
   * is what makes it a bot, and a service account, which no person logs in to, is never an admin.
   */
  async updateUser(by: Pick<Principal, 'userId' | 'role'>, idOrUsername: string, patch: { role?: 'user' | 'admin'; disabled?: boolean }): Promise<AdminUser> {
    if (by.role !== 'admin') throw new ForbiddenError('ADMIN_ONLY', 'Only admins change accounts');
    const u = (await q.userById(this.deps.db, idOrUsername)) ?? (await q.userByLogin(this.deps.db, idOrUsername));
    if (!u) throw new NotFoundError('user', idOrUsername);
    if (u.id === by.userId && ((patch.role !== undefined && patch.role !== u.role) || patch.disabled === true))
      throw new ConflictError('CANNOT_CHANGE_SELF', 'An admin cannot demote or disable their own account; ask another admin');
    if (patch.role !== undefined && patch.role !== u.role) {
      if (u.role === 'bot') throw new ConflictError('ROLE_NOT_ALLOWED', `${u.username} is a bot: its role stays bot (disable it instead)`);
      if (u.service_account && patch.role === 'admin')
        throw new ConflictError('ROLE_NOT_ALLOWED', `${u.username} is a service account: it cannot be an admin (only people log in)`);
    }
    const row = await this.principals.change(
      `u:${u.id}`,
      () => q.updateUser(this.deps.db, u.id, patch),
      (r) => r !== null && (r.role !== u.role || (r.disabled_at === null) !== (u.disabled_at === null)),
    );
    if (!row) throw new NotFoundError('user', idOrUsername);
    return adminUser(row);
  }

  /**
   * The first admin: from TRAINYARD_ADMIN_* at start-up or `trainyard admin create`. An
   * existing user of that name is promoted and its password reset to the given one.
   */
  async ensureAdmin(a: { username: string; password: string; email: string }): Promise<{ user: PublicUser; created: boolean }> {
    const existing = await q.userByLogin(this.deps.db, a.username);
    if (existing && existing.username.toLowerCase() === a.username.toLowerCase()) {
      if (existing.service_account) throw new AppError('SERVICE_ACCOUNT', `admin bootstrap: ${a.username} is a service account, which cannot log in`);
      checkPassword(a.password, a.username);
      if (existing.role !== 'admin') await q.setRole(this.deps.db, existing.id, 'admin');
      if (!(await cred.verifyPassword(existing.password_hash, a.password))) await q.setPassword(this.deps.db, existing.id, await cred.hashPassword(a.password));
      return { user: publicUser({ ...existing, role: 'admin' }), created: false };
    }
    try {
      return { user: await this.signup(a, { role: 'admin', bypassPolicy: true }), created: true };
    } catch (err) {
      if (err instanceof AppError) throw new AppError(err.code, `admin bootstrap: ${err.message}`, { cause: err });
      throw err;
    }
  }

  // Service accounts -------------------------------------------------------------------------
  // A principal for software rather than a person (a compatibility facade, a CI pipeline): no
  // password, no login, role user. An admin creates it and its API keys; it owns and pays for
  // its jobs like any account, and admins grant it credits with POST /v1/admin/credits/grants.

  /** Creates a service account (admins); the name follows the username rules and must be free. */
  async createServiceAccount(username: string): Promise<PublicUser> {
    const name = username.trim();
    if (!USERNAME.test(name)) throw new ValidationError('INVALID_USERNAME', 'username: 3-32 letters, digits, "_", "." or "-", starting with a letter or digit');
    const taken = await q.usernameOrEmailTaken(this.deps.db, name, '');
    if (taken.username) throw new ValidationError('USERNAME_TAKEN', 'username is already taken');
    const id = newId('usr');
    try {
      // The hash "!" verifies no password; the address is under a reserved TLD and the id
      // makes it unique, so no person's signup can squat it.
      return publicUser(
        await q.insertUser(this.deps.db, {
          id,
          username: name,
          email: `${id}@service-accounts.invalid`,
          password_hash: '!',
          role: 'user',
          service_account: true,
        }),
      );
    } catch (err) {
      if (isUniqueViolation(err, 'users_username_key')) throw new ValidationError('USERNAME_TAKEN', 'username is already taken');
      throw err;
    }
  }

  /**
   * The service account of this name, created when missing (a facade's own account, at start).
   * A person's account of that name is never taken over.
   */
  async ensureServiceAccount(username: string): Promise<PublicUser & { created: boolean }> {
    const find = async () => {
      const u = await q.userByLogin(this.deps.db, username);
      if (!u || u.username.toLowerCase() !== username.toLowerCase()) return null;
      if (!u.service_account) throw new ConflictError('NOT_A_SERVICE_ACCOUNT', `${username} is a person's account, not a service account`);
      return publicUser(u);
    };
    const existing = await find();
    if (existing) return { ...existing, created: false };
    try {
      return { ...(await this.createServiceAccount(username)), created: true };
    } catch (err) {
      // Two processes ensuring it at once: the other one created it.
      const now = err instanceof AppError && err.code === 'USERNAME_TAKEN' ? await find() : null;
      if (now) return { ...now, created: false };
      throw err;
    }
  }

  async listServiceAccounts(): Promise<PublicUser[]> {
    return (await q.listServiceAccounts(this.deps.db, 1000)).map(publicUser);
  }

  /** By id or username; a person's account is not one (404, like an unknown one). */
  private async serviceAccount(idOrUsername: string): Promise<q.UserRow> {
    const u = (await q.userById(this.deps.db, idOrUsername)) ?? (await q.userByLogin(this.deps.db, idOrUsername));
    if (!u || !u.service_account) throw new NotFoundError('service account', idOrUsername);
    return u;
  }

  /**
   * An admin mints a key for a service account, which has no session of its own. Like a
   * user's own keys, only from a login session: a leaked key must not mint keys that outlive it.
   */
  async createServiceAccountKey(by: Pick<Principal, 'role' | 'via'>, account: string, name: string): Promise<PublicApiKey & { secret: string }> {
    if (by.role !== 'admin') throw new ForbiddenError('ADMIN_ONLY', 'Only admins create keys for service accounts');
    const u = await this.serviceAccount(account);
    return this.createApiKey({ userId: u.id, via: by.via }, name);
  }

  async listServiceAccountKeys(account: string): Promise<PublicApiKey[]> {
    return this.listApiKeys((await this.serviceAccount(account)).id);
  }

  async revokeServiceAccountKey(account: string, keyId: string): Promise<void> {
    return this.revokeApiKey((await this.serviceAccount(account)).id, keyId);
  }
}
