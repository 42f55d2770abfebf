-- The training service facade (src/compat/training-service, seed 002): its only state.

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
