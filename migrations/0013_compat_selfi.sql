-- The selfie bot API facade (src/compat/selfi): a LoRA exists from the moment its training
-- starts ("a LoRA has an id before its first version"). The record maps the document's id to
-- the ordinary lora-diffusion job that trains it and to the registry model it produces; the
-- status, progress, previews and popularity are read from the job and the model.
create table compat_selfi_loras (
  id           text primary key,
  owner_id     text not null references users (id) on delete cascade,
  name         text not null,
  trigger_word text not null,
  -- The registry model's name (unique per owner: derived from the id, not the display name).
  model_name   text not null,
  job_id       text references jobs (id) on delete set null,
  is_public    boolean not null default true,
  created_at   timestamptz not null default now()
);
create index compat_selfi_loras_owner_idx on compat_selfi_loras (owner_id, created_at desc, id desc);
create index compat_selfi_loras_public_idx on compat_selfi_loras (created_at desc, id desc) where is_public;
