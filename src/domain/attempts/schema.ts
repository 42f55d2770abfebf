/**
 * The shapes of /v1/jobs/{job_id}/attempts/{attempt}/…: what a remote launcher sends and gets.
 * Each event's own fields are checked by the trainer protocol's parser (service.ts), not here:
 * one definition of a valid event for local and remote trainers alike.
 */
import { DateTime, FreeObject, Nullable, Out, StringEnum, Type, type Static } from '../schema-kit.js';
import { UPLOAD_NAME_PATTERN } from './keys.js';

/** Events per batch: a launcher sends what it gathered in a moment, not a whole run. */
export const MAX_BATCH_EVENTS = 1000;

export const AttemptParams = Type.Object(
  {
    job_id: Type.String({ minLength: 1, maxLength: 100 }),
    attempt: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  },
  { additionalProperties: false },
);
export type AttemptParams = Static<typeof AttemptParams>;

const EVENT_TYPES = ['progress', 'metrics', 'log', 'checkpoint', 'artifact', 'sample', 'result', 'stdout', 'stderr'] as const;

export const LauncherEvent = FreeObject({
  required: ['type'],
  properties: { type: StringEnum(EVENT_TYPES) },
  description:
    'A trainer protocol event as the trainer printed it, or {type: stdout|stderr, line}. A checkpoint is {type, step, key, name} and a sample {type, step, prompt, key}, naming an object uploaded through /uploads.',
});

export const EventBatch = Type.Object(
  {
    seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: "The number of the batch's first event (0-based, per attempt)" }),
    events: Type.Array(LauncherEvent, { minItems: 1, maxItems: MAX_BATCH_EVENTS }),
  },
  { additionalProperties: false },
);
export type EventBatch = Static<typeof EventBatch>;

export const IngestReply = Out({
  next_seq: Type.Integer({ description: 'The number of the next event the API expects' }),
  cancel_requested: Type.Boolean({ description: 'The job is being cancelled: stop the trainer (SIGTERM), then report through /finish' }),
});

export const UploadRequest = Type.Object(
  {
    kind: StringEnum(['checkpoint', 'artifact', 'sample']),
    name: Type.String({ pattern: UPLOAD_NAME_PATTERN, maxLength: 100 }),
    bytes: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  },
  { additionalProperties: false },
);
export type UploadRequest = Static<typeof UploadRequest>;

export const UploadReply = Out({
  key: Type.String(),
  url: Type.String(),
  method: Type.String({ enum: ['PUT'] }),
  expires_at: DateTime(),
});

const Num = Type.Number();

export const FinishReport = Type.Object(
  {
    exit_code: Nullable(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 })),
    signal: Nullable(Type.String({ maxLength: 20 })),
    stopped: Type.Boolean({ description: 'The launcher stopped the trainer (SIGTERM: a cancel, a deadline, the pod or batch job ending)' }),
    killed: Type.Boolean({ description: 'The trainer outlived its grace period and was killed' }),
    stderr_tail: Type.Array(Type.String({ maxLength: 4000 }), { maxItems: 50 }),
    last_error: Nullable(Type.String({ maxLength: 8000 })),
    result: Nullable(
      Type.Object(
        {
          metrics: Type.Record(Type.String({ maxLength: 200 }), Num, { maxProperties: 200 }),
          details: Type.Optional(FreeObject()),
        },
        { additionalProperties: false },
      ),
    ),
    artifacts: Type.Array(
      Type.Object(
        {
          name: Type.String({ pattern: UPLOAD_NAME_PATTERN, maxLength: 100 }),
          format: Type.String({ minLength: 1, maxLength: 100 }),
          key: Type.String({ minLength: 1, maxLength: 500 }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 200 },
    ),
  },
  { additionalProperties: false },
);
export type FinishReport = Static<typeof FinishReport>;

export const FinishReply = Out({ finished: Type.Boolean(), reported_at: DateTime() });

const Download = Out({ path: Type.String(), url: Type.String(), bytes: Type.Integer(), sha256: Type.String() });

export const AttemptSpecReply = Out({
  spec: FreeObject({ description: "The trainer protocol's job.json, its paths relative to the launcher's attempt folder" }),
  downloads: Type.Array(Download, { description: 'Stored inputs (dataset files, the checkpoint to resume from, the version to start from), each to its path' }),
  base_model: Nullable(Out({ id: Type.String(), files: Type.Array(Download) })),
  trainer: FreeObject({ description: "The trainer's catalog entry: the launcher starts it as the worker would" }),
  stop_grace_ms: Type.Integer({ description: 'How long the trainer gets between SIGTERM and SIGKILL' }),
  max_artifact_bytes: Type.Integer(),
});
