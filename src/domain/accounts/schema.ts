/** Accounts and API keys: the shapes the API accepts and returns. */
import { DateTime, Nullable, Out, StringEnum, Type, type Static } from '../schema-kit.js';

/** 'bot' acts for its provider's users (X-On-Behalf-Of); only 'admin' is ever an admin. */
export const ROLES = ['user', 'admin', 'bot'] as const;

export const SignupBody = Type.Object(
  { username: Type.String({ maxLength: 64 }), email: Type.String({ maxLength: 320 }), password: Type.String({ maxLength: 256 }) },
  { additionalProperties: false },
);
export type SignupInput = Static<typeof SignupBody>;

export const LoginBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 320 }), password: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
export type LoginInput = Static<typeof LoginBody>;

export const CreateApiKeyBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });
export type CreateApiKeyInput = Static<typeof CreateApiKeyBody>;

const userFields = {
  id: Type.String(),
  username: Type.String(),
  email: Type.String(),
  role: StringEnum(ROLES),
  service_account: Type.Boolean({ description: 'No password and no login: acts through API keys an admin created for it' }),
  created_at: DateTime(),
};
export const User = Out(userFields);

/** An account as admins see it (GET /v1/admin/users, PATCH /v1/admin/users/{id}): whether it is disabled. */
export const AdminUser = Out({
  ...userFields,
  disabled: Type.Boolean({ description: 'A disabled account is refused from its next request on: log-in, access tokens and API keys answer 401' }),
  disabled_at: Nullable(DateTime()),
});

/** PATCH /v1/admin/users/{id}: promote or demote (user ↔ admin), disable or enable. */
export const UpdateUserBody = Type.Object(
  {
    role: Type.Optional(
      StringEnum(['user', 'admin'] as const, { description: 'user or admin; a bot’s role is fixed and a service account is never an admin' }),
    ),
    disabled: Type.Optional(Type.Boolean({ description: 'true: refused from its next request on (sessions, API keys, log-in); false: allowed again' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateUserInput = Static<typeof UpdateUserBody>;

export const CreateServiceAccountBody = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
export type CreateServiceAccountInput = Static<typeof CreateServiceAccountBody>;

export const ApiKey = Out({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  secret: Type.String({ description: 'Shown once, at creation' }),
  created_at: DateTime(),
  last_used_at: Nullable(DateTime()),
});

export const Token = Out({ access_token: Type.String(), token_type: StringEnum(['bearer']), expires_in: Type.Integer() });

// Bots and external identities (issue #12) ---------------------------------------------------

export const PROVIDER_PATTERN = '^[a-z][a-z0-9-]{1,15}$';
/** Printable ASCII without spaces: a Telegram id, an OAuth subject, an email address. */
export const EXTERNAL_ID_PATTERN = '^[\\x21-\\x7e]{1,128}$';

const Provider = Type.String({
  minLength: 2,
  maxLength: 16,
  pattern: PROVIDER_PATTERN,
  description: 'lower-case name of the identity provider, e.g. telegram',
});
const ExternalId = Type.String({ minLength: 1, maxLength: 128, pattern: EXTERNAL_ID_PATTERN, description: "the user's id at the provider" });

export const Identity = Out({ provider: Type.String(), external_id: Type.String(), user_id: Type.String(), created_at: DateTime() });
export const IdentityList = Out({ data: Type.Array(Identity) });

export const AddIdentityBody = Type.Object({ provider: Provider, external_id: ExternalId }, { additionalProperties: false });
export type AddIdentityInput = Static<typeof AddIdentityBody>;

export const CreateBotBody = Type.Object(
  {
    provider: Provider,
    name: Type.String({ minLength: 1, maxLength: 64, description: "the bot account's username" }),
    signup_grant: Type.Optional(
      Type.Boolean({ default: true, description: 'accounts it creates on first sight get the signup credit grant (SIGNUP_CREDIT_GRANT), or none' }),
    ),
  },
  { additionalProperties: false },
);
export type CreateBotInput = Static<typeof CreateBotBody>;

export const UpdateBotBody = Type.Object({ signup_grant: Type.Boolean() }, { additionalProperties: false });
export type UpdateBotInput = Static<typeof UpdateBotBody>;

export const Bot = Out({
  id: Type.String(),
  username: Type.String(),
  provider: Type.String(),
  signup_grant: Type.Boolean(),
  created_at: DateTime(),
});
export const BotList = Out({ data: Type.Array(Bot) });
export const BotCreated = Out({ bot: Bot, api_key: ApiKey });
