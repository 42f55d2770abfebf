-- Issue #16 (many API replicas): facts every process on this database must agree on. First:
-- a fingerprint of TRAINYARD_SECRET (an HMAC of a fixed text, never the secret), so a replica
-- started with another secret, or none (one generated into its own DATA_DIR), refuses to start
-- rather than refusing the other replicas' tokens at random behind a load balancer.
create table deployment_settings (
  key        text primary key,
  value      text not null,
  updated_at timestamptz not null default now()
);
