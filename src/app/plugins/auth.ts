import type { FastifyInstance } from 'fastify';
import type { AccountsService } from '../../domain/accounts/service.js';
import type { AttemptTokens } from '../../domain/attempts/token.js';
import { ForbiddenError, UnauthorizedError, ValidationError } from '../../errors.js';

/** A bot's request names the user it acts for here: their id at the bot's provider. */
export const ON_BEHALF_OF_HEADER = 'x-on-behalf-of';

/**
 * Every route is authenticated unless its config says `auth: 'public'`. Bearer tokens are
 * either JWTs from /v1/auth/login or API keys (ty_…); both resolve to a principal whose role
 * is read from the database on each request, so a demotion takes effect at once.
 *
 * A bot's key with X-On-Behalf-Of is its user (the principal keeps the bot as `actor`, and the
 * request's log lines name both); any other key with the header is refused. A bot without the
 * header may call only the routes that say `bot: true` (its own /v1/me).
 *
 * Routes that say `auth: 'attempt'` (/v1/jobs/:job_id/attempts/:attempt/…) take only an attempt
 * token, never a user's credentials: the token names one job attempt, and the URL must name the
 * same one (403 ATTEMPT_MISMATCH), so a launcher can reach nothing but its own attempt.
 */
export function registerAuth(app: FastifyInstance, accounts: AccountsService, attemptTokens: Pick<AttemptTokens, 'verify'>): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('attempt', null);
  app.addHook('onRequest', async (req, reply) => {
    const config = req.routeOptions.config;
    const level = config.auth ?? 'user';
    // Unknown routes fall through to the 404 handler rather than answering 401.
    if (level === 'public' || req.routeOptions.url === undefined) return;
    const header = req.headers.authorization;
    if (!header) throw new UnauthorizedError('UNAUTHORIZED', 'Authorization: Bearer <token or API key> is required');
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new UnauthorizedError('UNAUTHORIZED', 'Authorization header must be "Bearer <token>"');
    if (level === 'attempt') {
      const fence = attemptTokens.verify(m[1]!);
      // Params are routed but not yet validated here: compared as the strings the URL holds.
      const params = req.params as { job_id?: string; attempt?: string };
      if (params.job_id !== fence.jobId || params.attempt !== String(fence.attempt))
        throw new ForbiddenError('ATTEMPT_MISMATCH', 'this attempt token is for another job attempt');
      req.attempt = fence;
      return;
    }
    const onBehalfOf = req.headers[ON_BEHALF_OF_HEADER];
    if (Array.isArray(onBehalfOf)) throw new ValidationError('INVALID_EXTERNAL_ID', 'X-On-Behalf-Of names one user');
    const p = await accounts.authenticate(m[1]!, onBehalfOf);
    req.principal = p;
    if (p.actor) {
      // Who did it, in every log line of this request: the user and the bot acting for them.
      req.log = req.log.child({ user_id: p.userId, via: 'bot', bot: p.actor.username });
      reply.log = req.log;
    }
    if (p.role === 'bot' && !config.bot)
      throw new ForbiddenError('BOT_NEEDS_USER', 'A bot acts for a user: name them in the X-On-Behalf-Of header (their id at the bot’s provider)');
    if (level === 'admin' && p.role !== 'admin') throw new ForbiddenError('ADMIN_ONLY', 'This endpoint is for admins');
  });
}
