-- Base models registered by admins at run time (POST /v1/admin/base-models), beside the
-- built-in list and DATA_DIR/catalog.json. A base model is a local folder; nothing is
-- downloaded. Never edit a landed migration: add the next number instead.
create table base_models (
  id                    text primary key,
  name                  text not null,
  description           text not null default '',
  architecture          text not null,
  trainers              text[] not null,
  source                text not null,
  version               text,
  supported_lora_params jsonb,
  created_by            text references users (id) on delete set null,
  created_at            timestamptz not null default now()
);
