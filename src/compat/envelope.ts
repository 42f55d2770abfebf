import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { describeError, type DescribedError } from '../app/plugins/errors.js';

/** What a facade's envelope is built from: the error as /v1 would describe it. */
export type FacadeError = Omit<DescribedError, 'headers'>;

/**
 * Answers every error of a facade's routes, and every unknown path under it, in the document's
 * own envelope. The translation from a thrown error to status, code and message is /v1's
 * (describeError): a facade only chooses the shape, so both APIs agree on what went wrong.
 * `status` lets a document that never answers some status map it to one it does.
 */
export function useEnvelope(app: FastifyInstance, shape: (e: FacadeError, req: FastifyRequest) => { status?: number; body: unknown }): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { headers, ...e } = describeError(err, req);
    const out = shape(e, req);
    return reply
      .status(out.status ?? e.status)
      .headers(headers)
      .send(out.body);
  });
  app.setNotFoundHandler((req, reply) => {
    const out = shape({ status: 404, code: 'ROUTE_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` }, req);
    return reply.status(out.status ?? 404).send(out.body);
  });
}
