import type { Principal } from '../domain/accounts/service.js';
import type { Fence } from '../domain/jobs/types.js';

/** 'attempt': a remote launcher's attempt token (src/domain/attempts/token.ts), never a user's credentials. */
export type AuthLevel = 'public' | 'user' | 'admin' | 'attempt';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** The claim an attempt token names, on routes with auth 'attempt' (checked against the URL). */
    attempt: Fence | null;
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

/** The claim of an attempt-token request; only call from routes whose auth is 'attempt'. */
export function attemptOf(req: { attempt: Fence | null }): Fence {
  if (!req.attempt) throw new Error("route is not declared auth: 'attempt'");
  return req.attempt;
}

/** The authenticated caller; only call from routes whose auth is not 'public'. */
export function caller(req: { principal: Principal | null }): Principal {
  if (!req.principal) throw new Error('route declared public but needs a caller');
  return req.principal;
}
