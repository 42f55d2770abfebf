-- Issue #12: external identities, bot principals, purchases, and the purpose of every ledger entry.

-- A bot is an account of role 'bot' (a service account: no password, no login) that acts for
-- the accounts of one provider's users (X-On-Behalf-Of). Role checks stay explicit: only
-- 'admin' is ever an admin.
alter table users drop constraint users_role_check;
alter table users add constraint users_role_check check (role in ('user', 'admin', 'bot'));

create table bots (
  user_id      text primary key references users (id) on delete cascade,
  provider     text not null,
  -- An account the bot creates on first sight gets the deployment's signup grant, or none.
  signup_grant boolean not null default true,
  created_by   text,
  created_at   timestamptz not null default now()
);
create index bots_provider_idx on bots (provider);

-- (provider, external_id) names at most one account: a Telegram id is one person here.
create table identities (
  provider    text not null,
  external_id text not null,
  user_id     text not null references users (id) on delete cascade,
  -- Who linked it: an admin's id, or the bot that created the account on first sight.
  created_by  text,
  created_at  timestamptz not null default now(),
  primary key (provider, external_id)
);
create index identities_user_idx on identities (user_id, created_at, provider, external_id);

-- Purchases: credits paid for outside Trainyard, recorded once per payment (its own id).
alter table credit_accounts add column total_bought bigint not null default 0;
alter table credit_ledger drop constraint credit_ledger_type_check;
alter table credit_ledger add constraint credit_ledger_type_check check (type in ('grant', 'hold', 'capture', 'release', 'purchase'));
alter table credit_ledger add column payment_id text;
create unique index credit_ledger_purchase_once on credit_ledger (user_id, payment_id) where type = 'purchase';

-- What an entry was for, so a history can be filtered by it. Existing rows: a grant is a
-- grant; the release of a hold gives the credits back (a refund); a hold or capture is for
-- its job, training or (an inference job) a generation.
alter table credit_ledger add column purpose text;
update credit_ledger l set purpose = case
    when l.type = 'grant' then 'grant'
    when l.type = 'release' then 'refund'
    when (select j.kind from jobs j where j.id = l.job_id) = 'inference' then 'generation'
    else 'training'
  end;
alter table credit_ledger alter column purpose set not null;
alter table credit_ledger add constraint credit_ledger_purpose_check
  check (purpose in ('training', 'generation', 'purchase', 'grant', 'refund'));
create index credit_ledger_user_purpose_idx on credit_ledger (user_id, purpose, id desc);
create index credit_ledger_user_job_idx on credit_ledger (user_id, job_id, id desc) where job_id is not null;
