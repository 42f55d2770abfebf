/** Accounts and API keys: the shapes the API accepts and returns. */
import { DateTime, Nullable, Out, StringEnum, Type, type Static } from '../schema-kit.js';

export const ROLES = ['user', 'admin'] as const;

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

export const User = Out({
  id: Type.String(),
  username: Type.String(),
  email: Type.String(),
  role: StringEnum(ROLES),
  service_account: Type.Boolean({ description: 'No password and no login: acts through API keys an admin created for it' }),
  created_at: DateTime(),
});

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
