import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { describeError, describeFrameworkError, frameworkErrors } from '../app/plugins/errors.js';
import type { Facade } from './types.js';

export type { FacadeError } from './types.js';

/**
 * Answers every error of a facade's routes, and every unknown path under it, in the document's
 * own envelope. The translation from a thrown error to status, code and message is /v1's
 * (describeError): a facade only chooses the shape, so both APIs agree on what went wrong.
 */
export function useEnvelope(app: FastifyInstance, f: Pick<Facade, 'envelope'>): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { headers, ...e } = describeError(err, req);
    const out = f.envelope(e, req);
    return reply
      .status(out.status ?? e.status)
      .headers(headers)
      .send(out.body);
  });
  app.setNotFoundHandler((req, reply) => {
    const e = { status: 404, code: 'ROUTE_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` };
    const out = f.envelope(e, req);
    return reply.status(out.status ?? 404).send(out.body);
  });
}

/**
 * The router's own errors (a path segment too long: 414; a URL that does not decode: 400) come
 * before any route is found, so no route's error handler sees them: `pick` names the facade
 * whose paths the URL is under (by its /compat/<name> prefix, or the one facade of its own
 * port), and the answer is in that facade's envelope, as its OpenAPI entries say; else /v1's.
 */
export function facadeFrameworkErrors(pick: (url: string) => Facade | null) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply): void => {
    const f = pick(req.url);
    if (!f) return frameworkErrors(err, req, reply);
    const e = describeFrameworkError(err);
    const out = f.envelope(e, req);
    reply.status(out.status ?? e.status).send(out.body);
  };
}
