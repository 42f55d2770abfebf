-- The API processes cache authenticated principals for a few seconds (issue #15). Every change
-- to what a principal may do announces itself here, whatever path made it (the API, the CLI,
-- an operator's SQL): the caches of all processes drop their entries on the notification,
-- which Postgres delivers on commit. A key's last_used_at stamp and a webhook secret do not
-- notify: they change nothing a request is allowed to do.
create function trainyard_notify_principal() returns trigger language plpgsql as $$
begin
  if tg_table_name = 'users' then
    perform pg_notify('trainyard_principals', 'u:' || coalesce(new.id, old.id));
  else
    perform pg_notify('trainyard_principals', 'k:' || coalesce(new.id, old.id));
  end if;
  return null;
end $$;

create trigger users_principal_changed after update on users for each row
  when (old.role is distinct from new.role or old.disabled_at is distinct from new.disabled_at
        or old.username is distinct from new.username or old.service_account is distinct from new.service_account
        or old.password_hash is distinct from new.password_hash or old.id is distinct from new.id)
  execute function trainyard_notify_principal();
create trigger users_principal_deleted after delete on users for each row execute function trainyard_notify_principal();

create trigger api_keys_principal_changed after update on api_keys for each row
  when (old.revoked_at is distinct from new.revoked_at or old.user_id is distinct from new.user_id
        or old.secret_hash is distinct from new.secret_hash or old.id is distinct from new.id)
  execute function trainyard_notify_principal();
create trigger api_keys_principal_deleted after delete on api_keys for each row execute function trainyard_notify_principal();
