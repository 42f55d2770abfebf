/** Training jobs: the shapes the API accepts and returns. */
import { AnyObject, DateTime, FreeObject, Nullable, Out, Page, StringEnum, Type, VersionNumber, type Static } from '../schema-kit.js';
import { MetricGoalField, MetricName } from '../registry/metric.js';
import { ESTIMATE_SOURCES } from './estimate.js';
import { ALL_STATES } from './states.js';
import { IntegrationsField, JobIntegration } from '../../tracking/integrations.js';

const nullableDate = () => Nullable(DateTime());

export const CreateJobBody = Type.Object(
  {
    trainer: Type.String({ minLength: 1, maxLength: 100 }),
    from_model: Type.Optional(
      Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 200 }),
          version: Type.Optional(VersionNumber()),
          alias: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
        },
        { additionalProperties: false, description: 'Retraining: warm-start from a version (or alias) of one of your models' },
      ),
    ),
    dataset_id: Type.String({ minLength: 1, maxLength: 100 }),
    validation_dataset_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    test_dataset_id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        description:
          'A held-out test set (trainers with supports_test_set): same kind and columns as dataset_id, never trained or early-stopped on, scored once at the end (test_accuracy, test_macro_f1 in the result)',
      }),
    ),
    base_model: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    /** Checked against the trainer's own JSON Schema when the job is created. */
    hyperparameters: Type.Optional(AnyObject()),
    output: Type.Object(
      {
        model_name: Type.String({ minLength: 1, maxLength: 100 }),
        description: Type.Optional(Type.String({ maxLength: 2000 })),
        if_exists: Type.Optional(
          StringEnum(['new_version', 'fail'], {
            description:
              'new_version (the default): a model of this name gets a new version. fail: 409 MODEL_NAME_EXISTS when you have a model of this name or a queued or running job training one',
          }),
        ),
        primary_metric: Type.Optional(
          MetricName(
            "The metric the new model's `best` alias is chosen by (default: the trainer's primary metric). For an existing model it must be the model's own (else 409 MODEL_METRIC_MISMATCH: PATCH /v1/models/{name} to change it)",
          ),
        ),
        metric_goal: Type.Optional(MetricGoalField('With primary_metric: which way is better (inferred for *accuracy, *f1, *auc and *loss)')),
      },
      { additionalProperties: false },
    ),
    metadata: Type.Optional(AnyObject({ maxProperties: 50 })),
    webhook_url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    priority: Type.Optional(Type.Integer({ minimum: -100, maximum: 100, default: 0 })),
    integrations: Type.Optional(IntegrationsField),
  },
  { additionalProperties: false },
);
export type CreateJobInput = Static<typeof CreateJobBody>;

/** What GET /v1/jobs filters on (beside the page and scope, which the route handles). */
export const JobsFilter = Type.Object({
  status: Type.Optional(StringEnum(ALL_STATES)),
  trainer: Type.Optional(Type.String({ maxLength: 100 })),
  model_name: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Only training jobs whose output model has this name' })),
});
export type JobsFilterInput = Static<typeof JobsFilter>;

/** A job as the API shows it (see publicJob in shape.ts). */
export const Job = Out({
  id: Type.String(),
  kind: Type.String(),
  trainer: Type.String(),
  status: StringEnum(ALL_STATES),
  queue_position: Nullable(
    Type.Integer({
      minimum: 0,
      description:
        'For a queued job: how many queued jobs are ahead of it, counted as those of higher priority, or of the same priority created earlier. An approximation: workers share the queue fairly between owners (the owner with fewer running jobs first) and priority orders only an owner’s own jobs, so the real order may differ. Null for a job that is not queued, and in lists (GET /v1/jobs, sweeps) and webhooks; GET /v1/jobs/{id} and POST /v1/jobs fill it in',
    }),
  ),
  priority: Type.Integer(),
  dataset_id: Nullable(Type.String()),
  validation_dataset_id: Nullable(Type.String()),
  test_dataset_id: Nullable(Type.String()),
  base_model: Nullable(Type.String()),
  hyperparameters: FreeObject(),
  output: Type.Unsafe<Record<string, unknown> | null>({
    type: ['object', 'null'],
    additionalProperties: true,
    description: 'The model a training job produces; null for inference jobs',
  }),
  metadata: FreeObject(),
  webhook_url: Nullable(Type.String()),
  integrations: Type.Array(JobIntegration, { description: 'The experiment trackers this job is logged to, and how that went' }),
  cost: Type.Integer({ description: 'Credits held at creation, captured on success, released on failure or cancel' }),
  attempt: Type.Integer(),
  max_attempts: Type.Integer(),
  progress: Out({
    fraction: Type.Number(),
    step: Nullable(Type.Integer()),
    total_steps: Nullable(Type.Integer()),
    epoch: Nullable(Type.Number()),
    eta_seconds: Nullable(Type.Number()),
  }),
  preview_image_url: Nullable(
    Type.String({ description: 'The latest sample image (trainers with sample_every): GET it as the owner for a redirect to a signed URL' }),
  ),
  error: Nullable(Out({ code: Type.String(), message: Type.String() })),
  result: Type.Unsafe<Record<string, unknown> | null>({ type: ['object', 'null'], additionalProperties: true }),
  model_version_id: Nullable(Type.String()),
  from_model: Nullable(Out({ name: Type.String(), version: Type.Integer() })),
  sweep_id: Nullable(Type.String()),
  estimated_duration_seconds: Nullable(
    Type.Number({
      description:
        "Expected run time, estimated at creation from the trainer's recent runs here (or its catalog figure) × this job's steps or epochs; while running, progress.eta_seconds is the trainer's own",
    }),
  ),
  estimate_source: StringEnum(ESTIMATE_SOURCES, {
    description: 'history: measured on this deployment; catalog: the trainer entry’s figure; none: no estimate',
  }),
  created_at: DateTime(),
  started_at: nullableDate(),
  finished_at: nullableDate(),
  updated_at: DateTime(),
});

export const JobPage = Page(Job);

/** POST /v1/jobs/quote: what creating the job would cost, checked as creation checks it. */
export const JobQuote = Out({
  trainer: Type.String(),
  hyperparameters: FreeObject({ description: 'With the trainer’s defaults filled in, as the job would run' }),
  cost: Type.Integer({ description: 'Credits the job would hold at creation' }),
});

export const JobEvent = Out({ seq: Type.Integer(), type: Type.String(), data: FreeObject(), created_at: Type.String() });
export const JobEvents = Out({ data: Type.Array(JobEvent) });
export const JobLogs = Out({ data: Type.Array(FreeObject()) });
export const JobMetrics = Out({ metrics: FreeObject() });

/** A sample image rendered during training (GET /v1/jobs/{id}/samples). */
export const JobSample = Out({
  n: Type.Integer({ description: 'Sample number within the job: 1, 2, …' }),
  step: Type.Integer(),
  prompt: Type.String(),
  image_url: Type.String({ description: 'Stable URL (relative to the API): redirects the owner to a fresh signed URL' }),
  attempt: Type.Integer(),
  format: Type.String(),
  bytes: Type.Integer(),
  sha256: Type.String(),
  url: Type.String({ description: 'Signed download URL' }),
  expires_at: DateTime(),
  created_at: DateTime(),
});
export const JobSamples = Out({ data: Type.Array(JobSample) });
