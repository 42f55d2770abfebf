/** Sweeps: the shapes the API accepts and returns. */
import { AnyObject, FreeObject, Out, Type, type Static } from '../schema-kit.js';

export const CreateSweepBody = Type.Object(
  {
    trainer: Type.String({ minLength: 1, maxLength: 100 }),
    dataset_id: Type.String({ minLength: 1, maxLength: 100 }),
    validation_dataset_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    test_dataset_id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        description:
          'A held-out test set every child scores once at the end (as on POST /v1/jobs); the sweep then ranks by test_accuracy unless metric says otherwise',
      }),
    ),
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
    test_dataset_id: Type.Unsafe<string | null>({ type: ['string', 'null'] }),
    points: Type.Array(FreeObject()),
    best: Type.Unsafe<Record<string, unknown> | null>({ type: ['object', 'null'], additionalProperties: true }),
    ranking: Type.Array(FreeObject(), { description: 'Grid points that have the metric, best first: params, mean and std over repeats, n' }),
    notes: Type.Array(Type.String(), {
      description: "Findings a user should see, e.g. a deep model_type scoring below minirocket's on the metric",
    }),
  },
  { additionalProperties: true },
);
