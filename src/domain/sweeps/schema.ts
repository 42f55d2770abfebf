/** Sweeps: the shapes the API accepts and returns. */
import { AnyObject, FreeObject, Out, Type, type Static } from '../schema-kit.js';

export const CreateSweepBody = Type.Object(
  {
    trainer: Type.String({ minLength: 1, maxLength: 100 }),
    dataset_id: Type.String({ minLength: 1, maxLength: 100 }),
    validation_dataset_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    base_model: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    hyperparameters: Type.Optional(AnyObject()),
    /** Hyperparameter name → the values to try; the sweep runs every combination. */
    grid: Type.Unsafe<Record<string, unknown[]>>({
      type: 'object',
      minProperties: 1,
      maxProperties: 10,
      additionalProperties: { type: 'array', minItems: 1, maxItems: 50 },
    }),
    repeats: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, default: 1 })),
    metric: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Metric to rank grid points by (default: the trainer’s primary metric)' })),
    output: Type.Optional(
      Type.Object(
        { model_name: Type.String({ minLength: 1, maxLength: 100 }), description: Type.Optional(Type.String({ maxLength: 2000 })) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type CreateSweepInput = Static<typeof CreateSweepBody>;

export const Sweep = Out(
  {
    id: Type.String(),
    status: Type.String(),
    points: Type.Array(FreeObject()),
    best: Type.Unsafe<Record<string, unknown> | null>({ type: ['object', 'null'], additionalProperties: true }),
  },
  { additionalProperties: true },
);
