import type { Principal } from '../domain/accounts/service.js';

export type AuthLevel = 'public' | 'user' | 'admin';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Who may call the route; routes are 'user' unless they say otherwise (secure by default). */
    auth?: AuthLevel;
    /** The $ref of the error envelope the route answers in: a compatibility facade's own (src/compat), else /v1's Error#. */
    errorRef?: string;
    /** A bot may call the route as itself, without X-On-Behalf-Of (else 403 BOT_NEEDS_USER). */
    bot?: boolean;
  }
}

/** The authenticated caller; only call from routes whose auth is not 'public'. */
export function caller(req: { principal: Principal | null }): Principal {
  if (!req.principal) throw new Error('route declared public but needs a caller');
  return req.principal;
}
