-- Jobs end to end: credits, the job queue with leases, job events, the model registry,
-- webhooks. Never edit a landed migration: add the next number instead.

-- Credits -------------------------------------------------------------------------------
-- One row per user holds the running totals; the ledger is the append-only history they
-- are derived from. `balance` is what can still be spent (holds already taken out).
create table credit_accounts (
  user_id       text primary key references users (id) on delete cascade,
  balance       bigint not null default 0 check (balance >= 0),
  held          bigint not null default 0 check (held >= 0),
  total_spent   bigint not null default 0 check (total_spent >= 0),
  total_granted bigint not null default 0,
  updated_at    timestamptz not null default now()
);

create table credit_holds (
  id         text primary key,
  user_id    text not null references users (id) on delete cascade,
  job_id     text not null,
  amount     bigint not null check (amount >= 0),
  status     text not null check (status in ('held', 'captured', 'released')),
  created_at timestamptz not null default now(),
  settled_at timestamptz
);
create unique index credit_holds_job_key on credit_holds (job_id);

-- amount is the signed effect on `balance`: grant +, hold -, release +, capture 0 (the held
-- credits become spent). So the sum of a user's ledger always equals their balance.
create table credit_ledger (
  id         bigint generated always as identity primary key,
  user_id    text not null references users (id) on delete cascade,
  type       text not null check (type in ('grant', 'hold', 'capture', 'release')),
  amount     bigint not null,
  credits    bigint not null check (credits >= 0),
  hold_id    text references credit_holds (id),
  job_id     text,
  note       text,
  created_by text,
  created_at timestamptz not null default now()
);
create index credit_ledger_user_idx on credit_ledger (user_id, id desc);
-- A hold is settled at most once: captured or released, never both, never twice.
create unique index credit_ledger_settle_once on credit_ledger (hold_id) where type in ('capture', 'release');

-- Jobs ----------------------------------------------------------------------------------
create table jobs (
  id                    text primary key,
  owner_id              text not null references users (id) on delete cascade,
  kind                  text not null default 'training' check (kind in ('training', 'inference')),
  trainer               text not null,
  status                text not null check (status in ('queued', 'running', 'cancel_requested', 'succeeded', 'failed', 'cancelled')),
  priority              integer not null default 0,
  dataset_id            text references datasets (id) on delete set null,
  validation_dataset_id text references datasets (id) on delete set null,
  base_model            text,
  hyperparameters       jsonb not null,
  output                jsonb not null,
  metadata              jsonb not null default '{}',
  from_model            jsonb,
  webhook_url           text,
  gpus                  integer not null default 0 check (gpus >= 0),
  labels                text[] not null default '{}',
  cost                  bigint not null default 0 check (cost >= 0),
  idempotency_key       text,
  request_hash          text,
  -- dispatch
  attempt               integer not null default 0,
  max_attempts          integer not null default 3,
  run_after             timestamptz not null default now(),
  worker_id             text,
  lease_expires_at      timestamptz,
  attempt_started_at    timestamptz,
  max_runtime_seconds   integer not null,
  checkpoint            jsonb,
  -- progress and outcome
  event_seq             bigint not null default 0,
  progress              double precision not null default 0 check (progress >= 0 and progress <= 1),
  step                  bigint,
  total_steps           bigint,
  epoch                 double precision,
  eta_seconds           double precision,
  error                 jsonb,
  result                jsonb,
  model_version_id      text,
  created_at            timestamptz not null default now(),
  started_at            timestamptz,
  finished_at           timestamptz,
  updated_at            timestamptz not null default now()
);
create unique index jobs_idempotency_key on jobs (owner_id, idempotency_key) where idempotency_key is not null;
create index jobs_owner_idx on jobs (owner_id, created_at desc, id desc);
create index jobs_queue_idx on jobs (priority desc, created_at) where status = 'queued';
create index jobs_active_owner_idx on jobs (owner_id) where status in ('running', 'cancel_requested');
create index jobs_lease_idx on jobs (lease_expires_at) where status in ('running', 'cancel_requested');
create index jobs_dataset_idx on jobs (dataset_id) where status in ('queued', 'running', 'cancel_requested');

-- Every event a job produced, numbered per job (jobs.event_seq hands out the numbers).
create table job_events (
  job_id     text not null references jobs (id) on delete cascade,
  seq        bigint not null,
  type       text not null,
  data       jsonb not null,
  created_at timestamptz not null default now(),
  primary key (job_id, seq)
);
create index job_events_type_idx on job_events (job_id, type, seq);

-- Model registry ------------------------------------------------------------------------
create table models (
  id             text primary key,
  owner_id       text not null references users (id) on delete cascade,
  name           text not null,
  visibility     text not null default 'private' check (visibility in ('private', 'public')),
  description    text,
  tags           text[] not null default '{}',
  trigger_word   text,
  trainer        text not null,
  primary_metric text,
  metric_goal    text check (metric_goal in ('maximize', 'minimize')),
  popularity     bigint not null default 0,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now()
);
create unique index models_owner_name_key on models (owner_id, name);
create index models_public_idx on models (visibility, created_at desc) where visibility = 'public';

create table model_versions (
  id                text primary key,
  model_id          text not null references models (id) on delete cascade,
  version           integer not null check (version > 0),
  job_id            text references jobs (id) on delete set null,
  dataset_id        text,
  base_model        text,
  hyperparameters   jsonb not null default '{}',
  metrics           jsonb not null default '{}',
  parent_version_id text references model_versions (id) on delete set null,
  created_at        timestamptz not null default now()
);
create unique index model_versions_number_key on model_versions (model_id, version);
create unique index model_versions_job_key on model_versions (job_id);

create table model_artifacts (
  version_id  text not null references model_versions (id) on delete cascade,
  name        text not null,
  format      text not null,
  storage_key text not null,
  bytes       bigint not null check (bytes >= 0),
  sha256      text not null,
  primary key (version_id, name)
);

create table model_aliases (
  model_id   text not null references models (id) on delete cascade,
  alias      text not null,
  version_id text not null references model_versions (id) on delete cascade,
  updated_at timestamptz not null default now(),
  primary key (model_id, alias)
);

create table model_alias_history (
  id                  bigint generated always as identity primary key,
  model_id            text not null references models (id) on delete cascade,
  alias               text not null,
  version_id          text not null,
  previous_version_id text,
  changed_by          text,
  changed_at          timestamptz not null default now()
);
create index model_alias_history_idx on model_alias_history (model_id, alias, id desc);

-- Webhooks ------------------------------------------------------------------------------
create table webhook_endpoints (
  id         text primary key,
  owner_id   text not null references users (id) on delete cascade,
  url        text not null,
  events     text[] not null,
  secret     text not null,
  created_at timestamptz not null default now(),
  disabled_at timestamptz
);
create index webhook_endpoints_owner_idx on webhook_endpoints (owner_id);

-- The outbox: rows are written in the same transaction as the job change they announce.
create table webhook_deliveries (
  id              text primary key,
  owner_id        text not null references users (id) on delete cascade,
  endpoint_id     text references webhook_endpoints (id) on delete set null,
  job_id          text,
  url             text not null,
  secret          text not null,
  event_type      text not null,
  payload         jsonb not null,
  status          text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts        integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  locked_until    timestamptz,
  last_status     integer,
  last_error      text,
  created_at      timestamptz not null default now(),
  delivered_at    timestamptz
);
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_owner_idx on webhook_deliveries (owner_id, created_at desc, id desc);

create table webhook_attempts (
  delivery_id text not null references webhook_deliveries (id) on delete cascade,
  attempt     integer not null,
  status_code integer,
  error       text,
  duration_ms integer not null,
  at          timestamptz not null default now(),
  primary key (delivery_id, attempt)
);

-- The per-user secret that signs webhooks sent to a job's own webhook_url.
alter table users add column webhook_secret text;
