import type { FastifyInstance } from 'fastify';
import { ForbiddenError, NotFoundError, ValidationError } from '../../../errors.js';
import {
  Balance,
  GrantCreditsBody,
  Purchase,
  PurchaseBody,
  TRANSACTION_PURPOSES,
  TRANSACTION_TYPES,
  TransactionPage,
  type GrantCreditsInput,
  type PurchaseInput,
} from '../../../domain/credits/schema.js';
import type { Services } from '../../../services.js';
import { errorResponses, pageQuery, security } from '../../schemas.js';
import { caller } from '../../types.js';

export type CreditDeps = Pick<Services, 'credits' | 'accounts' | 'db'>;

export default function creditRoutes(app: FastifyInstance, s: CreditDeps) {
  app.get('/v1/credits/balance', {
    schema: {
      tags: ['credits'],
      summary: 'Spendable balance, credits held by unfinished jobs, totals',
      security,
      response: { 200: Balance, ...errorResponses(401) },
    },
    handler: async (req) => ({ ...(await s.credits.balance(caller(req).userId)), billing: s.credits.enabled ? 'on' : 'off' }),
  });

  app.get<{
    Querystring: {
      limit: number;
      cursor?: string;
      type?: (typeof TRANSACTION_TYPES)[number];
      purpose?: (typeof TRANSACTION_PURPOSES)[number];
      job_id?: string;
    };
  }>('/v1/credits/transactions', {
    schema: {
      tags: ['credits'],
      summary: 'The append-only ledger: grants, purchases, holds, captures, releases (newest first)',
      description:
        'Each entry says what it was for (`purpose`: training, generation, purchase, grant, refund) and the job or generation it belongs to; filter by either.',
      security,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ...pageQuery,
          type: { type: 'string', enum: [...TRANSACTION_TYPES] },
          purpose: { type: 'string', enum: [...TRANSACTION_PURPOSES] },
          job_id: { type: 'string', minLength: 1, maxLength: 100, description: 'entries of this job or generation' },
        },
      },
      response: { 200: TransactionPage, ...errorResponses(400, 401) },
    },
    handler: async (req) => {
      const { limit, cursor, type, purpose, job_id } = req.query;
      return s.credits.transactions(caller(req).userId, limit, cursor, {
        ...(type ? { type } : {}),
        ...(purpose ? { purpose } : {}),
        ...(job_id ? { jobId: job_id } : {}),
      });
    },
  });

  app.post<{ Body: PurchaseInput }>('/v1/credits/purchases', {
    schema: {
      tags: ['credits'],
      summary: 'Record credits a user bought elsewhere (a bot, acting for the user): once per payment id',
      description:
        'Only a bot acting for its user (X-On-Behalf-Of) records purchases (403 BOT_ONLY otherwise). `payment_id` is the payment’s own id and the idempotency key: a retry answers 200 with the first entry and `replayed: true`; the same id with another amount answers 409 PAYMENT_ID_REUSED.',
      security,
      body: PurchaseBody,
      response: { 201: Purchase, 200: Purchase, ...errorResponses(400, 401, 403, 409) },
    },
    handler: async (req, reply) => {
      const p = caller(req);
      if (!p.actor) throw new ForbiddenError('BOT_ONLY', 'Purchases are recorded by a bot acting for its user (X-On-Behalf-Of)');
      const r = await s.credits.purchase(p.userId, {
        credits: req.body.credits,
        paymentId: req.body.payment_id,
        note: req.body.note,
        createdBy: p.actor.userId,
      });
      const balance = { ...(await s.credits.balance(p.userId)), billing: s.credits.enabled ? 'on' : 'off' };
      return reply.code(r.replayed ? 200 : 201).send({ ...r, balance });
    },
  });

  app.post<{ Body: GrantCreditsInput }>('/v1/admin/credits/grants', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Grant credits to a user (admins only)',
      security,
      body: GrantCreditsBody,
      response: { 201: Balance, ...errorResponses(400, 401, 403, 404) },
    },
    handler: async (req, reply) => {
      const { user_id, username, credits, note } = req.body;
      if (!user_id === !username) throw new ValidationError('USER_REQUIRED', 'give exactly one of user_id or username');
      const user = await s.accounts.find(user_id ?? username!);
      if (!user) throw new NotFoundError('user', user_id ?? username);
      await s.db.transaction((tx) => s.credits.grant(tx, user.id, credits, note ?? 'admin grant', caller(req).userId));
      return reply.status(201).send({ ...(await s.credits.balance(user.id)), billing: s.credits.enabled ? 'on' : 'off' });
    },
  });
}
