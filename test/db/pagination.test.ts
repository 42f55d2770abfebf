/**
 * Keyset pages over rows made in one transaction. Postgres keeps created_at to the microsecond
 * and now() is the transaction's start, so a sweep's jobs share one timestamp; cursors cut to
 * the millisecond (a JavaScript Date) skipped every row after a page's last one (real Postgres
 * only: PGlite's now() keeps milliseconds, so there the test passes either way).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetIdFor } from '../../src/cli/client/catalog.js';
import { Api, findPaged } from '../../src/cli/client/http.js';
import { encodeCursor } from '../../src/ids.js';
import { client, startTestApp, type ApiResponse, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';

let t: TestApp;
let api: ReturnType<typeof client>;
let u: Awaited<ReturnType<ReturnType<typeof client>['user']>>;

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-pages-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  // No worker: the sweep's jobs stay queued, as made.
  t = await startTestApp({ dataDir, env: { WORKER_IN_PROCESS: 'false', SIGNUP_CREDIT_GRANT: '1000' } });
  api = client(t.url);
  u = await api.user('pager');
});
afterAll(() => t?.close());

/** Every page of `p` (a /v1 listing), `limit` at a time: the ids in order. */
async function allPages(p: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 50; pages++) {
    const r: ApiResponse = await api.get(`${p}?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, u.token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    for (const row of r.body.data) expect(row).not.toHaveProperty('cursor_t');
    ids.push(...r.body.data.map((x: { id: string }) => x.id));
    cursor = r.body.next_cursor;
    if (!cursor) return ids;
  }
  throw new Error('more than 50 pages');
}

describe('keyset pages', () => {
  it("a sweep's 20 jobs, made in one transaction, are all listed once over pages of 7", async () => {
    const ds = await csvDataset(api, u.token, 'd');
    const r = await api.post(
      '/v1/sweeps',
      { trainer: 'echo', dataset_id: ds, grid: { steps: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }, repeats: 2, output: { model_name: 'paged' } },
      u.token,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const { rows } = await t.testDb.db.query<{ id: string }>('select id from jobs where sweep_id = $1', [r.body.id]);
    expect(rows).toHaveLength(20);
    const listed = await allPages('/v1/jobs', 7);
    expect(listed).toHaveLength(20);
    expect(new Set(listed)).toEqual(new Set(rows.map((x) => x.id)));
  });

  it('a cursor issued with milliseconds (before microseconds, or from a Date) still pages', async () => {
    const first = await api.get('/v1/jobs?limit=1', u.token);
    const created = new Date(first.body.data[0].created_at);
    // A millisecond after the first job's creation: every job, the first included, is older.
    const old = encodeCursor(new Date(created.getTime() + 1), 'job_zzzzzzzzzzzzzzzzzzzz');
    const r = await api.get(`/v1/jobs?limit=100&cursor=${old}`, u.token);
    expect(r.status).toBe(200);
    expect(r.body.data.length).toBeGreaterThan(0);
    expect((await api.get('/v1/jobs?limit=1&cursor=eyJ0IjoiMjAyNiJ9', u.token)).body.error.code).toBe('INVALID_CURSOR');
  });
});

describe('the CLI’s lookups by name', () => {
  it('read through every page: the oldest of three datasets is found one page at a time', async () => {
    const names = ['paged-a', 'paged-b', 'paged-c'];
    const ids: string[] = [];
    for (const n of names) ids.push(await csvDataset(api, u.token, n));
    const cli = new Api(t.url, u.token);
    expect((await findPaged<{ id: string; name: string }>(cli, '/v1/datasets', (d) => d.name === 'paged-a', 1))?.id).toBe(ids[0]);
    expect(await findPaged(cli, '/v1/datasets', (d) => d.name === 'no-such', 1)).toBeNull();
    expect(await datasetIdFor(cli, 'paged-b')).toBe(ids[1]);
  });
});
