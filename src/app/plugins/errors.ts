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
 * rather than Fastify's own shape. Passed to Fastify as `frameworkErrors`.
 */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    reply.status(414).send(body('URI_TOO_LONG', 'a path segment of this URL is longer than the server accepts'));
    return;
  }
  if (err.code === 'FST_ERR_BAD_URL') {
    reply.status(400).send(body('BAD_URL', 'the URL path is not validly percent-encoded'));
    return;
  }
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  reply.status(status).send(body('BAD_REQUEST', err.message));
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError & { cause?: unknown }, req, reply) => {
    if (err instanceof AppError) {
      if (err.status >= 500) req.log.error({ err }, err.message);
      if (err.status === 429 && err.details && typeof err.details === 'object' && 'retry_after_seconds' in err.details) {
        reply.header('retry-after', String((err.details as { retry_after_seconds: number }).retry_after_seconds));
      }
      return reply.status(err.status).send(forCaller(req, err.code, err.message, err.details));
    }
    if (err.validation) {
      const details = err.validation.map((v) => ({
        path: `${err.validationContext ?? 'body'}${v.instancePath ? v.instancePath.replace(/\//g, '.') : ''}`,
        message: v.message ?? 'invalid',
        ...(v.keyword === 'additionalProperties' ? { property: (v.params as { additionalProperty?: string }).additionalProperty } : {}),
      }));
      const first = details[0];
      const msg = first ? `${first.path}: ${first.message}${first.property ? ` (${first.property})` : ''}` : 'request is invalid';
      return reply.status(400).send(body('VALIDATION_ERROR', msg, details));
    }
    const known = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (known) return reply.status(known[0]).send(body(known[1], err.message));
    if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY')
      return reply.status(400).send(body('INVALID_JSON', 'request body is not valid JSON'));
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(err.statusCode).send(forCaller(req, err.code ?? 'BAD_REQUEST', err.message));
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send(body('INTERNAL', 'internal error; the request id in x-request-id helps the operator find it'));
  });

  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(body('ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
  });
}
