/** Predictions and the model cache: the shapes the API accepts and returns. */
import { Nullable, Out, StringEnum, Type, type Static } from '../domain/schema-kit.js';

/** Which version of a model: a number or an alias; neither means the latest. */
const which = { version: Type.Optional(Type.Integer({ minimum: 1 })), alias: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })) };

export const PredictBody = Type.Object({ ...which, instances: Type.Array(Type.Unknown(), { minItems: 1 }) }, { additionalProperties: false });
export type PredictInput = Static<typeof PredictBody>;

/** The body is optional: none (or null) loads the latest version. */
export const LoadBody = Nullable(Type.Object(which, { additionalProperties: false }));
export type LoadInput = NonNullable<Static<typeof LoadBody>>;

export const Predictions = Out({
  model: Type.String(),
  version: Type.Integer(),
  predictions: Type.Array(
    Out({
      // In the type of the training labels (3, not "3"); probabilities stay keyed by the class text.
      label: Type.Union([Type.String(), Type.Number(), Type.Boolean()]),
      probabilities: Type.Unsafe<Record<string, number>>({ type: 'object', additionalProperties: { type: 'number' } }),
      filled: Type.Optional(Type.Integer({ minimum: 1, description: 'Missing values of this instance filled with their training mean' })),
    }),
  ),
  took_ms: Type.Number(),
});

export const CacheEntry = Out(
  { model: Type.String(), version: Type.Integer(), state: StringEnum(['loading', 'ready', 'error']), progress: Type.Number() },
  { additionalProperties: true },
);
