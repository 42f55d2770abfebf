-- The QLoRA orchestration facade (src/compat/qlora, seed 004). A dataset exists from
-- upload-initiate on, before any bytes arrive: the record holds the document's id, name and
-- object key, the pending upload (a canonical file) and, once upload-complete ran, the
-- canonical dataset made from it. Status and sizes are read from that dataset.
create table compat_qlora_datasets (
  id                text primary key,
  owner_id          text not null references users (id) on delete cascade,
  name              text not null,
  description       text not null default '',
  s3_key            text not null unique,
  file_id           text,
  dataset_id        text references datasets (id) on delete set null,
  -- Why the dataset could not be made (a refused upload); the facade shows "error".
  failure           text,
  upload_expires_at timestamptz not null,
  created_at        timestamptz not null default now()
);
create index compat_qlora_datasets_owner_idx on compat_qlora_datasets (owner_id, created_at desc, id desc);

-- A training job started through the facade: the ordinary video-lora job, and the document's
-- model and dataset ids it was started with (the job itself holds the canonical ones).
create table compat_qlora_trainings (
  job_id            text primary key references jobs (id) on delete cascade,
  owner_id          text not null references users (id) on delete cascade,
  model_id          text not null,
  dataset_id        text not null,
  -- Set once by the first stop request: a second one is refused (400), whatever the job's state.
  stop_requested_at timestamptz,
  created_at        timestamptz not null default now()
);
create index compat_qlora_trainings_owner_idx on compat_qlora_trainings (owner_id, created_at desc, job_id desc);
