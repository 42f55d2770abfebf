-- Issue #16 (many API replicas): rate-limit counters live in Postgres so that N API processes
-- behind a load balancer enforce one limit, not N. One row per (route, caller) key and fixed
-- window; src/app/plugins/rate-limit-store.ts bumps it with one upsert per request.
-- Unlogged: counters are worth nothing after a crash (a restart forgives the current window),
-- and skipping the WAL keeps the per-request write cheap. Expired rows are swept by whichever
-- API process happens to pass by (at most once a minute each).
create unlogged table rate_limit_hits (
  key        text primary key,
  hits       integer not null check (hits > 0),
  expires_at timestamptz not null
);
create index rate_limit_hits_expires on rate_limit_hits (expires_at);
