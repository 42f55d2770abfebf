import type { FastifyInstance } from 'fastify';
import { BaseModel, CatalogCounts, RegisterBaseModelBody, type RegisterBaseModelInput } from '../../../domain/catalog/schema.js';
import {
  ApiKey,
  CreateApiKeyBody,
  CreateServiceAccountBody,
  User,
  type CreateApiKeyInput,
  type CreateServiceAccountInput,
} from '../../../domain/accounts/schema.js';
import { Page } from '../../../domain/schema-kit.js';
import type { Services } from '../../../services.js';
import { caller } from '../../types.js';
import { errorResponses, idParams, noContent, pageQuerystring, security, type PageQuery } from '../../schemas.js';

export type AdminDeps = Pick<Services, 'accounts' | 'catalog'>;

export default function adminRoutes(app: FastifyInstance, s: AdminDeps) {
  app.get<{ Querystring: PageQuery }>('/v1/admin/users', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Every account (admins only)',
      security,
      querystring: pageQuerystring,
      response: { 200: Page(User), ...errorResponses(401, 403) },
    },
    handler: async (req) => s.accounts.listUsers(req.query.limit, req.query.cursor),
  });

  app.post<{ Body: CreateServiceAccountInput }>('/v1/admin/service-accounts', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Create a service account (admins only): no password, cannot log in, acts through API keys an admin creates',
      description: 'It owns and pays for its jobs like any account; grant it credits with POST /v1/admin/credits/grants.',
      security,
      body: CreateServiceAccountBody,
      response: { 201: User, ...errorResponses(400, 401, 403) },
    },
    handler: async (req, reply) => reply.code(201).send(await s.accounts.createServiceAccount(req.body.username)),
  });

  app.get('/v1/admin/service-accounts', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Every service account, newest first (admins only)',
      security,
      response: { 200: { type: 'object', properties: { data: { type: 'array', items: User } } }, ...errorResponses(401, 403) },
    },
    handler: async () => ({ data: await s.accounts.listServiceAccounts() }),
  });

  const accountParams = {
    type: 'object',
    required: ['id'],
    additionalProperties: false,
    properties: { id: { type: 'string', minLength: 1, maxLength: 100, description: 'The service account’s id or username' } },
  } as const;

  app.post<{ Params: { id: string }; Body: CreateApiKeyInput }>('/v1/admin/service-accounts/:id/api-keys', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Create an API key for a service account (admins only); its secret is shown only in this response',
      description: 'Needs an admin’s login session, like a user’s own keys (403 SESSION_REQUIRED with an API key).',
      security,
      params: accountParams,
      body: CreateApiKeyBody,
      response: { 201: ApiKey, ...errorResponses(400, 401, 403, 404, 409) },
    },
    handler: async (req, reply) => reply.code(201).send(await s.accounts.createServiceAccountKey(caller(req), req.params.id, req.body.name)),
  });

  app.get<{ Params: { id: string } }>('/v1/admin/service-accounts/:id/api-keys', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'A service account’s active API keys, never their secrets (admins only)',
      security,
      params: accountParams,
      response: { 200: { type: 'object', properties: { data: { type: 'array', items: ApiKey } } }, ...errorResponses(401, 403, 404) },
    },
    handler: async (req) => ({ data: await s.accounts.listServiceAccountKeys(req.params.id) }),
  });

  app.delete<{ Params: { id: string; keyId: string } }>('/v1/admin/service-accounts/:id/api-keys/:keyId', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Revoke a service account’s API key (admins only)',
      security,
      params: {
        type: 'object',
        required: ['id', 'keyId'],
        additionalProperties: false,
        properties: { ...accountParams.properties, keyId: { type: 'string', minLength: 1, maxLength: 100 } },
      },
      response: { 204: noContent, ...errorResponses(401, 403, 404) },
    },
    handler: async (req, reply) => {
      await s.accounts.revokeServiceAccountKey(req.params.id, req.params.keyId);
      return reply.code(204).send();
    },
  });

  app.post('/v1/admin/catalog/reload', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Re-read DATA_DIR/catalog.json and re-probe trainer runtimes, the Python environment included (admins only)',
      security,
      response: { 200: CatalogCounts, ...errorResponses(401, 403) },
    },
    handler: async () => {
      await s.catalog.load({ reprobe: true });
      await s.catalog.ready();
      return { trainers: s.catalog.listTrainers().length, base_models: s.catalog.listBaseModels().length };
    },
  });

  app.post<{ Body: RegisterBaseModelInput }>('/v1/admin/base-models', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Register a local folder as a base model (admins only); nothing is downloaded',
      security,
      body: RegisterBaseModelBody,
      response: { 201: BaseModel, ...errorResponses(400, 401, 403, 409) },
    },
    handler: async (req, reply) => {
      const b = req.body;
      const m = await s.catalog.registerBaseModel(
        {
          id: b.id,
          name: b.name ?? b.id,
          description: b.description ?? '',
          architecture: b.architecture,
          trainers: b.trainers,
          source: b.path,
          ...(b.version ? { version: b.version } : {}),
          ...(b.supported_lora_params ? { supported_lora_params: b.supported_lora_params } : {}),
        },
        caller(req).userId,
      );
      return reply.code(201).send(m);
    },
  });

  app.delete<{ Params: { id: string } }>('/v1/admin/base-models/:id', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Remove a registered base model (admins only); its files stay where they are',
      security,
      params: idParams(),
      response: { 204: noContent, ...errorResponses(401, 403, 404, 409) },
    },
    handler: async (req, reply) => {
      await s.catalog.unregisterBaseModel(req.params.id);
      return reply.code(204).send();
    },
  });
}
