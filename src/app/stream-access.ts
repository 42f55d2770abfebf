import type { FastifyRequest } from 'fastify';
import type { AccountsService, Principal } from '../domain/accounts/service.js';
import type { AppError } from '../errors.js';
import { UnauthorizedError } from '../errors.js';
import type { StreamAccess } from '../events/slots.js';
import { ON_BEHALF_OF_HEADER } from './plugins/auth.js';
import { caller } from './types.js';

/** A stream's access, with the end it was given remembered until the stream can act on it. */
export interface LiveAccess extends StreamAccess {
  /** Where the stream ends itself once it is open; called at once if access was already lost. */
  onEnd(fn: (err: AppError) => void): void;
}

/** The credentials a request was authenticated with: what AccountsService.authenticate takes. */
export interface Credentials {
  token: string;
  onBehalfOf?: string;
}

/** /v1's credentials: the bearer token and X-On-Behalf-Of (plugins/auth.ts). */
export function bearerCredentials(req: FastifyRequest): Credentials {
  const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const onBehalfOf = req.headers[ON_BEHALF_OF_HEADER];
  return typeof onBehalfOf === 'string' ? { token, onBehalfOf } : { token };
}

/**
 * What a live stream (SSE, WebSocket) needs to be ended when its caller loses access while it
 * is open (StreamSlots.revalidate): the credentials the request was authenticated with (a
 * facade passes its own headers'), authenticated again, must still be the same user, and
 * `visible` must still hold for them (the job is still theirs, or they are still an admin).
 *
 * The credentials stay in this closure for the stream's life, as they do in the connection's
 * request; nothing else keeps them.
 */
export function streamAccess(
  req: FastifyRequest,
  creds: Credentials,
  accounts: Pick<AccountsService, 'authenticate'>,
  visible: (p: Principal) => Promise<unknown>,
): LiveAccess {
  const p = caller(req);
  let ended: AppError | null = null;
  let handler: ((err: AppError) => void) | null = null;
  return {
    userId: p.userId,
    ...(p.keyId ? { keyId: p.keyId } : {}),
    ...(p.actor ? { actorId: p.actor.userId } : {}),
    recheck: async () => {
      const now = await accounts.authenticate(creds.token, creds.onBehalfOf);
      if (now.userId !== p.userId) throw new UnauthorizedError('INVALID_TOKEN', 'these credentials now belong to another user');
      await visible(now);
    },
    end: (err) => {
      ended ??= err;
      handler?.(err);
    },
    onEnd: (fn) => {
      handler = fn;
      if (ended) fn(ended);
    },
  };
}

/** The WebSocket close code for a stream ended by `err`: 4000 + its HTTP status (4401, 4403, 4404). */
export const closeCodeFor = (err: AppError): number => 4000 + err.status;
