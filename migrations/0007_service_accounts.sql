-- Issue #11: what the seed APIs needed that /v1 lacked.

-- Canonical: service accounts. An account with no password, that cannot log in, owned and
-- operated by an admin (POST /v1/admin/service-accounts); it acts only through API keys an
-- admin creates for it, and pays for its jobs from its own credits like anyone else.
alter table users add column service_account boolean not null default false;
create index users_service_account_idx on users (created_at desc, id desc) where service_account;

-- Canonical: GET /v1/jobs?model_name= lists an owner's jobs by the model they produce.
create index jobs_owner_model_idx on jobs (owner_id, (output ->> 'model_name'), created_at desc, id desc);
