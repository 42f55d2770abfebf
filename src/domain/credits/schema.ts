/** Credits: the shapes the API accepts and returns. */
import { Nullable, Out, Page, StringEnum, Type, type Static } from '../schema-kit.js';

export const TRANSACTION_TYPES = ['grant', 'hold', 'capture', 'release'] as const;

export const Balance = Out({
  balance: Type.Integer(),
  held: Type.Integer(),
  total_spent: Type.Integer(),
  total_granted: Type.Integer(),
  billing: StringEnum(['on', 'off']),
});

export const Transaction = Out({
  id: Type.String(),
  type: Type.String(),
  amount: Type.Integer({ description: 'effect on the spendable balance' }),
  credits: Type.Integer(),
  job_id: Nullable(Type.String()),
  note: Nullable(Type.String()),
  created_at: Type.String(),
});

export const TransactionPage = Page(Transaction);

/** POST /v1/admin/credits/grants: exactly one of user_id or username (checked by the route). */
export const GrantCreditsBody = Type.Object(
  {
    user_id: Type.Optional(Type.String({ maxLength: 100 })),
    username: Type.Optional(Type.String({ maxLength: 64 })),
    credits: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }),
    note: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type GrantCreditsInput = Static<typeof GrantCreditsBody>;
