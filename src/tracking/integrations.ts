/**
 * A job's experiment-tracking integrations (issue #17): what POST /v1/jobs accepts, how each
 * is checked at creation, and the shape stored on the job (with how its logging went).
 * Only MLflow for now; the `type` field leaves room for others.
 */
import { AppError, ValidationError } from '../errors.js';
import { Nullable, Out, StringEnum, Type, type Static } from '../domain/schema-kit.js';

export const MAX_INTEGRATIONS = 4;
export const INTEGRATION_TYPES = ['mlflow'] as const;
export const INTEGRATION_STATUSES = ['pending', 'logged', 'failed'] as const;
export type IntegrationStatus = (typeof INTEGRATION_STATUSES)[number];

export const IntegrationInput = Type.Object(
  {
    type: StringEnum(INTEGRATION_TYPES),
    tracking_uri: Type.String({
      minLength: 1,
      maxLength: 2048,
      description: "The MLflow tracking server's base URL (http or https); checked by the same address rules as webhook URLs",
    }),
    experiment: Type.String({ minLength: 1, maxLength: 500, description: 'The MLflow experiment name; created when it does not exist' }),
  },
  { additionalProperties: false },
);
export type IntegrationInput = Static<typeof IntegrationInput>;

export const IntegrationsField = Type.Array(IntegrationInput, {
  maxItems: MAX_INTEGRATIONS,
  description:
    'Experiment trackers the job is logged to once it ends (parameters, metric history, artifacts), without delaying it: [{type: "mlflow", tracking_uri, experiment}]',
});

/** One integration as stored on the job and shown by the API. */
export interface StoredIntegration extends IntegrationInput {
  status: IntegrationStatus;
  run_id: string | null;
  experiment_id: string | null;
  error: string | null;
}

export const JobIntegration = Out({
  type: Type.String(),
  tracking_uri: Type.String(),
  experiment: Type.String(),
  status: StringEnum(INTEGRATION_STATUSES, { description: 'pending until the job has ended and been logged; failed with error when the tracker refused' }),
  run_id: Nullable(Type.String()),
  experiment_id: Nullable(Type.String()),
  error: Nullable(Type.String()),
});

/** What a model version records of the run it was logged as (model_versions.integrations). */
export const VersionIntegrations = Out(
  { mlflow: Out({ run_id: Type.String(), experiment_id: Type.String(), tracking_uri: Type.String(), status: Type.String() }) },
  { description: 'The experiment-tracker runs this version was logged as; empty until its job has been logged' },
);

/**
 * Checks each tracking_uri with `checkUrl` (the webhook address guard: scheme, credentials,
 * forbidden addresses, DNS) and returns the entries as stored, pending. The guard's stable
 * codes come back as they are, with `details.field` naming the entry.
 */
export async function prepareIntegrations(list: IntegrationInput[] | undefined, checkUrl: (url: string) => Promise<void>): Promise<StoredIntegration[]> {
  const out: StoredIntegration[] = [];
  for (const [i, it] of (list ?? []).entries()) {
    const field = `integrations[${i}].tracking_uri`;
    try {
      await checkUrl(it.tracking_uri);
    } catch (err) {
      if (err instanceof AppError)
        throw new AppError(err.code, `${field}: ${err.message.replace(/^webhook urls?/i, 'tracking URIs')}`, {
          status: 400,
          details: { ...(err.details as Record<string, unknown> | undefined), field },
        });
      throw err;
    }
    if (out.some((o) => o.tracking_uri === it.tracking_uri && o.experiment === it.experiment))
      throw new ValidationError('INTEGRATION_REPEATED', `integrations[${i}] repeats an earlier entry`, { field: `integrations[${i}]` });
    out.push({ type: it.type, tracking_uri: it.tracking_uri, experiment: it.experiment, status: 'pending', run_id: null, experiment_id: null, error: null });
  }
  return out;
}
