/**
 * External identities and bot principals (issue #12).
 *
 * An identity `(provider, external_id)` names one account: a Telegram user, say. A bot is a
 * service account of role `bot` for one provider; with its API key and `X-On-Behalf-Of:
 * <external_id>` a request is authenticated as the account of that identity (created on first
 * sight), and the principal remembers the bot as its actor. Without the header a bot is only
 * itself, which may do almost nothing (see the auth plugin).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db, Queryable } from '../../db/db.js';
import { ConflictError, ForbiddenError, isUniqueViolation, NotFoundError, ValidationError } from '../../errors.js';
import { newId } from '../../ids.js';
import * as cred from './credentials.js';
import * as q from './queries.js';
import { EXTERNAL_ID_PATTERN, PROVIDER_PATTERN } from './schema.js';
import type { Principal, PublicApiKey } from './service.js';

export interface PublicBot {
  id: string;
  username: string;
  provider: string;
  signup_grant: boolean;
  created_at: string;
}
export interface PublicIdentity {
  provider: string;
  external_id: string;
  user_id: string;
  created_at: string;
}

export interface BotsDeps {
  db: Db;
  /** The signup credit grant; a bot's first-sight accounts get it when the bot says so. */
  onSignup?: (tx: Queryable, userId: string) => Promise<void>;
}

const USERNAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{2,31}$/;
const PROVIDER = new RegExp(PROVIDER_PATTERN);
const EXTERNAL_ID = new RegExp(EXTERNAL_ID_PATTERN);

const publicBot = (b: q.BotRow): PublicBot => ({
  id: b.user_id,
  username: b.username,
  provider: b.provider,
  signup_grant: b.signup_grant,
  created_at: b.created_at.toISOString(),
});
const publicIdentity = (i: q.IdentityRow): PublicIdentity => ({
  provider: i.provider,
  external_id: i.external_id,
  user_id: i.user_id,
  created_at: i.created_at.toISOString(),
});

export function checkExternalId(externalId: string): void {
  if (!EXTERNAL_ID.test(externalId)) throw new ValidationError('INVALID_EXTERNAL_ID', 'an external id is 1-128 printable ASCII characters without spaces');
}

function checkProvider(provider: string): void {
  if (!PROVIDER.test(provider)) throw new ValidationError('INVALID_PROVIDER', 'provider: 2-16 lower-case letters, digits or "-", starting with a letter');
}

export class BotsService {
  constructor(private readonly d: BotsDeps) {}

  /**
   * A bot account (role `bot`, a service account: no password, no login) and its first API
   * key, in one transaction. Like every key an admin mints, only from a login session.
   */
  async create(
    by: Pick<Principal, 'userId' | 'role' | 'via'>,
    input: { provider: string; name: string; signup_grant?: boolean | undefined },
  ): Promise<{ bot: PublicBot; api_key: PublicApiKey & { secret: string } }> {
    if (by.role !== 'admin') throw new ForbiddenError('ADMIN_ONLY', 'Only admins create bots');
    if (by.via !== 'jwt')
      throw new ForbiddenError('SESSION_REQUIRED', 'A bot and its key are created from a login session (a token from /v1/auth/login), not with an API key');
    checkProvider(input.provider);
    const name = input.name.trim();
    if (!USERNAME.test(name)) throw new ValidationError('INVALID_USERNAME', 'name: 3-32 letters, digits, "_", "." or "-", starting with a letter or digit');
    if ((await q.usernameOrEmailTaken(this.d.db, name, '')).username) throw new ValidationError('USERNAME_TAKEN', 'username is already taken');
    const id = newId('usr');
    const { secret, prefix } = cred.newApiKeySecret();
    try {
      return await this.d.db.transaction(async (tx) => {
        await q.insertUser(tx, { id, username: name, email: `${id}@bots.invalid`, password_hash: '!', role: 'bot', service_account: true });
        await q.insertBot(tx, { user_id: id, provider: input.provider, signup_grant: input.signup_grant ?? true, created_by: by.userId });
        const k = await q.insertApiKey(tx, { id: newId('key'), user_id: id, name: `${name} bot key`, prefix, secret_hash: cred.hashApiKey(secret) });
        const bot = (await q.botByUser(tx, id))!;
        return {
          bot: publicBot(bot),
          api_key: { id: k.id, name: k.name, prefix: k.prefix, created_at: k.created_at.toISOString(), last_used_at: null, secret },
        };
      });
    } catch (err) {
      if (isUniqueViolation(err, 'users_username_key')) throw new ValidationError('USERNAME_TAKEN', 'username is already taken');
      throw err;
    }
  }

  async list(): Promise<PublicBot[]> {
    return (await q.listBots(this.d.db, 1000)).map(publicBot);
  }

  private async bot(idOrUsername: string): Promise<q.BotRow> {
    const u = (await q.userById(this.d.db, idOrUsername)) ?? (await q.userByLogin(this.d.db, idOrUsername));
    const b = u ? await q.botByUser(this.d.db, u.id) : null;
    if (!b) throw new NotFoundError('bot', idOrUsername);
    return b;
  }

  async setSignupGrant(idOrUsername: string, grant: boolean): Promise<PublicBot> {
    const b = await this.bot(idOrUsername);
    await q.setBotSignupGrant(this.d.db, b.user_id, grant);
    return publicBot({ ...b, signup_grant: grant });
  }

  // Identities ---------------------------------------------------------------------------------

  async identities(userId: string): Promise<PublicIdentity[]> {
    return (await q.identitiesOf(this.d.db, userId)).map(publicIdentity);
  }

  /** Links an identity to an account (admins); one that names any account already is a conflict. */
  async addIdentity(userId: string, provider: string, externalId: string, by: string): Promise<PublicIdentity> {
    checkProvider(provider);
    checkExternalId(externalId);
    try {
      return publicIdentity(await q.insertIdentity(this.d.db, { provider, external_id: externalId, user_id: userId, created_by: by }));
    } catch (err) {
      if (isUniqueViolation(err, 'identities_pkey')) {
        const owner = await q.identity(this.d.db, provider, externalId);
        throw new ConflictError('IDENTITY_TAKEN', `${provider} identity ${externalId} is already linked to an account`, { user_id: owner?.user_id ?? null });
      }
      throw err;
    }
  }

  async removeIdentity(userId: string, provider: string, externalId: string): Promise<void> {
    if (!(await q.deleteIdentity(this.d.db, userId, provider, externalId))) throw new NotFoundError('identity', `${provider}:${externalId}`);
  }

  // Acting for a user --------------------------------------------------------------------------

  /**
   * The principal of the account that `externalId` names at the bot's provider, created on
   * first sight. A bot acts only for ordinary user accounts: never for an admin, another bot
   * or a service account, whatever identities an admin linked to them.
   */
  async actFor(bot: Principal, externalId: string): Promise<Principal> {
    checkExternalId(externalId);
    const b = await q.botByUser(this.d.db, bot.userId);
    if (!b) throw new ForbiddenError('NOT_A_BOT', 'this key belongs to no bot');
    const ident = await q.identity(this.d.db, b.provider, externalId);
    const user = (ident && (await q.userById(this.d.db, ident.user_id))) || (await this.firstSight(b, externalId));
    if (user.disabled_at) throw new ForbiddenError('ACCOUNT_DISABLED', 'the account of this identity is disabled');
    if (user.role !== 'user' || user.service_account)
      throw new ForbiddenError('ON_BEHALF_NOT_ALLOWED', 'a bot acts only for ordinary user accounts, not for admins, bots or service accounts');
    return {
      userId: user.id,
      username: user.username,
      role: 'user',
      via: 'bot',
      ...(bot.keyId ? { keyId: bot.keyId } : {}),
      actor: { userId: b.user_id, username: b.username, provider: b.provider },
    };
  }

  /**
   * A new account for an identity the bot has not seen: no password (it cannot log in), a
   * username derived from provider and id, the signup grant when the bot says so. Two requests
   * racing here: the identity's key decides, and the loser reads the winner's account.
   */
  private async firstSight(b: q.BotRow, externalId: string): Promise<q.UserRow> {
    const id = newId('usr');
    const username = await this.freeUsername(b.provider, externalId);
    try {
      return await this.d.db.transaction(async (tx) => {
        const u = await q.insertUser(tx, { id, username, email: `${id}@identities.invalid`, password_hash: '!', role: 'user' });
        await q.insertIdentity(tx, { provider: b.provider, external_id: externalId, user_id: id, created_by: b.user_id });
        if (b.signup_grant) await this.d.onSignup?.(tx, id);
        return u;
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const won = await q.identity(this.d.db, b.provider, externalId);
      const user = won && (await q.userById(this.d.db, won.user_id));
      if (user) return user;
      throw err;
    }
  }

  /** `telegram_12345` when that is a valid, free username; else the provider and a hash of the id. */
  private async freeUsername(provider: string, externalId: string): Promise<string> {
    const hashed = `${provider}_${createHash('sha256').update(externalId).digest('hex').slice(0, 12)}`;
    const candidates = [`${provider}_${externalId}`, hashed, `${provider}_${randomBytes(6).toString('hex')}`];
    for (const name of candidates) {
      if (USERNAME.test(name) && !(await q.usernameOrEmailTaken(this.d.db, name, '')).username) return name;
    }
    return candidates[2]!;
  }
}
