-- Foundation: accounts, API keys, login throttling, files, datasets.
-- Never edit a landed migration: add the next number instead.

create table users (
  id            text primary key,
  username      text not null,
  email         text not null,
  password_hash text not null,
  role          text not null default 'user' check (role in ('user', 'admin')),
  created_at    timestamptz not null default now(),
  disabled_at   timestamptz
);
create unique index users_username_key on users (lower(username));
create unique index users_email_key on users (lower(email));

create table api_keys (
  id           text primary key,
  user_id      text not null references users (id) on delete cascade,
  name         text not null,
  prefix       text not null,
  secret_hash  text not null,
  created_at   timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);
create unique index api_keys_secret_hash_key on api_keys (secret_hash);
create index api_keys_user_idx on api_keys (user_id, created_at desc, id desc);

-- One row per throttled key (a username, or a client address): shared by every API process.
create table login_failures (
  key             text primary key,
  failures        integer not null,
  window_start    timestamptz not null,
  locked_until    timestamptz
);

create table files (
  id              text primary key,
  owner_id        text not null references users (id) on delete cascade,
  status          text not null check (status in ('pending', 'ready')),
  filename        text not null,
  storage_key     text not null,
  bytes           bigint check (bytes >= 0),
  sha256          text,
  content_type    text,
  expected_bytes  bigint check (expected_bytes >= 0),
  expected_sha256 text,
  source          text not null check (source in ('upload', 'presigned', 'import')),
  source_url      text,
  created_at      timestamptz not null default now(),
  expires_at      timestamptz,
  check (status = 'pending' or (bytes is not null and sha256 is not null and content_type is not null))
);
create unique index files_storage_key_key on files (storage_key);
create index files_owner_idx on files (owner_id, created_at desc, id desc);

create table datasets (
  id          text primary key,
  owner_id    text not null references users (id) on delete cascade,
  name        text not null,
  kind        text not null,
  description text,
  options     jsonb not null default '{}',
  status      text not null check (status in ('processing', 'ready', 'error')),
  stats       jsonb,
  errors      jsonb not null default '[]',
  error_count integer not null default 0,
  file_count  integer not null,
  total_bytes bigint not null,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
create unique index datasets_owner_name_key on datasets (owner_id, name);
create index datasets_owner_idx on datasets (owner_id, created_at desc, id desc);

-- Files outlive datasets; a file in a dataset cannot be deleted (restrict).
create table dataset_files (
  dataset_id text not null references datasets (id) on delete cascade,
  file_id    text not null references files (id) on delete restrict,
  position   integer not null,
  primary key (dataset_id, file_id)
);
create index dataset_files_file_idx on dataset_files (file_id);
