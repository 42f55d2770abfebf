-- Issue #12: a job's duration estimate, made when it is created (src/domain/jobs/estimate.ts).

-- Seconds the whole run is expected to take, and where the figure came from: the trainer's
-- measured history on this deployment, the catalog entry's figure, or none (nothing to go on).
alter table jobs add column estimated_duration_seconds double precision;
alter table jobs add column estimate_source text not null default 'none' check (estimate_source in ('history', 'catalog', 'none'));

-- The history an estimate reads: a trainer's latest first-attempt successes at one GPU count.
create index jobs_trainer_history_idx on jobs (trainer, gpus, finished_at desc) where status = 'succeeded' and attempt = 1;
