-- A held-out test set on a job and a sweep (issue #18): scored once at the end, never used for
-- training, validation or early stopping. Like validation_dataset_id, a deleted dataset leaves
-- a finished job's record (the job's open use of it is refused at deletion: jobs/queries.ts).
alter table jobs add column test_dataset_id text references datasets (id) on delete set null;
alter table sweeps add column test_dataset_id text references datasets (id) on delete set null;
