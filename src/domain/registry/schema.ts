/** The model registry: the shapes the API accepts and returns. */
import { MetricGoalField, MetricName } from './metric.js';
import { VersionIntegrations } from '../../tracking/integrations.js';
import { FreeObject, Nullable, Out, PageLimit, PageNumber, StringEnum, Type, VersionNumber, type Static, type WithDefaults } from '../schema-kit.js';

export const VISIBILITIES = ['private', 'public'] as const;

export const Model = Out({
  name: Type.String(),
  owner: Type.String(),
  visibility: StringEnum(VISIBILITIES),
  description: Nullable(Type.String()),
  tags: Type.Array(Type.String()),
  trigger_word: Nullable(Type.String()),
  trainer: Type.String(),
  primary_metric: Nullable(Type.String()),
  metric_goal: Nullable(Type.String()),
  popularity: Type.Integer(),
  version_count: Type.Integer(),
  aliases: Type.Unsafe<Record<string, number>>({ type: 'object', additionalProperties: { type: 'integer' } }),
  latest_version: Type.Unsafe<Record<string, unknown> | null>({ type: ['object', 'null'], additionalProperties: true }),
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const ModelVersion = Out(
  {
    version: Type.Integer(),
    metrics: FreeObject(),
    artifacts: Type.Array(FreeObject()),
    integrations: VersionIntegrations,
  },
  { additionalProperties: true },
);

export const ListModelsQuery = Type.Object(
  {
    visibility: Type.Optional(StringEnum(['public'])),
    sort: Type.Optional(StringEnum(['newest', 'popular'], { default: 'newest' })),
    page: Type.Optional(PageNumber()),
    limit: Type.Optional(PageLimit(100, 20)),
  },
  { additionalProperties: false },
);
export type ListModelsInput = WithDefaults<Static<typeof ListModelsQuery>, 'sort' | 'page' | 'limit'>;

export const ModelList = Out({ data: Type.Array(Model), page: Type.Integer(), has_more: Type.Boolean() });

export const UpdateModelBody = Type.Object(
  {
    visibility: Type.Optional(StringEnum(VISIBILITIES)),
    description: Type.Optional(Nullable(Type.String({ maxLength: 2000 }))),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: 20 })),
    trigger_word: Type.Optional(Nullable(Type.String({ maxLength: 50 }))),
    primary_metric: Type.Optional(
      MetricName('The metric `best` is chosen by (e.g. test_accuracy, cv_accuracy); changing it re-chooses `best` over the versions that have it'),
    ),
    metric_goal: Type.Optional(MetricGoalField('Which way is better; inferred for *accuracy, *f1, *auc (maximize) and *loss (minimize), else required')),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateModelInput = Static<typeof UpdateModelBody>;

export const SetAliasBody = Type.Object({ version: VersionNumber() }, { additionalProperties: false });
export type SetAliasInput = Static<typeof SetAliasBody>;

export const Alias = Out({ alias: Type.String(), version: Type.Integer(), history: Type.Array(FreeObject()) });

export const ArtifactUrl = Out({
  name: Type.String(),
  format: Type.String(),
  bytes: Type.Integer(),
  sha256: Type.String(),
  url: Type.String(),
  expires_at: Type.String(),
});
