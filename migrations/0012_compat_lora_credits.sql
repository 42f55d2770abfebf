-- The LoRA-training-with-credits facade (src/compat/lora-credits, seed 000): its only state.

-- An upload session: the images a user imported for a model name, as Trainyard files, so that
-- POST /api/train/start with the same URLs trains from them without fetching them again.
create table compat_lora_credits_sessions (
  id          text primary key,            -- upload_<user id>_<epoch ms>
  owner_id    text not null references users (id) on delete cascade,
  model_name  text not null,
  images      jsonb not null,              -- [{url, file_id, filename, bytes, format}]
  created_at  timestamptz not null default now()
);
create index compat_lora_credits_sessions_owner on compat_lora_credits_sessions (owner_id, created_at desc);

-- A training started through the facade: the document's trainingJobId beside the ordinary
-- Trainyard job that does the work (and holds status, progress, cost and the model version).
create table compat_lora_credits_trainings (
  id          text primary key,            -- training_<random>
  owner_id    text not null references users (id) on delete cascade,
  job_id      text not null unique references jobs (id) on delete cascade,
  model_name  text not null,
  steps       integer not null,
  session_id  text,
  created_at  timestamptz not null default now()
);
create index compat_lora_credits_trainings_owner on compat_lora_credits_trainings (owner_id, created_at desc);
