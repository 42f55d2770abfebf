import type { FastifyInstance } from 'fastify';
import { NotFoundError, ValidationError } from '../../../errors.js';
import type { Services } from '../../../services.js';
import { errorResponses, nullableString, pageQuery } from '../../schemas.js';
import { caller } from '../../types.js';

const balanceSchema = { type: 'object', properties: { balance: { type: 'integer' }, held: { type: 'integer' }, total_spent: { type: 'integer' }, total_granted: { type: 'integer' }, billing: { type: 'string', enum: ['on', 'off'] } } } as const;

export default function creditRoutes(app: FastifyInstance, s: Services) {
  const security = [{ bearer: [] }];

  app.get('/v1/credits/balance', {
    schema: { tags: ['credits'], summary: 'Spendable balance, credits held by unfinished jobs, totals', security, response: { 200: balanceSchema, ...errorResponses(401) } },
    handler: async (req) => ({ ...(await s.credits.balance(caller(req).userId)), billing: s.credits.enabled ? 'on' : 'off' }),
  });

  app.get<{ Querystring: { limit: number; cursor?: string; type?: string } }>('/v1/credits/transactions', {
    schema: {
      tags: ['credits'],
      summary: 'The append-only ledger: grants, holds, captures, releases (newest first)',
      security,
      querystring: { type: 'object', additionalProperties: false, properties: { ...pageQuery, type: { type: 'string', enum: ['grant', 'hold', 'capture', 'release'] } } },
      response: {
        200: {
          type: 'object',
          properties: {
            data: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, type: { type: 'string' }, amount: { type: 'integer', description: 'effect on the spendable balance' }, credits: { type: 'integer' }, job_id: nullableString, note: nullableString, created_at: { type: 'string' } } } },
            next_cursor: nullableString,
          },
        },
        ...errorResponses(400, 401),
      },
    },
    handler: async (req) => s.credits.transactions(caller(req).userId, req.query.limit, req.query.cursor, req.query.type),
  });

  app.post<{ Body: { user_id?: string; username?: string; credits: number; note?: string } }>('/v1/admin/credits/grants', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Grant credits to a user (admins only)',
      security,
      body: {
        type: 'object',
        required: ['credits'],
        additionalProperties: false,
        properties: { user_id: { type: 'string', maxLength: 100 }, username: { type: 'string', maxLength: 64 }, credits: { type: 'integer', minimum: 1, maximum: 1_000_000_000 }, note: { type: 'string', maxLength: 500 } },
      },
      response: { 201: balanceSchema, ...errorResponses(400, 401, 403, 404) },
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
