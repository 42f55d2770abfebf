/**
 * Deleting a dataset while a job that names it is being created, on Postgres (PGlite runs one
 * transaction at a time, so the two cannot interleave there). Each test holds one side's
 * transaction open at the point that matters and lets the other side run into it over HTTP;
 * it waits on Postgres saying a statement is waiting for a lock, never on time.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/db.js';
import { newId } from '../../src/ids.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { newJob } from '../helpers/claimed.js';
import { TEST_DB } from '../helpers/db.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { waitFor } from '../helpers/wait.js';

let t: TestApp;
let api: ReturnType<typeof client>;
let u: Awaited<ReturnType<ReturnType<typeof client>['user']>>;

/** A transaction that runs `first`, then stays open until the returned `commit` is called. */
async function heldTransaction(first: (tx: Queryable) => Promise<unknown>) {
  let commit!: () => void;
  const release = new Promise<void>((r) => (commit = r));
  let ready!: () => void;
  const started = new Promise<void>((r) => (ready = r));
  const done = t.testDb.db.transaction(async (tx) => {
    await first(tx);
    ready();
    await release;
  });
  await Promise.race([started, done]);
  return { commit, done };
}

/** Statements of this database waiting for a lock. */
const lockWaiters = async () =>
  Number(
    (await t.testDb.db.query<{ n: string }>(`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`))
      .rows[0]!.n,
  );

const datasetOfJob = async (id: string) =>
  (await t.testDb.db.query<{ dataset_id: string | null }>('select dataset_id from jobs where id = $1', [id])).rows[0]!.dataset_id;

describe.runIf(TEST_DB === 'postgres')('deleting a dataset while a job naming it is created', () => {
  beforeAll(async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-ds-race-'));
    await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
    // No worker: the jobs stay queued, holding their datasets.
    t = await startTestApp({ dataDir, env: { WORKER_IN_PROCESS: 'false' } });
    api = client(t.url);
    u = await api.user('racer');
  });
  afterAll(() => t?.close());

  it('a job inserted first (not yet committed): the delete waits for it, then answers 409 DATASET_IN_USE; the job keeps its dataset', async () => {
    const ds = await csvDataset(api, u.token, 'first-job');
    const jobId = newId('job');
    // What a job's creation holds between its insert and its commit.
    const job = await heldTransaction((tx) =>
      t.rt.services.lifecycle.enqueue(tx, newJob(u.id, 'raced', { id: jobId, dataset_id: ds, output: { model_name: 'raced' }, labels: [], cost: 0 })),
    );
    const del = api.del(`/v1/datasets/${ds}`, u.token);
    await waitFor(lockWaiters, (n) => n >= 1, { message: 'the delete to wait for the job' });
    job.commit();
    await job.done;
    const r = await del;
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('DATASET_IN_USE');
    expect(await datasetOfJob(jobId)).toBe(ds);
    expect((await api.get(`/v1/datasets/${ds}`, u.token)).status).toBe(200);
  });

  it('a delete first (not yet committed): the job waits for it, then answers 409 DATASET_DELETED, holding no credits', async () => {
    const ds = await csvDataset(api, u.token, 'first-delete');
    const before = await t.rt.services.credits.balance(u.id);
    // What the delete holds between locking the dataset and its commit.
    const del = await heldTransaction(async (tx) => {
      await tx.query('select id from datasets where id = $1 for update', [ds]);
      await tx.query('delete from datasets where id = $1', [ds]);
    });
    const create = api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, output: { model_name: 'too-late' } }, u.token);
    await waitFor(lockWaiters, (n) => n >= 1, { message: 'the job to wait for the delete' });
    del.commit();
    await del.done;
    const r = await create;
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.error.code).toBe('DATASET_DELETED');
    expect((await api.get('/v1/jobs?limit=50', u.token)).body.data.filter((j: any) => j.output?.model_name === 'too-late')).toEqual([]);
    expect(await t.rt.services.credits.balance(u.id)).toMatchObject({ balance: before.balance, held: before.held });
  });
});
