import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ValidationError } from '../../../errors.js';
import type { Services } from '../../../services.js';
import { errorResponses, fileSchema, idParams, page, pageQuery } from '../../schemas.js';
import { caller } from '../../types.js';

export function baseUrl(s: Services, req: FastifyRequest): string {
  return s.config.publicUrl ?? `${req.protocol}://${req.host}`;
}

export default function fileRoutes(app: FastifyInstance, s: Services) {
  const uploadLimit = s.config.rateLimits.upload.max > 0 ? { max: s.config.rateLimits.upload.max, timeWindow: s.config.rateLimits.upload.windowMs } : false;
  const security = [{ bearer: [] }];

  app.post('/v1/files', {
    config: { rateLimit: uploadLimit },
    schema: {
      tags: ['files'],
      summary: 'Upload one file (multipart/form-data, field "file"); streamed to storage',
      description: `The type is decided from the bytes. Accepted: JPEG, PNG, WebP, ZIP, UTF-8 text (CSV, JSON Lines). At most ${s.config.uploads.maxFileBytes} bytes.`,
      consumes: ['multipart/form-data'],
      security,
      response: { 201: fileSchema, ...errorResponses(400, 401, 413, 415, 429) },
    },
    handler: async (req, reply) => {
      if (!req.isMultipart()) throw new ValidationError('MULTIPART_REQUIRED', 'send the file as multipart/form-data in a field named "file"');
      const part = await req.file();
      if (!part) throw new ValidationError('FILE_REQUIRED', 'no file part in the request');
      if (part.fieldname !== 'file') throw new ValidationError('FILE_REQUIRED', 'the file must be in a field named "file"');
      const file = await s.files.ingest(caller(req).userId, part.filename, part.file, 'upload');
      return reply.status(201).send(file);
    },
  });

  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/files', {
    schema: { tags: ['files'], summary: 'Your files, newest first', security, querystring: { type: 'object', additionalProperties: false, properties: pageQuery }, response: { 200: page(fileSchema), ...errorResponses(400, 401) } },
    handler: async (req) => s.files.list(caller(req).userId, req.query.limit, req.query.cursor),
  });

  app.get<{ Params: { id: string } }>('/v1/files/:id', {
    schema: { tags: ['files'], summary: 'One of your files', security, params: idParams(), response: { 200: fileSchema, ...errorResponses(401, 404) } },
    handler: async (req) => s.files.get(caller(req).userId, req.params.id),
  });

  app.delete<{ Params: { id: string } }>('/v1/files/:id', {
    schema: { tags: ['files'], summary: 'Delete a file that no dataset uses', security, params: idParams(), response: { 204: { type: 'null' }, ...errorResponses(401, 404, 409) } },
    handler: async (req, reply) => {
      await s.files.delete(caller(req).userId, req.params.id);
      return reply.status(204).send();
    },
  });

  app.post<{ Body: { filename: string; bytes: number; sha256?: string } }>('/v1/uploads', {
    config: { rateLimit: uploadLimit },
    schema: {
      tags: ['files'],
      summary: 'Start a pre-signed upload: PUT the raw bytes to upload_url, then POST /v1/uploads/{file_id}/complete',
      security,
      body: {
        type: 'object',
        required: ['filename', 'bytes'],
        additionalProperties: false,
        properties: { filename: { type: 'string', minLength: 1, maxLength: 255 }, bytes: { type: 'integer', minimum: 1 }, sha256: { type: 'string', maxLength: 64 } },
      },
      response: {
        201: { type: 'object', properties: { file_id: { type: 'string' }, upload_url: { type: 'string' }, method: { type: 'string' }, expires_at: { type: 'string', format: 'date-time' } } },
        ...errorResponses(400, 401, 413, 429),
      },
    },
    handler: async (req, reply) => reply.status(201).send(await s.files.createUpload(caller(req).userId, req.body, baseUrl(s, req))),
  });

  app.post<{ Params: { id: string }; Body: { sha256?: string } | undefined }>('/v1/uploads/:id/complete', {
    schema: {
      tags: ['files'],
      summary: 'Finish a pre-signed upload: checks size and sha256, sniffs the type',
      security,
      params: idParams(),
      body: { type: ['object', 'null'], additionalProperties: false, properties: { sha256: { type: 'string', pattern: '^[A-Fa-f0-9]{64}$' } } },
      response: { 200: fileSchema, ...errorResponses(400, 401, 404, 409, 415) },
    },
    handler: async (req) => s.files.completeUpload(caller(req).userId, req.params.id, req.body ?? {}),
  });

  app.post<{ Body: { urls: string[] } }>('/v1/files/import', {
    config: { rateLimit: uploadLimit },
    schema: {
      tags: ['files'],
      summary: 'Fetch files from http(s) URLs on the server side; one result per URL',
      description: 'Private, loopback, link-local, multicast and cloud-metadata addresses are refused, also after redirects (at most 3).',
      security,
      body: {
        type: 'object',
        required: ['urls'],
        additionalProperties: false,
        properties: { urls: { type: 'array', minItems: 1, maxItems: 20, items: { type: 'string', minLength: 1, maxLength: 2048 } } },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            results: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  url: { type: 'string' },
                  status: { type: 'string', enum: ['imported', 'failed'] },
                  file: fileSchema,
                  error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} } },
                },
              },
            },
          },
        },
        ...errorResponses(400, 401, 429),
      },
    },
    handler: async (req) => ({ results: await s.files.importUrls(caller(req).userId, req.body.urls) }),
  });
}
