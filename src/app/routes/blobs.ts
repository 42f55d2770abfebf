import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import { StringEnum, Type, type Static } from '../../domain/schema-kit.js';
import { parseAttemptKey } from '../../domain/attempts/keys.js';
import { AppError, PayloadTooLargeError, UnauthorizedError } from '../../errors.js';
import type { Services } from '../../services.js';
import { BlobNotFoundError, BlobTooLargeError } from '../../storage/blob-store.js';
import { verify } from '../../storage/signing.js';
import { errorResponses } from '../schemas.js';
import { closeAfterReply } from './close-connection.js';

/** What a signed URL carries besides the key: the signature covers all of it. */
const SignedQuery = Type.Object(
  {
    method: StringEnum(['GET', 'PUT']),
    expires: Type.Integer(),
    signature: Type.String({ maxLength: 100 }),
    max_bytes: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
type SignedQuery = Static<typeof SignedQuery>;

export type BlobDeps = Pick<Services, 'store' | 'blobSigningKey' | 'config'> & {
  files: Pick<Services['files'], 'assertUploadOpen'>;
  attempts: Pick<Services['attempts'], 'assertUploadOpen'>;
};

/**
 * The filesystem store's stand-in for S3 presigned URLs: the signature (HMAC over method,
 * key, expiry and size cap) is the only credential, so these routes skip bearer auth.
 */
export default async function blobRoutes(app: FastifyInstance, s: BlobDeps) {
  const querystring = SignedQuery;

  function authorize(method: 'GET' | 'PUT', key: string, q: SignedQuery) {
    if (q.method !== method) throw new UnauthorizedError('SIGNATURE_INVALID', `this URL is signed for ${q.method}, not ${method}`);
    const result = verify(s.blobSigningKey, { method, key, expires: q.expires, ...(q.max_bytes !== undefined ? { maxBytes: q.max_bytes } : {}) }, q.signature);
    if (result === 'expired') throw new AppError('SIGNATURE_EXPIRED', 'this signed URL has expired', { status: 403 });
    if (result !== 'ok') throw new UnauthorizedError('SIGNATURE_INVALID', 'the URL signature does not match');
  }

  /**
   * Which open upload a signed PUT writes to. A user's file upload (POST /v1/uploads) stays open
   * until /complete. A remote attempt's upload (POST /v1/jobs/…/attempts/…/uploads: a key under
   * checkpoints/, artifacts/ or samples/ that names owner, job and attempt) is open while that
   * attempt is the job's live claim and has not reported its end. The signature covers the key,
   * and /uploads signs only keys of the token's own attempt, so a URL cannot write another
   * job's objects; the check here stops a replay of the URL (until it expires) from writing
   * once its attempt is over, e.g. over the checkpoint a later attempt resumes from, or under
   * artifacts the worker is registering.
   */
  const assertOpen = (key: string) => (parseAttemptKey(key) ? s.attempts.assertUploadOpen(key) : s.files.assertUploadOpen(key));

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
      schema: {
        hide: true,
        querystring,
        response: { 200: { type: 'object', properties: { bytes: { type: 'integer' }, sha256: { type: 'string' } } }, ...errorResponses(401, 403, 409, 413) },
      },
      handler: async (req, reply) => {
        const key = req.params['*'];
        try {
          authorize('PUT', key, req.query);
          await assertOpen(key);
        } catch (err) {
          closeAfterReply(req, reply); // the body was never read
          throw err;
        }
        const max = req.query.max_bytes ?? s.config.uploads.maxFileBytes;
        const tooLarge = () => new PayloadTooLargeError('FILE_TOO_LARGE', `this upload URL accepts at most ${max} bytes`, { max_bytes: max });
        const declared = Number(req.headers['content-length'] ?? NaN);
        if (declared > max) {
          closeAfterReply(req, reply);
          throw tooLarge();
        }
        try {
          // Checked again once the bytes are in: a /complete that ran meanwhile closed the upload,
          // and its recorded sha256 must keep describing what is stored.
          return await s.store.put(key, (req.body as Readable | undefined) ?? req.raw, { maxBytes: max, beforeCommit: () => assertOpen(key) });
        } catch (err) {
          if (!(err instanceof BlobTooLargeError)) throw err;
          closeAfterReply(req, reply);
          throw tooLarge();
        }
      },
    });
  });
}
