import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';

// What the API fuzz gate (test/fuzz) found about /openapi.json, pinned down one by one: every
// answer a route can give is documented, and in the one error envelope.

let t: TestApp;
let api: ReturnType<typeof client>;
let u: Awaited<ReturnType<ReturnType<typeof client>['user']>>;
let other: typeof u;
let spec: any;

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-contract-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  t = await startTestApp({ dataDir, env: { WORKER_IN_PROCESS: 'false' } });
  api = client(t.url);
  u = await api.user('contract-owner');
  other = await api.user('contract-other');
  spec = (await api.get('/openapi.json')).body;
});
afterAll(() => t.close());

const operations = () =>
  Object.entries(spec.paths as Record<string, Record<string, any>>).flatMap(([p, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${p}`, op })),
  );

describe('/openapi.json documents every status a route can answer', () => {
  it('authenticated routes document 401 and 429; routes with path ids 400, 404 and 414; bodies 400, 413 and 415', () => {
    const missing: string[] = [];
    for (const { key, op } of operations()) {
      const documented = Object.keys(op.responses ?? {});
      const want = new Set<string>();
      if (op.security) want.add('401').add('429');
      if ((op.parameters ?? []).some((p: any) => p.in === 'path')) ['400', '404', '414'].forEach((s) => want.add(s));
      if ((op.parameters ?? []).some((p: any) => p.in === 'query')) want.add('400');
      if (!key.startsWith('GET ')) ['400', '413', '415'].forEach((s) => want.add(s));
      for (const s of want) if (!documented.includes(s)) missing.push(`${key}: ${s}`);
    }
    expect(missing).toEqual([]);
  });

  it('/readyz documents its 503 (not ready) beside its 200', () => {
    expect(Object.keys(spec.paths['/readyz'].get.responses)).toEqual(expect.arrayContaining(['200', '503']));
  });

  it('the artifact route documents its 302 (?redirect=true)', () => {
    expect(Object.keys(spec.paths['/v1/models/{name}/versions/{v}/artifacts/{artifact}'].get.responses)).toContain('302');
  });

  it('the WebSocket route is in the document with its plain-HTTP answers', () => {
    const op = spec.paths['/v1/jobs/{id}/ws']?.get;
    expect(op).toBeDefined();
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['101', '401', '404', '426']));
  });
});

describe('answers the fuzzer found undocumented or outside the error envelope', () => {
  it('a model name longer than 100 characters (the schema allows 200) reaches the route: 404, not 414', async () => {
    const r = await api.get(`/v1/models/${'m'.repeat(150)}`, u.token);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('MODEL_NOT_FOUND');
  });

  it('a path id longer than its schema allows is a validation error (400)', async () => {
    const r = await api.get(`/v1/jobs/${'j'.repeat(150)}`, u.token);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION_ERROR');
  });

  it('a path segment longer than the router takes answers 414 in the error envelope', async () => {
    const r = await api.get(`/v1/jobs/${'j'.repeat(1500)}`, u.token);
    expect(r.status).toBe(414);
    expect(r.body).toEqual({ error: { code: 'URI_TOO_LONG', message: expect.any(String) } });
  });

  it('a plain HTTP request to the WebSocket route: 426 for a job you can see, 404 for another owner’s, 401 without credentials', async () => {
    const ds = await csvDataset(api, u.token, 'contract');
    const job = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, output: { model_name: 'contract' } }, u.token);
    expect(job.status).toBe(202);
    const mine = await api.get(`/v1/jobs/${job.body.id}/ws`, u.token);
    expect(mine.status).toBe(426);
    expect(mine.body.error.code).toBe('UPGRADE_REQUIRED');
    const theirs = await api.get(`/v1/jobs/${job.body.id}/ws`, other.token);
    expect(theirs.status).toBe(404);
    expect(theirs.body.error.code).toBe('JOB_NOT_FOUND');
    expect((await api.get(`/v1/jobs/${job.body.id}/ws`)).status).toBe(401);
  });
});
