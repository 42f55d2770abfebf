/** Webhook endpoints and deliveries: the shapes the API accepts and returns. */
import { DateTime, FreeObject, Nullable, Out, StringEnum, Type, type Static } from '../schema-kit.js';

/** The job events an endpoint can subscribe to. */
/** `job.sample`: a sample image rendered during training (trainers with sample_every). */
export const JOB_EVENT_TYPES = ['job.started', 'job.succeeded', 'job.failed', 'job.cancelled', 'job.sample'] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];

export const CreateEndpointBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    events: Type.Array(StringEnum(JOB_EVENT_TYPES), { minItems: 1, maxItems: JOB_EVENT_TYPES.length, uniqueItems: true }),
  },
  { additionalProperties: false },
);
export type CreateEndpointInput = Static<typeof CreateEndpointBody>;

const endpointFields = {
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(StringEnum(JOB_EVENT_TYPES)),
  created_at: DateTime(),
  disabled_at: Nullable(DateTime()),
};
export const Endpoint = Out(endpointFields);
/** Only the answer to the creation carries the secret. */
export const CreatedEndpoint = Out({
  ...endpointFields,
  secret: Type.String({ description: "whsec_…: verifies this endpoint's signatures. Shown once, at creation" }),
});

export const Delivery = Out({
  id: Type.String({ description: 'The webhook-id header: the same on every retry' }),
  endpoint_id: Nullable(Type.String()),
  job_id: Nullable(Type.String()),
  url: Type.String(),
  event_type: Type.String(),
  payload: FreeObject(),
  status: StringEnum(['pending', 'delivered', 'failed']),
  attempt_count: Type.Integer(),
  next_attempt_at: Nullable(DateTime()),
  last_status: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  created_at: DateTime(),
  delivered_at: Nullable(DateTime()),
  attempts: Type.Array(
    Out({ attempt: Type.Integer(), status_code: Nullable(Type.Integer()), error: Nullable(Type.String()), duration_ms: Type.Integer(), at: DateTime() }),
  ),
});
