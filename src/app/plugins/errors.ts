import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { redactServerPaths, redactServerPathsDeep } from '../../redact.js';

interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

function body(code: string, message: string, details?: unknown): ErrorBody {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

/** Error text for anyone but an admin carries no server paths (issue #10); the log keeps it whole. */
function forCaller(req: FastifyRequest, code: string, message: string, details?: unknown): ErrorBody {
  if (req.principal?.role === 'admin') return body(code, message, details);
  return body(code, redactServerPaths(message), details === undefined ? undefined : redactServerPathsDeep(details));
}

// Fastify's own codes, translated into ours so clients see one vocabulary.
const FASTIFY_CODES: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'PAYLOAD_TOO_LARGE'],
  FST_REQ_FILE_TOO_LARGE: [413, 'FILE_TOO_LARGE'],
  FST_FILES_LIMIT: [413, 'TOO_MANY_FILES'],
  FST_PARTS_LIMIT: [413, 'TOO_MANY_PARTS'],
  FST_INVALID_MULTIPART_CONTENT_TYPE: [415, 'MULTIPART_REQUIRED'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'INVALID_JSON'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'INVALID_CONTENT_LENGTH'],
};

/**
 * Errors the router raises before any route or hook runs (a path param longer than the router
 * takes, a URL that does not decode), answered in the same envelope as every other error
 * rather than Fastify's own shape (a facade's routes: in the facade's, src/compat/envelope.ts).
 */
export function describeFrameworkError(err: FastifyError): { status: number; code: string; message: string } {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH')
    return { status: 414, code: 'URI_TOO_LONG', message: 'a path segment of this URL is longer than the server accepts' };
  if (err.code === 'FST_ERR_BAD_URL') return { status: 400, code: 'BAD_URL', message: 'the URL path is not validly percent-encoded' };
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  return { status, code: 'BAD_REQUEST', message: err.message };
}

/** Passed to Fastify as `frameworkErrors`. */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const e = describeFrameworkError(err);
  reply.status(e.status).send(body(e.code, e.message));
}

/** Any error a route, hook or Fastify itself raises, as the status, code and message we answer with. */
export interface DescribedError {
  status: number;
  code: string;
  message: string;
  details?: unknown;
  /** Headers the answer carries (Retry-After on a 429). */
  headers: Record<string, string>;
}

/**
 * The one translation from a thrown error to what the caller is told, shared by /v1 and every
 * compatibility facade (src/compat), which wrap it in their own envelope. Logs what is the
 * server's fault; messages for anyone but an admin carry no server paths.
 */
export function describeError(err: FastifyError & { cause?: unknown }, req: FastifyRequest): DescribedError {
  const headers: Record<string, string> = {};
  const out = (status: number, b: ErrorBody): DescribedError => ({ status, ...b.error, headers });
  if (err instanceof AppError) {
    if (err.status >= 500) req.log.error({ err }, err.message);
    if (err.status === 429 && err.details && typeof err.details === 'object' && 'retry_after_seconds' in err.details) {
      headers['retry-after'] = String((err.details as { retry_after_seconds: number }).retry_after_seconds);
    }
    return out(err.status, forCaller(req, err.code, err.message, err.details));
  }
  if (err.validation) {
    const details = err.validation.map((v) => ({
      path: `${err.validationContext ?? 'body'}${v.instancePath ? v.instancePath.replace(/\//g, '.') : ''}`,
      message: v.message ?? 'invalid',
      ...(v.keyword === 'additionalProperties' ? { property: (v.params as { additionalProperty?: string }).additionalProperty } : {}),
    }));
    const first = details[0];
    const msg = first ? `${first.path}: ${first.message}${first.property ? ` (${first.property})` : ''}` : 'request is invalid';
    return out(400, body('VALIDATION_ERROR', msg, details));
  }
  const known = err.code ? FASTIFY_CODES[err.code] : undefined;
  if (known) return out(known[0], body(known[1], err.message));
  if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return out(400, body('INVALID_JSON', 'request body is not valid JSON'));
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return out(err.statusCode, forCaller(req, err.code ?? 'BAD_REQUEST', err.message));
  req.log.error({ err }, 'unhandled error');
  return out(500, body('INTERNAL', 'internal error; the request id in x-request-id helps the operator find it'));
}

export function registerErrorHandling(
  app: FastifyInstance,
  opts: { notFound?: boolean; fallback?: ((req: FastifyRequest, reply: FastifyReply) => boolean) | null } = {},
): void {
  app.setErrorHandler((err: FastifyError & { cause?: unknown }, req, reply) => {
    const { status, headers, ...rest } = describeError(err, req);
    return reply.status(status).headers(headers).send({ error: rest });
  });

  if (opts.notFound === false) return;
  const fallback = opts.fallback;
  app.setNotFoundHandler((req, reply) => {
    // The dashboard (src/app/routes/dashboard.ts) answers what no route does, when it is one of its paths.
    if (fallback?.(req, reply)) return;
    reply.status(404).send(body('ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
  });
}
