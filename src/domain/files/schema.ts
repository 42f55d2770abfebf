/** Files and uploads: the shapes the API accepts and returns. */
import { MAX_IMPORT_URLS } from './limits.js';
import { DateTime, Nullable, Out, StringEnum, Type, type Static } from '../schema-kit.js';

export const FILE_SOURCES = ['upload', 'presigned', 'import'] as const;

export const File = Out({
  id: Type.String(),
  filename: Type.String(),
  bytes: Type.Integer(),
  sha256: Type.String(),
  content_type: Type.String({ description: 'Decided from the bytes, never from the name' }),
  source: StringEnum(FILE_SOURCES),
  source_url: Nullable(Type.String()),
  created_at: DateTime(),
});

export const FileContent = Out({
  id: Type.String(),
  content_type: Type.String(),
  bytes: Type.Integer(),
  url: Type.String({ description: 'Signed by the store; GET it without credentials until expires_at' }),
  expires_at: DateTime(),
});

export const CreateUploadBody = Type.Object(
  { filename: Type.String({ minLength: 1, maxLength: 255 }), bytes: Type.Integer({ minimum: 1 }), sha256: Type.Optional(Type.String({ maxLength: 64 })) },
  { additionalProperties: false },
);
export type CreateUploadInput = Static<typeof CreateUploadBody>;

export const UploadTicket = Out({ file_id: Type.String(), upload_url: Type.String(), method: Type.String(), expires_at: DateTime() });

/** The body is optional: no body (or null) means "no checksum to compare". */
export const CompleteUploadBody = Nullable(
  Type.Object({ sha256: Type.Optional(Type.String({ pattern: '^[A-Fa-f0-9]{64}$' })) }, { additionalProperties: false }),
);
export type CompleteUploadInput = NonNullable<Static<typeof CompleteUploadBody>>;

export const ImportFilesBody = Type.Object(
  {
    urls: Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), {
      minItems: 1,
      // The service's own limit is lower: the largest image set a trainer takes (30 built in), at least 20.
      maxItems: MAX_IMPORT_URLS,
      description: 'At most as many as the largest image set a trainer accepts (GET /v1/trainers: dataset.max_images; 30 built in), and at least 20',
    }),
  },
  { additionalProperties: false },
);
export type ImportFilesInput = Static<typeof ImportFilesBody>;

export const ImportResults = Out({
  results: Type.Array(
    Out({
      url: Type.String(),
      status: StringEnum(['imported', 'failed']),
      file: File,
      error: Out({ code: Type.String(), message: Type.String(), details: Type.Unknown() }),
    }),
  ),
});
