import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { MultipartFile } from '@fastify/multipart';
import { AppError, ValidationError } from '../../errors.js';
import type { Services } from '../../services.js';
import { assertCleanText } from '../../app/plugins/input-policy.js';
import { closeIfBodyUnread } from '../../app/routes/close-connection.js';
import { baseUrl } from '../../app/routes/v1/files.js';
import { caller } from '../../app/types.js';
import {
  AuthHeaders,
  Balance,
  errors,
  GenerateBody,
  Generated,
  ModelParams,
  MyLoras,
  PublicLoras,
  PublicQuery,
  Started,
  StartBody,
  TrainingStatus,
  Transactions,
  TransactionsQuery,
  Uploaded,
  type GenerateInput,
  type PublicQueryInput,
  type StartInput,
  type TransactionsQueryInput,
} from './schemas.js';
import { selfiError, SelfiService } from './service.js';
import type { SelfiSettings } from './settings.js';
import { trainingSocket } from './ws.js';

const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp'];
const AUTH = 'x-user-id (Telegram user id) and x-auth-token (the bot’s API key): 401 when missing or refused.';
const owner = (req: FastifyRequest) => caller(req).userId;

/** POST /upload: one image in the multipart field "file", stored as the user's file. */
async function upload(req: FastifyRequest, s: Services, maxBytes: number, prefix: string): Promise<{ url: string }> {
  if (!req.isMultipart()) throw new ValidationError('MULTIPART_REQUIRED', 'send multipart/form-data with the image in a field named "file"');
  let url: string | null = null;
  try {
    for await (const part of req.parts() as AsyncIterable<MultipartFile | { type: 'field' }>) {
      if (part.type !== 'file') continue;
      if (part.fieldname !== 'file' || url) {
        part.file.resume();
        throw new ValidationError('FILE_REQUIRED', `unexpected file field "${part.fieldname}": send one image in a field named "file"`);
      }
      assertCleanText(part.filename, 'filename');
      const f = await s.files.ingest(owner(req), part.filename || 'image', part.file, 'upload', null, maxBytes);
      if (!IMAGE_TYPES.includes(f.content_type)) {
        await s.files.delete(owner(req), f.id).catch(() => {});
        throw selfiError('invalid_file_type', `${f.content_type} is not a training image: send JPEG, PNG or WebP`, 400);
      }
      url = `${baseUrl(s, req)}${prefix}/uploads/${f.id}`;
    }
  } catch (err) {
    const e = err as { code?: string; statusCode?: number };
    if (err instanceof Error && !(err instanceof AppError) && !e.code && !e.statusCode)
      throw new ValidationError('MULTIPART_INVALID', `the multipart body cannot be read: ${err.message}`);
    throw err;
  }
  if (!url) throw new ValidationError('FILE_REQUIRED', 'no image: send it in a multipart field named "file"');
  return { url };
}

export function selfiRoutes(app: FastifyInstance, s: Services, settings: SelfiSettings): void {
  const svc = new SelfiService(s, settings);
  const base = (req: FastifyRequest) => baseUrl(s, req);

  app.post<{ Body: GenerateInput }>('/generate', {
    schema: {
      summary: 'Generate an image (synchronous: answers when the image is ready)',
      description: `${AUTH} An ordinary generation on the diffusion-generate trainer, charged like one. 402 insufficient_stars; 404 not_found (base model or LoRA); 500 generation_failed; 504 generation_timeout after COMPAT_SELFI_GENERATE_WAIT (the generation is cancelled, its stars refunded).`,
      headers: AuthHeaders,
      body: GenerateBody,
      response: { 200: Generated, ...errors(400, 401, 402, 404, 409, 429, 500, 504) },
    },
    handler: async (req) => svc.generate(owner(req), req.body, base(req)),
  });

  app.get('/loras/me', {
    schema: {
      summary: 'Your LoRAs, newest first, from the moment their training starts',
      description: `${AUTH} status: PENDING (queued), TRAINING, COMPLETED, FAILED (also a cancelled training); previewImageUrl: the newest sample image (a signed URL).`,
      headers: AuthHeaders,
      response: { 200: MyLoras, ...errors(401, 429) },
    },
    handler: async (req) => svc.mine(owner(req), base(req)),
  });

  app.get<{ Querystring: PublicQueryInput }>('/loras/public', {
    schema: {
      summary: 'Public LoRAs that finished training; sort newest or popular (most generations first)',
      description: AUTH,
      headers: AuthHeaders,
      querystring: PublicQuery,
      response: { 200: PublicLoras, ...errors(400, 401, 429) },
    },
    handler: async (req) => svc.publicList(req.query, base(req)),
  });

  app.post<{ Body: StartInput }>('/training/start', {
    schema: {
      summary: 'Start training a LoRA from 10-30 images (URLs from POST /upload, or any URL the import allowlist admits)',
      description: `${AUTH} An ordinary lora-diffusion job with sample images; priced by steps (up to 600: 10, 1200: 20, 2000: 35 stars). 400 invalid_parameters; 402 insufficient_stars.`,
      headers: AuthHeaders,
      body: StartBody,
      response: { 200: Started, ...errors(400, 401, 402, 409, 429) },
    },
    handler: async (req) => svc.start(owner(req), req.body),
  });

  app.get<{ Params: { modelId: string } }>('/training/:modelId/status', {
    schema: {
      summary: 'A training’s state: PENDING, PROCESSING, COMPLETED or FAILED, progress 0-100, error, the newest sample image',
      description: AUTH,
      headers: AuthHeaders,
      params: ModelParams,
      response: { 200: TrainingStatus, ...errors(400, 401, 404, 429) },
    },
    handler: async (req) => svc.status(owner(req), req.params.modelId, base(req)),
  });

  app.get('/stars/balance', {
    schema: {
      summary: 'Stars: balance, totalSpent, totalBought (purchases recorded by the bot)',
      description: AUTH,
      headers: AuthHeaders,
      response: { 200: Balance, ...errors(401, 429) },
    },
    handler: async (req) => svc.balance(owner(req)),
  });

  app.get<{ Querystring: TransactionsQueryInput }>('/stars/transactions', {
    schema: {
      summary: 'Star transactions, newest first: purchases, trainings and generations (with their hold’s status), refunds',
      description: `${AUTH} amount is signed (spent: negative). status: a training or generation is PENDING while its stars are held, COMPLETED once charged, REFUNDED when they came back (a REFUND entry beside it); purchases and refunds are COMPLETED.`,
      headers: AuthHeaders,
      querystring: TransactionsQuery,
      response: { 200: Transactions, ...errors(400, 401, 429) },
    },
    handler: async (req) => svc.transactions(owner(req), req.query),
  });

  app.post('/upload', {
    bodyLimit: settings.uploadMaxBytes + 64 * 1024,
    schema: {
      summary: 'Upload a training image (multipart "file": JPEG, PNG or WebP) → {url} to use in imageUrls',
      description: `${AUTH} 400 invalid_file_type; 413 file_too_large (over ${settings.uploadMaxBytes} bytes).`,
      consumes: ['multipart/form-data'],
      headers: AuthHeaders,
      response: { 200: Uploaded, ...errors(400, 401, 413, 415, 429) },
    },
    handler: async (req, reply) => {
      try {
        return await upload(req, s, settings.uploadMaxBytes, app.prefix);
      } catch (err) {
        closeIfBodyUnread(req, reply);
        throw err;
      }
    },
  });

  trainingSocket(app, s, svc);
}
