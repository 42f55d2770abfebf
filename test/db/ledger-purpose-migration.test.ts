import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

// Migration 0011 gives every existing ledger entry its purpose: a grant is a grant, a release
// gives credits back (refund), and a hold or capture is for its job: an inference job is a
// generation, a training job training.

let d: TestDatabase;
beforeAll(async () => {
  d = await createTestDatabase();
});
afterAll(async () => {
  await d?.drop();
});

it('backfills purposes from the entry type and the job kind', async () => {
  const all = await loadMigrations();
  await migrate(
    d.db,
    all.filter((m) => m.id < 11),
  );
  const db = d.db;
  await db.query(`insert into users (id, username, email, password_hash) values ('usr_m', 'mig', 'mig@example.com', '!')`);
  const job = (id: string, kind: string) =>
    db.query(
      `insert into jobs (id, owner_id, kind, trainer, status, hyperparameters, output, max_runtime_seconds)
       values ($1, 'usr_m', $2, 't', 'succeeded', '{}', $3, 60)`,
      [id, kind, kind === 'training' ? '{"model_name":"m"}' : null],
    );
  await job('job_train', 'training');
  await job('job_gen', 'inference');
  await job('job_gen_failed', 'inference');
  const hold = (id: string, jobId: string) =>
    db.query(`insert into credit_holds (id, user_id, job_id, amount, status) values ($1, 'usr_m', $2, 5, 'held')`, [id, jobId]);
  await hold('h1', 'job_train');
  await hold('h2', 'job_gen');
  await hold('h3', 'job_gen_failed');
  const entry = (type: string, holdId: string | null, jobId: string | null) =>
    db.query(`insert into credit_ledger (user_id, type, amount, credits, hold_id, job_id) values ('usr_m', $1, 0, 5, $2, $3)`, [type, holdId, jobId]);
  await entry('grant', null, null);
  await entry('hold', 'h1', 'job_train');
  await entry('capture', 'h1', 'job_train');
  await entry('hold', 'h2', 'job_gen');
  await entry('capture', 'h2', 'job_gen');
  await entry('hold', 'h3', 'job_gen_failed');
  await entry('release', 'h3', 'job_gen_failed');
  // A hold whose job row is gone (no foreign key on the ledger's job_id) counts as training.
  await entry('hold', null, 'job_deleted');

  expect(await migrate(db)).toContain('0011_identities_ledger.sql');
  const { rows } = await db.query<{ type: string; purpose: string; job_id: string | null }>('select type, purpose, job_id from credit_ledger order by id');
  expect(rows.map((r) => `${r.type}:${r.job_id ?? '-'}:${r.purpose}`)).toEqual([
    'grant:-:grant',
    'hold:job_train:training',
    'capture:job_train:training',
    'hold:job_gen:generation',
    'capture:job_gen:generation',
    'hold:job_gen_failed:generation',
    'release:job_gen_failed:refund',
    'hold:job_deleted:training',
  ]);
  // From now on every entry must say what it is for.
  await expect(db.query(`insert into credit_ledger (user_id, type, amount, credits) values ('usr_m', 'grant', 1, 1)`)).rejects.toThrow();
  await expect(db.query(`insert into credit_ledger (user_id, type, purpose, amount, credits) values ('usr_m', 'grant', 'gift', 1, 1)`)).rejects.toThrow();
});
