-- Issue #17 (experiment tracking): the trackers a job logs to once it ends (MLflow for now),
-- each with how that went (pending, logged, failed; the tracker's run id), and on the model
-- version the run it was logged as. jsonb: a handful of entries read with their row, never queried.
alter table jobs add column integrations jsonb not null default '[]';
alter table model_versions add column integrations jsonb not null default '{}';
