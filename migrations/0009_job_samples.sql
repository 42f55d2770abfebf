-- Issue #12: sample images during training. A trainer renders fixed-seed samples every
-- `sample_every` steps; the worker stores each one as a job file and numbers it here.
create table job_samples (
  job_id      text not null references jobs (id) on delete cascade,
  n           integer not null,
  owner_id    text not null references users (id) on delete cascade,
  attempt     integer not null,
  step        integer not null,
  prompt      text not null,
  storage_key text not null,
  format      text not null,
  bytes       bigint not null,
  sha256      text not null,
  created_at  timestamptz not null default now(),
  primary key (job_id, n)
);

-- The number of the job's latest sample: the job's preview_image_url while it runs.
alter table jobs add column latest_sample integer;
