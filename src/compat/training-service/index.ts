import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../../errors.js';
import type { Facade, FacadeError } from '../types.js';
import type { Ctx } from './context.js';
import { routes } from './routes.js';
import { errorEnvelope, errorRef } from './schemas.js';
import { readSettings } from './settings.js';

/**
 * The document never answers 402 or 409; their causes map onto what it does say. Running out
 * of credits and a trainer that is not installed are the service being unable to train now
 * (503); any other conflict is the request not fitting the current state (400). 401, 413, 415
 * and 429 keep their status: any HTTP client knows them (README, seed 002).
 */
export function mapStatus(e: FacadeError): number {
  if (e.status === 402) return 503;
  if (e.status === 409) return e.code === 'TRAINER_UNAVAILABLE' ? 503 : 400;
  if (e.status === 422) return 400;
  return e.status;
}

const digest = (v: string) => createHash('sha256').update(v).digest();

/** The key from X-API-Key or Authorization: Bearer, compared in constant time (over digests: equal lengths). */
function presentedKey(req: FastifyRequest): string | null {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header) return header;
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return m ? m[1]! : null;
}

/** Seed 002, the text-classifier training service, over Trainyard jobs as a service account. */
export const trainingService: Facade = {
  name: 'training-service',
  tag: { name: 'compat: training-service', description: 'The text-classifier training service (seed 002), served over Trainyard jobs' },
  schemas: [errorEnvelope],
  errorRef,
  envelope: (e) => ({
    status: mapStatus(e),
    body: {
      status: 'error',
      error: e.message,
      code: e.code,
      timestamp: new Date().toISOString(),
      ...(e.details === undefined ? {} : { details: e.details }),
    },
  }),
  async plugin(app, s) {
    const settings = readSettings(s.config);
    await mkdir(settings.dataRoot, { recursive: true });
    const account = await s.accounts.ensureServiceAccount(settings.account);
    const ctx: Ctx = { s, settings, account: { id: account.id, username: account.username } };
    const principal = { userId: account.id, username: account.username, role: 'user' as const, via: 'api_key' as const };
    const expected = settings.apiKey ? digest(settings.apiKey) : null;

    // The document has no authentication: every request acts as the service account (which
    // owns and pays for the jobs, and is what rate limits count), once the operator's key, if
    // set, is shown. Routes are 'public' to the global auth hook; this hook is their auth.
    app.addHook('onRequest', async (req) => {
      if (expected) {
        const key = presentedKey(req);
        if (!key || !timingSafeEqual(digest(key), expected))
          throw new UnauthorizedError('UNAUTHORIZED', 'this training service needs its API key: X-API-Key: <key> or Authorization: Bearer <key>');
      }
      req.principal = principal;
    });
    app.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), auth: 'public' } as typeof route.config;
    });
    routes(app, ctx);
  },
};
