import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, ValidationError } from '../../../errors.js';
import {
  CompleteUploadBody,
  CreateUploadBody,
  File,
  FileContent,
  ImportFilesBody,
  ImportResults,
  UploadTicket,
  type CompleteUploadInput,
  type CreateUploadInput,
  type ImportFilesInput,
} from '../../../domain/files/schema.js';
import type { Services } from '../../../services.js';
import { errorResponses, idParams, noContent, pageQuerystring, security, type PageQuery } from '../../schemas.js';
import { caller } from '../../types.js';
import { assertCleanText } from '../../plugins/input-policy.js';
import { closeIfBodyUnread } from '../close-connection.js';
import { Page } from '../../../domain/schema-kit.js';

/**
 * busboy throws plain Errors (no code, no status) for a body it cannot parse, e.g. a
 * multipart/form-data Content-Type without its boundary: that is the client's mistake, a 400.
 */
function malformedMultipart(err: unknown): unknown {
  const e = err as { code?: string; statusCode?: number } | null;
  if (err instanceof Error && !(err instanceof AppError) && !e?.code && !e?.statusCode)
    return new ValidationError('MULTIPART_INVALID', `the multipart body cannot be read: ${err.message}`);
  return err;
}

/** Where signed URLs point: the configured public URL, or the host the caller reached. */
export function baseUrl(s: Pick<Services, 'config'>, req: FastifyRequest): string {
  return s.config.publicUrl ?? `${req.protocol}://${req.host}`;
}

export type FileDeps = Pick<Services, 'files' | 'config'>;

export default function fileRoutes(app: FastifyInstance, s: FileDeps) {
  const uploadLimit = s.config.rateLimits.upload.max > 0 ? { max: s.config.rateLimits.upload.max, timeWindow: s.config.rateLimits.upload.windowMs } : false;

  app.post('/v1/files', {
    config: { rateLimit: uploadLimit },
    schema: {
      tags: ['files'],
      summary: 'Upload one file (multipart/form-data, field "file"); streamed to storage',
      description: `The type is decided from the bytes. Accepted: JPEG, PNG, WebP, ZIP, UTF-8 text (CSV, JSON Lines). At most ${s.config.uploads.maxFileBytes} bytes.`,
      consumes: ['multipart/form-data'],
      security,
      response: { 201: File, ...errorResponses(400, 401, 413, 415, 429) },
    },
    handler: async (req, reply) => {
      if (!req.isMultipart()) throw new ValidationError('MULTIPART_REQUIRED', 'send the file as multipart/form-data in a field named "file"');
      const part = await req.file().catch((err: unknown) => {
        throw malformedMultipart(err);
      });
      if (!part) throw new ValidationError('FILE_REQUIRED', 'no file part in the request');
      if (part.fieldname !== 'file') throw new ValidationError('FILE_REQUIRED', 'the file must be in a field named "file"');
      try {
        assertCleanText(part.filename, 'filename');
        return reply.status(201).send(await s.files.ingest(caller(req).userId, part.filename, part.file, 'upload'));
      } catch (err) {
        closeIfBodyUnread(req, reply); // an oversized (e.g. chunked) body would hold the connection
        throw err;
      }
    },
  });

  app.get<{ Querystring: PageQuery }>('/v1/files', {
    schema: {
      tags: ['files'],
      summary: 'Your files, newest first',
      security,
      querystring: pageQuerystring,
      response: { 200: Page(File), ...errorResponses(400, 401) },
    },
    handler: async (req) => s.files.list(caller(req).userId, req.query.limit, req.query.cursor),
  });

  app.get<{ Params: { id: string } }>('/v1/files/:id', {
    schema: { tags: ['files'], summary: 'One of your files', security, params: idParams(), response: { 200: File, ...errorResponses(401, 404) } },
    handler: async (req) => s.files.get(caller(req).userId, req.params.id),
  });

  app.get<{ Params: { id: string }; Querystring: { redirect?: boolean } }>('/v1/files/:id/content', {
    schema: {
      tags: ['files'],
      summary: 'A signed, expiring download URL for one of your files (302 to it with ?redirect=true)',
      security,
      params: idParams(),
      querystring: { type: 'object', additionalProperties: false, properties: { redirect: { type: 'boolean' } } },
      response: {
        200: FileContent,
        302: { description: 'With ?redirect=true: to the signed URL (Location header)', type: 'null' },
        ...errorResponses(401, 404),
      },
    },
    handler: async (req, reply) => {
      const c = await s.files.contentUrl(caller(req).userId, req.params.id, baseUrl(s, req));
      return req.query.redirect ? reply.redirect(c.url, 302) : c;
    },
  });

  app.delete<{ Params: { id: string } }>('/v1/files/:id', {
    schema: {
      tags: ['files'],
      summary: 'Delete a file that no dataset uses',
      security,
      params: idParams(),
      response: { 204: noContent, ...errorResponses(401, 404, 409) },
    },
    handler: async (req, reply) => {
      await s.files.delete(caller(req).userId, req.params.id);
      return reply.status(204).send();
    },
  });

  app.post<{ Body: CreateUploadInput }>('/v1/uploads', {
    config: { rateLimit: uploadLimit },
    schema: {
      tags: ['files'],
      summary: 'Start a pre-signed upload: PUT the raw bytes to upload_url, then POST /v1/uploads/{file_id}/complete',
      security,
      body: CreateUploadBody,
      response: { 201: UploadTicket, ...errorResponses(400, 401, 413, 429) },
    },
    handler: async (req, reply) => reply.status(201).send(await s.files.createUpload(caller(req).userId, req.body, baseUrl(s, req))),
  });

  app.post<{ Params: { id: string }; Body: CompleteUploadInput | null | undefined }>('/v1/uploads/:id/complete', {
    schema: {
      tags: ['files'],
      summary: 'Finish a pre-signed upload: checks size and sha256, sniffs the type',
      security,
      params: idParams(),
      body: CompleteUploadBody,
      response: { 200: File, ...errorResponses(400, 401, 404, 409, 413, 415) },
    },
    handler: async (req) => s.files.completeUpload(caller(req).userId, req.params.id, req.body ?? {}),
  });

  app.post<{ Body: ImportFilesInput }>('/v1/files/import', {
    config: { rateLimit: uploadLimit },
    schema: {
      tags: ['files'],
      summary: 'Fetch files from http(s) URLs on the server side; one result per URL',
      description:
        'As many URLs as the largest image set a trainer accepts (30 with the built-in catalog; never fewer than 20); more is 400 TOO_MANY_URLS. Private, loopback, link-local, multicast and cloud-metadata addresses are refused, also after redirects (at most 3).',
      security,
      body: ImportFilesBody,
      response: { 200: ImportResults, ...errorResponses(400, 401, 429) },
    },
    handler: async (req) => ({ results: await s.files.importUrls(caller(req).userId, req.body.urls) }),
  });
}
