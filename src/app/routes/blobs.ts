import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import { AppError, PayloadTooLargeError, UnauthorizedError } from '../../errors.js';
import type { Services } from '../../services.js';
import { BlobNotFoundError, BlobTooLargeError } from '../../storage/blob-store.js';
import { verify } from '../../storage/signing.js';
import { errorResponses } from '../schemas.js';

interface SignedQuery { method: 'GET' | 'PUT'; expires: number; signature: string; max_bytes?: number }

/**
 * The filesystem store's stand-in for S3 presigned URLs: the signature (HMAC over method,
 * key, expiry and size cap) is the only credential, so these routes skip bearer auth.
 */
export default async function blobRoutes(app: FastifyInstance, s: Services) {
  const querystring = {
    type: 'object',
    required: ['method', 'expires', 'signature'],
    additionalProperties: false,
    properties: { method: { type: 'string', enum: ['GET', 'PUT'] }, expires: { type: 'integer' }, signature: { type: 'string', maxLength: 100 }, max_bytes: { type: 'integer', minimum: 0 } },
  } as const;

  function authorize(method: 'GET' | 'PUT', key: string, q: SignedQuery) {
    if (q.method !== method) throw new UnauthorizedError('SIGNATURE_INVALID', `this URL is signed for ${q.method}, not ${method}`);
    const result = verify(s.blobSigningKey, { method, key, expires: q.expires, ...(q.max_bytes !== undefined ? { maxBytes: q.max_bytes } : {}) }, q.signature);
    if (result === 'expired') throw new AppError('SIGNATURE_EXPIRED', 'this signed URL has expired', { status: 403 });
    if (result !== 'ok') throw new UnauthorizedError('SIGNATURE_INVALID', 'the URL signature does not match');
  }

  app.get<{ Params: { '*': string }; Querystring: SignedQuery }>('/blobs/*', {
    config: { auth: 'public' },
    schema: { hide: true, querystring },
    handler: async (req, reply) => {
      const key = req.params['*'];
      authorize('GET', key, req.query);
      try {
        const stat = await s.store.stat(key);
        if (!stat) throw new BlobNotFoundError(key);
        reply.header('content-length', String(stat.bytes)).type('application/octet-stream');
        return reply.send(await s.store.get(key));
      } catch (err) {
        if (err instanceof BlobNotFoundError) throw new AppError('BLOB_NOT_FOUND', 'nothing stored at this URL', { status: 404 });
        throw err;
      }
    },
  });

  // Raw bodies of any type stream straight to the store; Fastify must not parse or buffer them.
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    raw.put<{ Params: { '*': string }; Querystring: SignedQuery }>('/blobs/*', {
      config: { auth: 'public' },
      schema: { hide: true, querystring, response: { 200: { type: 'object', properties: { bytes: { type: 'integer' }, sha256: { type: 'string' } } }, ...errorResponses(401, 403, 413) } },
      handler: async (req) => {
        const key = req.params['*'];
        authorize('PUT', key, req.query);
        const max = req.query.max_bytes ?? s.config.uploads.maxFileBytes;
        const declared = Number(req.headers['content-length'] ?? NaN);
        if (declared > max) throw new PayloadTooLargeError('FILE_TOO_LARGE', `this upload URL accepts at most ${max} bytes`, { max_bytes: max });
        try {
          return await s.store.put(key, (req.body as Readable | undefined) ?? req.raw, { maxBytes: max });
        } catch (err) {
          if (err instanceof BlobTooLargeError) throw new PayloadTooLargeError('FILE_TOO_LARGE', `this upload URL accepts at most ${max} bytes`, { max_bytes: max });
          throw err;
        }
      },
    });
  });
}
