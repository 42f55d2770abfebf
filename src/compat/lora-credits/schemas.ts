/**
 * The LoRA training API's shapes (seed 000), declared once: the routes validate and document
 * /openapi.json with them, and the facade's code takes its types from them.
 */
import { DateTime, FreeObject, Nullable, StringEnum, Type, type Static } from '../../domain/schema-kit.js';

/** The document's error envelope: `{code, message, timestamp}`. */
export const LoraCreditsError = {
  $id: 'LoraCreditsError',
  type: 'object',
  required: ['code', 'message', 'timestamp'],
  additionalProperties: false,
  properties: { code: { type: 'string' }, message: { type: 'string' }, timestamp: { type: 'string', format: 'date-time' } },
} as const;
export const errorRef = 'LoraCreditsError#';
export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, { $ref: errorRef }]));

/** The image formats the document accepts, by declared format, file extension and content. */
export const FORMATS = ['jpg', 'jpeg', 'png', 'webp'] as const;
export const MIN_IMAGES = 10;
export const MAX_IMAGES = 30;
/** The schema's own bound (far above 30) only stops absurd bodies; 10-30 is INVALID_IMAGE_COUNT. */
const LIST_BOUND = 100;
export const STEPS = [600, 1200, 2000] as const;

const Url = Type.String({ minLength: 1, maxLength: 2048, description: 'An http(s) URL of the image' });
const ModelName = Type.String({
  minLength: 1,
  maxLength: 100,
  description: 'Unique per user: 1-100 letters, digits, "_", "." or "-", starting with a letter or digit',
});

export const UploadImage = Type.Object(
  {
    url: Url,
    filename: Type.Optional(Type.String({ maxLength: 255 })),
    size: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 40 })),
    format: Type.Optional(Type.String({ maxLength: 20, description: 'jpg, jpeg, png or webp' })),
  },
  { additionalProperties: false },
);
export const UploadBody = Type.Object(
  { images: Type.Array(UploadImage, { maxItems: LIST_BOUND, description: '10-30 images' }), model_name: ModelName },
  { additionalProperties: false },
);
export type UploadInput = Static<typeof UploadBody>;

const UploadedImage = Type.Object({
  url: Type.String(),
  filename: Type.String(),
  size: Type.Integer({ description: 'Bytes, as fetched' }),
  format: StringEnum(FORMATS),
  fileId: Type.String({ description: 'The Trainyard file (GET /v1/files/{id})' }),
});
export const Uploaded = Type.Object({
  status: Type.Literal('uploaded'),
  sessionId: Type.String(),
  modelName: Type.String(),
  imageCount: Type.Integer(),
  images: Type.Array(UploadedImage),
  timestamp: DateTime(),
});

export const StartBody = Type.Object(
  {
    model_name: ModelName,
    steps: Type.Optional(Type.Integer({ enum: [...STEPS], default: 600, description: 'Training steps: 600, 1200 or 2000 (10, 20 or 35 credits)' })),
    training_images: Type.Array(Url, { maxItems: LIST_BOUND, description: '10-30 image URLs; those of an upload session are not fetched again' }),
    metadata: Type.Optional(FreeObject({ maxProperties: 50, description: 'Kept on the Trainyard job (metadata.request)' })),
  },
  { additionalProperties: false },
);
export type StartInput = Static<typeof StartBody>;

export const Started = Type.Object({
  status: Type.Literal('queued'),
  jobId: Type.String({ description: 'The Trainyard job (GET /v1/jobs/{id})' }),
  trainingJobId: Type.String(),
  queue: Type.Literal('training'),
  modelName: Type.String(),
  steps: Type.Integer(),
  cost: Type.Integer(),
  estimatedDuration: Type.String({ description: '"N minutes" from the job’s estimate, or "unknown"' }),
  timestamp: DateTime(),
});

export const STATES = ['pending', 'processing', 'completed', 'failed'] as const;
export type State = (typeof STATES)[number];

export const JobIdParams = Type.Object({ jobId: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });
export const ModelUrlQuery = Type.Object({ signature: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });

export const TrainingJob = Type.Object({
  id: Type.String(),
  modelName: Type.String(),
  status: StringEnum(STATES),
  progress: Type.Integer({ minimum: 0, maximum: 100 }),
  steps: Type.Integer(),
  creditsUsed: Type.Integer({ description: 'The cost charged; 0 once refunded (failed or cancelled)' }),
  trainedModelUrl: Nullable(Type.String({ description: 'A stable URL that redirects to a fresh signed download' })),
  errorMessage: Nullable(Type.String()),
  createdAt: DateTime(),
  completedAt: Nullable(DateTime()),
});
export const JobStatus = Type.Object({
  status: Type.Literal('ok'),
  jobId: Type.String(),
  trainingJob: TrainingJob,
  queueStatus: Type.Object({ state: StringEnum(['waiting', 'active', 'completed', 'failed'] as const), progress: Type.Integer({ minimum: 0, maximum: 100 }) }),
  timestamp: DateTime(),
});

export const ModelEntry = Type.Object({
  id: Type.String(),
  model_name: Type.String(),
  status: StringEnum(STATES),
  steps: Type.Integer(),
  credits_used: Type.Integer(),
  trained_model_url: Nullable(Type.String()),
  created_at: DateTime(),
  completed_at: Nullable(DateTime()),
});
export const Models = Type.Object({
  status: Type.Literal('ok'),
  models: Type.Object({ completed: Type.Array(ModelEntry), inProgress: Type.Array(ModelEntry), failed: Type.Array(ModelEntry) }),
  totalCount: Type.Integer(),
  completedCount: Type.Integer(),
  timestamp: DateTime(),
});
