/**
 * The selfie bot API's shapes (seed 003), declared once: the routes validate and document
 * /openapi.json with them, and the facade's code takes its types from them.
 */
import { errorSchema } from '../../app/schemas.js';
import { DateTime, Nullable, StringEnum, Type, type Static } from '../../domain/schema-kit.js';

/** The document's error envelope: Trainyard's own shape, with the document's lower-case codes. */
export const SelfiError = { ...errorSchema, $id: 'SelfiError' } as const;
export const errorRef = 'SelfiError#';
export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, { $ref: errorRef }]));

export const AuthHeaders = Type.Object(
  {
    'x-user-id': Type.String({ description: 'The user’s Telegram id (an external id at the bot’s provider)' }),
    'x-auth-token': Type.String({ description: 'The bot’s Trainyard API key (a bot principal of the same provider)' }),
  },
  { additionalProperties: true },
);
export const security: Array<Record<string, string[]>> = [];

const id = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' });

export const GenerateBody = Type.Object(
  {
    prompt: Type.String({ minLength: 1, maxLength: 1000 }),
    negativePrompt: Type.Optional(Type.String({ maxLength: 1000 })),
    loraId: Type.Optional(id),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 })),
    baseModelId: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);
export type GenerateInput = Static<typeof GenerateBody>;
export const Generated = Type.Object({ id: Type.String(), imageUrl: Type.String(), starsUsed: Type.Integer(), seed: Type.Integer() });

export const LORA_STATUSES = ['PENDING', 'TRAINING', 'COMPLETED', 'FAILED'] as const;
export const TRAINING_STATUSES = ['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED'] as const;

export const MyLoras = Type.Object({
  loras: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      triggerWord: Type.String(),
      status: StringEnum(LORA_STATUSES),
      previewImageUrl: Nullable(Type.String()),
      isPublic: Type.Boolean(),
      createdAt: DateTime(),
    }),
  ),
});

export const Pagination = Type.Object({ total: Type.Integer(), pages: Type.Integer(), current: Type.Integer() });
const pageQuery = {
  page: Type.Integer({ minimum: 1, maximum: 100_000, default: 1 }),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
};
export const PublicQuery = Type.Object(
  { ...pageQuery, sort: StringEnum(['newest', 'popular'] as const, { default: 'newest' }) },
  { additionalProperties: false },
);
export type PublicQueryInput = Static<typeof PublicQuery>;
export const PublicLoras = Type.Object({
  loras: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      triggerWord: Type.String(),
      previewImageUrl: Nullable(Type.String()),
      isPublic: Type.Boolean(),
      createdAt: DateTime(),
      user: Type.Object({ username: Nullable(Type.String()) }),
    }),
  ),
  pagination: Pagination,
});

export const StartBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    triggerWord: Type.String({ minLength: 1, maxLength: 50, pattern: '^[A-Za-z0-9_-]+$' }),
    imageUrls: Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { minItems: 1, maxItems: 30 }),
    instancePrompt: Type.String({ minLength: 1, maxLength: 500 }),
    classPrompt: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 2000 })),
    learningRate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 0.1 })),
    isPublic: Type.Optional(
      Type.Boolean({ description: 'Trainyard’s addition: list the LoRA in /loras/public once trained (default: COMPAT_SELFI_PUBLIC_BY_DEFAULT)' }),
    ),
  },
  { additionalProperties: false },
);
export type StartInput = Static<typeof StartBody>;
export const Started = Type.Object({ modelId: Type.String(), starsDeducted: Type.Integer(), remainingStars: Type.Integer() });

export const ModelParams = Type.Object({ modelId: id });
export const TrainingStatus = Type.Object({
  status: StringEnum(TRAINING_STATUSES),
  progress: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
  error: Type.Optional(Type.String()),
  previewImageUrl: Type.Optional(Type.String()),
});

export const Balance = Type.Object({ balance: Type.Integer(), totalSpent: Type.Integer(), totalBought: Type.Integer() });

export const TX_TYPES = ['PURCHASE', 'GENERATION', 'TRAINING', 'REFUND'] as const;
export const TransactionsQuery = Type.Object({ ...pageQuery, type: Type.Optional(StringEnum(TX_TYPES)) }, { additionalProperties: false });
export type TransactionsQueryInput = Static<typeof TransactionsQuery>;
export const Transactions = Type.Object({
  transactions: Type.Array(
    Type.Object({
      id: Type.String(),
      amount: Type.Integer(),
      type: StringEnum(TX_TYPES),
      status: StringEnum(['PENDING', 'COMPLETED', 'FAILED', 'REFUNDED'] as const),
      createdAt: DateTime(),
    }),
  ),
  pagination: Pagination,
});

export const Uploaded = Type.Object({ url: Type.String() });
