import type { FastifyInstance } from 'fastify';
import { BaseModel, CatalogCounts, RegisterBaseModelBody, type RegisterBaseModelInput } from '../../../domain/catalog/schema.js';
import {
  AddIdentityBody,
  AdminUser,
  ApiKey,
  Bot,
  BotCreated,
  BotList,
  CreateApiKeyBody,
  CreateBotBody,
  CreateServiceAccountBody,
  EXTERNAL_ID_PATTERN,
  Identity,
  IdentityList,
  PROVIDER_PATTERN,
  UpdateBotBody,
  UpdateUserBody,
  User,
  type AddIdentityInput,
  type CreateApiKeyInput,
  type CreateBotInput,
  type CreateServiceAccountInput,
  type UpdateBotInput,
  type UpdateUserInput,
} from '../../../domain/accounts/schema.js';
import { NotFoundError, ValidationError } from '../../../errors.js';
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
      summary: 'Every account, newest first, with whether it is disabled (admins only)',
      security,
      querystring: pageQuerystring,
      response: { 200: Page(AdminUser), ...errorResponses(401, 403) },
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

  // Bots and external identities (issue #12) -------------------------------------------------

  app.post<{ Body: CreateBotInput }>('/v1/admin/bots', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Create a bot for one identity provider and its API key, shown only in this response (admins only)',
      description:
        'A bot is a service account of role `bot`. With its key and `X-On-Behalf-Of: <external id>` a request is authenticated as the account of that identity at the bot’s provider, created on first sight (with the signup credit grant when `signup_grant`, the default). Needs an admin’s login session (403 SESSION_REQUIRED with an API key). More keys: /v1/admin/service-accounts/{id}/api-keys.',
      security,
      body: CreateBotBody,
      response: { 201: BotCreated, ...errorResponses(400, 401, 403) },
    },
    handler: async (req, reply) => reply.code(201).send(await s.accounts.bots.create(caller(req), req.body)),
  });

  app.get('/v1/admin/bots', {
    config: { auth: 'admin' },
    schema: { tags: ['admin'], summary: 'Every bot, newest first (admins only)', security, response: { 200: BotList, ...errorResponses(401, 403) } },
    handler: async () => ({ data: await s.accounts.bots.list() }),
  });

  app.patch<{ Params: { id: string }; Body: UpdateBotInput }>('/v1/admin/bots/:id', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Change whether the accounts a bot creates get the signup credit grant (admins only)',
      security,
      params: accountParams,
      body: UpdateBotBody,
      response: { 200: Bot, ...errorResponses(401, 403, 404) },
    },
    handler: async (req) => s.accounts.bots.setSignupGrant(req.params.id, req.body.signup_grant),
  });

  const userParams = {
    type: 'object',
    required: ['id'],
    additionalProperties: false,
    properties: { id: { type: 'string', minLength: 1, maxLength: 100, description: 'The account’s id or username' } },
  } as const;
  const user = async (idOrUsername: string) => {
    const u = await s.accounts.find(idOrUsername);
    if (!u) throw new NotFoundError('user', idOrUsername);
    return u;
  };

  app.patch<{ Params: { id: string }; Body: UpdateUserInput }>('/v1/admin/users/:id', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Promote or demote an account (user ↔ admin), disable or enable it (admins only)',
      description:
        'A disabled account is refused from its next request on: log-in, its access tokens and its API keys answer 401 (a bot acting for it, 403 ACCOUNT_DISABLED); enabling it lets them in again. An admin cannot demote or disable themself (409 CANNOT_CHANGE_SELF); a bot’s role is fixed and a service account is never an admin (409 ROLE_NOT_ALLOWED). Answers the account as it now is.',
      security,
      params: userParams,
      body: UpdateUserBody,
      response: { 200: AdminUser, ...errorResponses(400, 401, 403, 404, 409) },
    },
    handler: async (req) => s.accounts.updateUser(caller(req), req.params.id, req.body),
  });

  app.get<{ Params: { id: string } }>('/v1/admin/users/:id/identities', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'An account’s external identities (admins only)',
      security,
      params: userParams,
      response: { 200: IdentityList, ...errorResponses(401, 403, 404) },
    },
    handler: async (req) => ({ data: await s.accounts.bots.identities((await user(req.params.id)).id) }),
  });

  app.post<{ Params: { id: string }; Body: AddIdentityInput }>('/v1/admin/users/:id/identities', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Link an external identity to an account (admins only); an identity names one account (409 IDENTITY_TAKEN)',
      security,
      params: userParams,
      body: AddIdentityBody,
      response: { 201: Identity, ...errorResponses(400, 401, 403, 404, 409) },
    },
    handler: async (req, reply) =>
      reply.code(201).send(await s.accounts.bots.addIdentity((await user(req.params.id)).id, req.body.provider, req.body.external_id, caller(req).userId)),
  });

  app.delete<{ Params: { id: string; provider: string; externalId: string } }>('/v1/admin/users/:id/identities/:provider/:externalId', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Unlink an external identity from an account (admins only)',
      security,
      params: {
        type: 'object',
        required: ['id', 'provider', 'externalId'],
        additionalProperties: false,
        properties: {
          ...userParams.properties,
          provider: { type: 'string', pattern: PROVIDER_PATTERN, maxLength: 16 },
          externalId: { type: 'string', pattern: EXTERNAL_ID_PATTERN, maxLength: 128 },
        },
      },
      response: { 204: noContent, ...errorResponses(401, 403, 404) },
    },
    handler: async (req, reply) => {
      await s.accounts.bots.removeIdentity((await user(req.params.id)).id, req.params.provider, req.params.externalId);
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
      summary: 'Register a base model (admins only): a folder on the server, copied into the store, or a folder already in the store (uri)',
      description:
        'Give exactly one of `path` and `uri`. Its `source` becomes the store URI (models/{id}/ for a copied folder); workers fetch it from the store into their own cache, so no worker needs this server’s paths. A big folder takes a while to copy: progress is in the server log.',
      security,
      body: RegisterBaseModelBody,
      response: { 201: BaseModel, ...errorResponses(400, 401, 403, 409) },
    },
    handler: async (req, reply) => {
      const b = req.body;
      if ((b.path === undefined) === (b.uri === undefined))
        throw new ValidationError('BASE_MODEL_SOURCE_REQUIRED', 'give exactly one of path (a folder on the server) and uri (a folder in the store)');
      const m = await s.catalog.registerBaseModel(
        {
          id: b.id,
          name: b.name ?? b.id,
          description: b.description ?? '',
          architecture: b.architecture,
          trainers: b.trainers,
          ...(b.version ? { version: b.version } : {}),
          ...(b.model_type ? { model_type: b.model_type } : {}),
          ...(b.base_architecture ? { base_architecture: b.base_architecture } : {}),
          ...(b.supported_lora_params ? { supported_lora_params: b.supported_lora_params } : {}),
        },
        b.uri !== undefined ? { uri: b.uri } : { path: b.path! },
        caller(req).userId,
      );
      return reply.code(201).send(m);
    },
  });

  app.delete<{ Params: { id: string } }>('/v1/admin/base-models/:id', {
    config: { auth: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Remove a registered base model (admins only); its files and store objects stay where they are',
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
