import type { FastifyInstance } from 'fastify';
import {
  ApiKey,
  CreateApiKeyBody,
  IdentityList,
  LoginBody,
  SignupBody,
  Token,
  User,
  type CreateApiKeyInput,
  type LoginInput,
  type SignupInput,
} from '../../../domain/accounts/schema.js';
import type { Services } from '../../../services.js';
import { errorResponses, idParams, noContent } from '../../schemas.js';
import { caller } from '../../types.js';
import { clientAddress } from '../../../net/client-address.js';

export type AuthDeps = Pick<Services, 'accounts' | 'config'>;

export default function authRoutes(app: FastifyInstance, s: AuthDeps) {
  const authLimit =
    s.config.rateLimits.auth.max > 0
      ? { max: s.config.rateLimits.auth.max, timeWindow: s.config.rateLimits.auth.windowMs, keyGenerator: (r: { ip: string }) => `auth:${clientAddress(r.ip)}` }
      : false;

  app.post<{ Body: SignupInput }>('/v1/auth/signup', {
    config: { auth: 'public', rateLimit: authLimit },
    schema: {
      tags: ['auth'],
      summary: 'Create an account',
      body: SignupBody,
      response: { 201: User, ...errorResponses(400, 403, 429) },
    },
    handler: async (req, reply) => reply.status(201).send(await s.accounts.signup(req.body)),
  });

  app.post<{ Body: LoginInput }>('/v1/auth/login', {
    config: { auth: 'public', rateLimit: authLimit },
    schema: {
      tags: ['auth'],
      summary: 'Exchange username (or email) and password for a bearer token',
      body: LoginBody,
      response: { 200: Token, ...errorResponses(400, 401, 429) },
    },
    handler: async (req) => s.accounts.login(req.body.username, req.body.password, req.ip),
  });

  app.get('/v1/me', {
    // A bot may ask who it is without acting for anyone.
    config: { bot: true },
    schema: { tags: ['auth'], summary: 'The caller', security: [{ bearer: [] }], response: { 200: User, ...errorResponses(401) } },
    handler: async (req) => s.accounts.me(caller(req).userId),
  });

  app.get('/v1/me/identities', {
    schema: {
      tags: ['auth'],
      summary: 'The caller’s external identities (provider, external id): the accounts at other services that act as this one through a bot',
      security: [{ bearer: [] }],
      response: { 200: IdentityList, ...errorResponses(401) },
    },
    handler: async (req) => ({ data: await s.accounts.bots.identities(caller(req).userId) }),
  });

  app.post<{ Body: CreateApiKeyInput }>('/v1/api-keys', {
    schema: {
      tags: ['auth'],
      summary: 'Create an API key; its secret is shown only in this response',
      description: 'Needs a login session (a token from /v1/auth/login): an API key cannot create keys (403 SESSION_REQUIRED).',
      security: [{ bearer: [] }],
      body: CreateApiKeyBody,
      response: { 201: ApiKey, ...errorResponses(400, 401, 403, 409) },
    },
    handler: async (req, reply) => reply.status(201).send(await s.accounts.createApiKey(caller(req), req.body.name)),
  });

  app.get('/v1/api-keys', {
    schema: {
      tags: ['auth'],
      summary: 'Active API keys (never their secrets)',
      security: [{ bearer: [] }],
      response: { 200: { type: 'object', properties: { data: { type: 'array', items: ApiKey } } }, ...errorResponses(401) },
    },
    handler: async (req) => ({ data: await s.accounts.listApiKeys(caller(req).userId) }),
  });

  app.delete<{ Params: { id: string } }>('/v1/api-keys/:id', {
    schema: {
      tags: ['auth'],
      summary: 'Revoke an API key',
      security: [{ bearer: [] }],
      params: idParams(),
      response: { 204: noContent, ...errorResponses(401, 404) },
    },
    handler: async (req, reply) => {
      await s.accounts.revokeApiKey(caller(req).userId, req.params.id);
      return reply.status(204).send();
    },
  });
}
