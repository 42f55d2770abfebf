/** Credits: the shapes the API accepts and returns. */
import { Nullable, Out, Page, StringEnum, Type, type Static } from '../schema-kit.js';

export const TRANSACTION_TYPES = ['grant', 'hold', 'capture', 'release', 'purchase'] as const;
/** What an entry was for: a job's hold and capture are training or generation, a release gives credits back (refund). */
export const TRANSACTION_PURPOSES = ['training', 'generation', 'purchase', 'grant', 'refund'] as const;
export type TransactionPurpose = (typeof TRANSACTION_PURPOSES)[number];

export const Balance = Out({
  balance: Type.Integer(),
  held: Type.Integer(),
  total_spent: Type.Integer(),
  total_granted: Type.Integer(),
  total_bought: Type.Integer({ description: 'credits bought: the sum of purchases' }),
  billing: StringEnum(['on', 'off']),
});

export const Transaction = Out({
  id: Type.String(),
  type: Type.String(),
  purpose: StringEnum(TRANSACTION_PURPOSES),
  amount: Type.Integer({ description: 'effect on the spendable balance' }),
  credits: Type.Integer(),
  job_id: Nullable(Type.String({ description: 'the job the entry belongs to (training or generation)' })),
  generation_id: Nullable(Type.String({ description: 'the generation the entry belongs to (its id is its job id)' })),
  payment_id: Nullable(Type.String({ description: 'a purchase: the payment’s own id' })),
  note: Nullable(Type.String()),
  created_at: Type.String(),
});
export type TransactionOut = Static<typeof Transaction>;

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

/** POST /v1/credits/purchases: a bot records a payment its user made, once per payment id. */
export const PurchaseBody = Type.Object(
  {
    credits: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }),
    payment_id: Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$', description: 'the payment’s own id: the idempotency key' }),
    note: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type PurchaseInput = Static<typeof PurchaseBody>;

export const Purchase = Out({
  transaction: Transaction,
  balance: Balance,
  replayed: Type.Boolean({ description: 'true when this payment was already recorded (nothing changed)' }),
});
