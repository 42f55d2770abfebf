-- The API processes cache GET /v1/jobs/{id} answers (issue #15, src/domain/jobs/job-cache.ts).
-- Every change to what that answer shows announces itself here, whatever path made it (the API,
-- a worker, a facade, an operator's SQL); Postgres delivers it on commit. Payload `j:<id>`: that
-- job changed; `q:<id>`: the queue's order changed too (a job entered or left 'queued', or a queued
-- job's priority or age changed), which moves every queued job's queue_position behind it.
-- A heartbeat renews only lease_expires_at, which no answer shows: it is the one change that
-- stays silent, so a running job's lease costs no notification.
create function trainyard_notify_job() returns trigger language plpgsql as $$
declare
  queue boolean;
begin
  if tg_op = 'INSERT' then
    queue := true; -- the trigger fires for queued inserts only
  elsif tg_op = 'DELETE' then
    queue := old.status = 'queued';
  else
    queue := (old.status = 'queued' or new.status = 'queued')
      and (old.status, old.priority, old.created_at) is distinct from (new.status, new.priority, new.created_at);
  end if;
  perform pg_notify('trainyard_job_changes', (case when queue then 'q:' else 'j:' end) || coalesce(new.id, old.id));
  return null;
end $$;

create trigger jobs_changed after update on jobs for each row
  when ((to_jsonb(old) - 'lease_expires_at') is distinct from (to_jsonb(new) - 'lease_expires_at'))
  execute function trainyard_notify_job();
create trigger jobs_queued after insert on jobs for each row when (new.status = 'queued')
  execute function trainyard_notify_job();
create trigger jobs_deleted after delete on jobs for each row execute function trainyard_notify_job();

-- TRUNCATE fires no row trigger: one notification, `*:`, drops every cached job.
create function trainyard_notify_jobs_truncated() returns trigger language plpgsql as $$
begin
  perform pg_notify('trainyard_job_changes', '*:');
  return null;
end $$;
create trigger jobs_truncated after truncate on jobs for each statement execute function trainyard_notify_jobs_truncated();
