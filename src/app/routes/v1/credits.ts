import type { FastifyInstance } from 'fastify';
import { NotFoundError, ValidationError } from '../../../errors.js';
import { Balance, GrantCreditsBody, TRANSACTION_TYPES, TransactionPage, type GrantCreditsInput } from '../../../domain/credits/schema.js';
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

  app.get<{ Querystring: { limit: number; cursor?: string; type?: (typeof TRANSACTION_TYPES)[number] } }>('/v1/credits/transactions', {
    schema: {
      tags: ['credits'],
      summary: 'The append-only ledger: grants, holds, captures, releases (newest first)',
      security,
      querystring: { type: 'object', additionalProperties: false, properties: { ...pageQuery, type: { type: 'string', enum: [...TRANSACTION_TYPES] } } },
      response: { 200: TransactionPage, ...errorResponses(400, 401) },
    },
    handler: async (req) => s.credits.transactions(caller(req).userId, req.query.limit, req.query.cursor, req.query.type),
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
