-- Issue #11, seed 002 (the training service facade) and the two canonical additions it needs.
-- Never edit a landed migration: add the next number instead.

-- Canonical: service accounts. An account with no password, that cannot log in, owned and
-- operated by an admin (POST /v1/admin/service-accounts); it acts only through API keys an
-- admin creates for it, and pays for its jobs from its own credits like anyone else.
alter table users add column service_account boolean not null default false;
create index users_service_account_idx on users (created_at desc, id desc) where service_account;

-- Canonical: GET /v1/jobs?model_name= lists an owner's jobs by the model they produce.
create index jobs_owner_model_idx on jobs (owner_id, (output ->> 'model_name'), created_at desc, id desc);

-- Facade state: a file under the facade's data root becomes one Trainyard dataset per content
-- (sha256), so training twice on the same file does not upload and validate it twice. The
-- dataset is an ordinary one of the service account; deleting it forgets the mapping.
create table compat_training_service_datasets (
  owner_id    text not null references users (id) on delete cascade,
  sha256      text not null,
  dataset_id  text not null references datasets (id) on delete cascade,
  source_path text not null,
  created_at  timestamptz not null default now(),
  primary key (owner_id, sha256)
);
