-- Sweeps (a grid of hyperparameters × repeats, one child job each) and retraining lineage.
-- Never edit a landed migration: add the next number instead.

create table sweeps (
  id                    text primary key,
  owner_id              text not null references users (id) on delete cascade,
  trainer               text not null,
  dataset_id            text references datasets (id) on delete set null,
  validation_dataset_id text references datasets (id) on delete set null,
  hyperparameters       jsonb not null,
  grid                  jsonb not null,
  repeats               integer not null check (repeats between 1 and 100),
  metric                text not null,
  output_prefix         text not null,
  cost                  bigint not null default 0,
  cancelled_at          timestamptz,
  created_at            timestamptz not null default now()
);
create index sweeps_owner_idx on sweeps (owner_id, created_at desc, id desc);

alter table jobs add column sweep_id text references sweeps (id) on delete set null;
alter table jobs add column sweep_point jsonb;
alter table jobs add column sweep_repeat integer;
create index jobs_sweep_idx on jobs (sweep_id) where sweep_id is not null;
