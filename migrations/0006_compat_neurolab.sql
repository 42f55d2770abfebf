-- The EEG training API facade (src/compat/neurolab): its job ids (train_YYYYMMDD_HHMMSS_<user>,
-- train_file_…, compare_…) mapped to the ordinary Trainyard job or sweep that does the work.
-- Only the mapping lives here: status, progress and metrics are read from the job or sweep.
create table compat_neurolab_jobs (
  id         text primary key,
  owner_id   text not null references users (id) on delete cascade,
  kind       text not null check (kind in ('train', 'train_file', 'compare')),
  -- Exactly one of the two once started; both null only while the request that made the
  -- record is still creating the job (the record is removed if that fails).
  job_id     text references jobs (id) on delete set null,
  sweep_id   text references sweeps (id) on delete set null,
  -- The uploaded file's name (train_file), for the document's messages.
  source     text,
  created_at timestamptz not null default now(),
  -- DELETE /api/train/job/{id} hides the record (404 from then on) but keeps it: the id is
  -- never handed out again, and the job still counts toward its owner's hourly training limit.
  deleted_at timestamptz
);
create index compat_neurolab_jobs_recent_idx on compat_neurolab_jobs (created_at desc, id desc) where deleted_at is null;
-- The training limit counts an owner's jobs of the last window.
create index compat_neurolab_jobs_owner_idx on compat_neurolab_jobs (owner_id, created_at);
