import type { FastifyInstance } from 'fastify';
import { AppError, UnauthorizedError } from '../../errors.js';
import type { Services } from '../../services.js';

/**
 * The document's authentication: `x-auth-token` is a bot's Trainyard API key and `x-user-id`
 * the user's id at the bot's provider (COMPAT_SELFI_PROVIDER, Telegram). The accounts service
 * turns the pair into that user's principal, creating the account on first sight; anything
 * else (a missing header, a key that is no bot's, a bot of another provider) is 401. The
 * routes are 'public' to the global auth hook: this hook is their auth.
 */
export function selfiAuth(app: FastifyInstance, s: Services, provider: string): void {
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config as object), auth: 'public' } as typeof route.config;
  });
  app.addHook('onRequest', async (req) => {
    const url = req.routeOptions.url;
    // Unknown paths fall through to the 404 answer.
    if (url === undefined) return;
    const token = req.headers['x-auth-token'];
    const userId = req.headers['x-user-id'];
    if (typeof token !== 'string' || !token || typeof userId !== 'string' || !userId)
      throw new UnauthorizedError('unauthorized', 'send x-user-id (the Telegram user id) and x-auth-token (the bot’s API key)');
    try {
      const p = await s.accounts.authenticate(token, userId);
      if (p.actor?.provider !== provider) throw new UnauthorizedError('unauthorized', `x-auth-token is not a ${provider} bot’s key`);
      req.principal = p;
      req.log = req.log.child({ user_id: p.userId, via: 'bot', bot: p.actor.username });
    } catch (err) {
      if (err instanceof AppError && err.status >= 500) throw err;
      if (err instanceof AppError && err.status === 429) throw err;
      // Every refusal of the credentials is the document's 401, with Trainyard's reason in details.
      if (err instanceof AppError && err.code !== 'unauthorized')
        throw new AppError('unauthorized', `x-user-id / x-auth-token refused: ${err.message}`, { status: 401, details: { reason: err.code } });
      throw err;
    }
  });
}
