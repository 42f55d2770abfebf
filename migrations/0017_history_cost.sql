-- Issue #15 (cost that does not grow with history): the listings' filters get indexes that
-- match their ORDER BY (created_at desc, id desc), so a page reads about `limit` rows however many
-- jobs exist, and events retention (src/domain/jobs/retention.ts) gets its bookkeeping.

-- GET /v1/jobs?status=… for one owner: without it an owner with a long history and no job in
-- that status read all of its jobs to find none (jobs_owner_idx, then a filter).
create index if not exists jobs_owner_status_idx on jobs (owner_id, status, created_at desc, id desc);
-- GET /v1/jobs?scope=all (admins), with and without a status: a top-50 sort of every job otherwise.
create index if not exists jobs_recent_idx on jobs (created_at desc, id desc);
create index if not exists jobs_status_recent_idx on jobs (status, created_at desc, id desc);

-- When retention deleted the job's events (null: it still has them, or is not finished). The
-- partial index holds only finished jobs not yet pruned, so a pass starts where the last one
-- stopped instead of walking the whole history.
alter table jobs add column events_pruned_at timestamptz;
create index if not exists jobs_events_retention_idx on jobs (finished_at) where finished_at is not null and events_pruned_at is null;

-- The claim's fast path (lifecycle/sql.ts idleOwnerCandidate): the queue oldest first, then one
-- owner's queued jobs in its priority order; both a few rows however long the queue.
create index if not exists jobs_queue_age_idx on jobs (created_at, owner_id) where status = 'queued';
create index if not exists jobs_queue_owner_idx on jobs (owner_id, priority desc, created_at, id) where status = 'queued';

-- A queued job's position (jobs/queries.ts queuePosition) counts the jobs ahead of it: with the
-- id in the queue index the count reads the index alone, not one heap page per queued job.
drop index jobs_queue_idx;
create index jobs_queue_idx on jobs (priority desc, created_at, id) where status = 'queued';
