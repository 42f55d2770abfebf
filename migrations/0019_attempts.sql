-- Issue #16 (remote executors): an attempt that runs on Kubernetes or Slurm has no database
-- access; its launcher streams the trainer's events to /v1/jobs/{id}/attempts/{n}/events with an
-- attempt token (src/domain/attempts). The worker still holds the lease and concludes the job.
-- One row per remote attempt, created by its first request, holds what the API needs to ingest
-- exactly once across retries and replicas:
-- - next_seq: the number of the next event the launcher sends (0-based per attempt). A batch is
--   applied in the transaction that locks this row and advances it, so a batch retried after a
--   network drop is skipped, and two replicas never apply the same event.
-- - the caps' counters (src/domain/jobs/trainer-events.ts), so a log cap holds across batches;
-- - the first progress event (for the ETA);
-- - the launcher's final report (exit code, result, artifacts), which the worker reads to
--   conclude the job.
create table job_attempts (
  job_id                text not null references jobs (id) on delete cascade,
  attempt               integer not null check (attempt > 0),
  worker_id             text not null,
  next_seq              bigint not null default 0 check (next_seq >= 0),
  log_lines             integer not null default 0,
  dropped_logs          integer not null default 0,
  metrics_kept          integer not null default 0,
  dropped_metrics       integer not null default 0,
  first_progress_at     timestamptz,
  first_progress_step   double precision,
  report                jsonb,
  reported_at           timestamptz,
  created_at            timestamptz not null default now(),
  updated_at            timestamptz not null default now(),
  primary key (job_id, attempt),
  check ((report is null) = (reported_at is null))
);
