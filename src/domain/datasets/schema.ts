/** Datasets: the shapes the API accepts and returns. */
import { DateTime, FreeObject, Nullable, Out, Page, StringEnum, Type, type Static } from '../schema-kit.js';
import { DATASET_KINDS } from './validate/types.js';

export const DATASET_STATUSES = ['processing', 'ready', 'error'] as const;

/** Per-kind options; each validator reads the ones that concern it. */
export const DatasetOptions = Type.Object(
  {
    label_column: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'tabular-csv: the column to predict' })),
    instance_column: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'tabular-csv: each distinct value is one instance (a recording); the label must be constant within it',
      }),
    ),
    order_column: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'tabular-csv: orders rows in time (within each instance when instance_column is set)' }),
    ),
    text_field: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'text-classification-jsonl: default "text"' })),
    label_field: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'text-classification-jsonl: default "label"' })),
  },
  { additionalProperties: false },
);

/** The body of POST /v1/datasets; how many files a dataset may have is configured. */
export const createDatasetBody = (maxFiles: number) =>
  Type.Object(
    {
      name: Type.String({ minLength: 1, maxLength: 100 }),
      kind: StringEnum(DATASET_KINDS),
      file_ids: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: maxFiles }),
      description: Type.Optional(Type.String({ maxLength: 2000 })),
      options: Type.Optional(DatasetOptions),
    },
    { additionalProperties: false },
  );
export type CreateDatasetInput = Static<ReturnType<typeof createDatasetBody>>;

/** What GET /v1/datasets filters on (beside the page); the route adds the paging fields. */
export const DatasetsFilter = Type.Object({ kind: Type.Optional(StringEnum(DATASET_KINDS)), status: Type.Optional(StringEnum(DATASET_STATUSES)) });
export type DatasetsFilterInput = Static<typeof DatasetsFilter>;

export const Dataset = Out({
  id: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  description: Nullable(Type.String()),
  options: FreeObject(),
  status: StringEnum(DATASET_STATUSES),
  stats: Type.Unsafe<Record<string, unknown> | null>({ type: ['object', 'null'], additionalProperties: true }),
  errors: Type.Array(FreeObject()),
  error_count: Type.Integer(),
  file_count: Type.Integer(),
  total_bytes: Type.Integer(),
  file_ids: Type.Array(Type.String()),
  created_at: DateTime(),
  updated_at: DateTime(),
});

export const DatasetPage = Page(Dataset);
