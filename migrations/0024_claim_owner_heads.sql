-- Issue #15, target 4: the claim's full ranking (lifecycle/sql.ts fairCandidate) read every
-- claimable job to find each owner's oldest (64 ms for 10,000 queued, bench/README.md). It now
-- walks the distinct owners with queued jobs through this index (a skip scan: one probe per
-- owner, landing on the owner's oldest queued job), so its cost follows the number of owners
-- waiting, not the length of the queue. Queued rows only: it stays small.
create index if not exists jobs_queue_owner_age_idx on jobs (owner_id, created_at) where status = 'queued';
