import type { FastifyInstance } from 'fastify';
import type { AccountsService } from '../../domain/accounts/service.js';
import { ForbiddenError, UnauthorizedError } from '../../errors.js';

/**
 * Every route is authenticated unless its config says `auth: 'public'`. Bearer tokens are
 * either JWTs from /v1/auth/login or API keys (ty_…); both resolve to a principal whose role
 * is read from the database on each request, so a demotion takes effect at once.
 */
export function registerAuth(app: FastifyInstance, accounts: AccountsService): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req) => {
    const level = req.routeOptions.config.auth ?? 'user';
    // Unknown routes fall through to the 404 handler rather than answering 401.
    if (level === 'public' || req.routeOptions.url === undefined) return;
    const header = req.headers.authorization;
    if (!header) throw new UnauthorizedError('UNAUTHORIZED', 'Authorization: Bearer <token or API key> is required');
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new UnauthorizedError('UNAUTHORIZED', 'Authorization header must be "Bearer <token>"');
    req.principal = await accounts.authenticate(m[1]!);
    if (level === 'admin' && req.principal.role !== 'admin') throw new ForbiddenError('ADMIN_ONLY', 'This endpoint is for admins');
  });
}
