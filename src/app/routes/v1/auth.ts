import type { FastifyInstance } from 'fastify';
import type { Services } from '../../../services.js';
import { apiKeySchema, errorResponses, idParams, userSchema } from '../../schemas.js';
import { caller } from '../../types.js';

export default function authRoutes(app: FastifyInstance, s: Services) {
  const authLimit = s.config.rateLimits.auth.max > 0 ? { max: s.config.rateLimits.auth.max, timeWindow: s.config.rateLimits.auth.windowMs, keyGenerator: (r: { ip: string }) => `auth:${r.ip}` } : false;

  app.post<{ Body: { username: string; email: string; password: string } }>('/v1/auth/signup', {
    config: { auth: 'public', rateLimit: authLimit },
    schema: {
      tags: ['auth'],
      summary: 'Create an account',
      body: {
        type: 'object',
        required: ['username', 'email', 'password'],
        additionalProperties: false,
        properties: { username: { type: 'string', maxLength: 64 }, email: { type: 'string', maxLength: 320 }, password: { type: 'string', maxLength: 256 } },
      },
      response: { 201: userSchema, ...errorResponses(400, 403, 429) },
    },
    handler: async (req, reply) => reply.status(201).send(await s.accounts.signup(req.body)),
  });

  app.post<{ Body: { username: string; password: string } }>('/v1/auth/login', {
    config: { auth: 'public', rateLimit: authLimit },
    schema: {
      tags: ['auth'],
      summary: 'Exchange username (or email) and password for a bearer token',
      body: {
        type: 'object',
        required: ['username', 'password'],
        additionalProperties: false,
        properties: { username: { type: 'string', minLength: 1, maxLength: 320 }, password: { type: 'string', minLength: 1, maxLength: 256 } },
      },
      response: {
        200: { type: 'object', properties: { access_token: { type: 'string' }, token_type: { type: 'string', enum: ['bearer'] }, expires_in: { type: 'integer' } } },
        ...errorResponses(400, 401, 429),
      },
    },
    handler: async (req) => s.accounts.login(req.body.username, req.body.password, req.ip),
  });

  app.get('/v1/me', {
    schema: { tags: ['auth'], summary: 'The caller', security: [{ bearer: [] }], response: { 200: userSchema, ...errorResponses(401) } },
    handler: async (req) => s.accounts.me(caller(req).userId),
  });

  app.post<{ Body: { name: string } }>('/v1/api-keys', {
    schema: {
      tags: ['auth'],
      summary: 'Create an API key; its secret is shown only in this response',
      security: [{ bearer: [] }],
      body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 100 } } },
      response: { 201: apiKeySchema, ...errorResponses(400, 401, 409) },
    },
    handler: async (req, reply) => reply.status(201).send(await s.accounts.createApiKey(caller(req).userId, req.body.name)),
  });

  app.get('/v1/api-keys', {
    schema: { tags: ['auth'], summary: 'Active API keys (never their secrets)', security: [{ bearer: [] }], response: { 200: { type: 'object', properties: { data: { type: 'array', items: apiKeySchema } } }, ...errorResponses(401) } },
    handler: async (req) => ({ data: await s.accounts.listApiKeys(caller(req).userId) }),
  });

  app.delete<{ Params: { id: string } }>('/v1/api-keys/:id', {
    schema: { tags: ['auth'], summary: 'Revoke an API key', security: [{ bearer: [] }], params: idParams(), response: { 204: { type: 'null' }, ...errorResponses(401, 404) } },
    handler: async (req, reply) => {
      await s.accounts.revokeApiKey(caller(req).userId, req.params.id);
      return reply.status(204).send();
    },
  });
}
