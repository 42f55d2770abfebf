import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';

// The compatibility layer itself (src/compat): which facades are on, where they are mounted,
// that each answers in its own envelope on both mounts, that /openapi.json lists them under
// their own tags, and that their own ports open and close with the service.

describe('compat layer: facades named in TRAINYARD_COMPAT', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { TRAINYARD_COMPAT: 'neurolab:0,training-service' } });
  });
  afterAll(async () => t?.close());

  it('serves a facade with a port on its own port and under /compat/<name>; one without a port only under /compat', async () => {
    expect(Object.keys(t.compatUrls)).toEqual(['neurolab']);
    const own = client(t.compatUrls.neurolab!);
    const main = client(t.url);
    // The same route on both mounts, in the document's own envelope (FastAPI's {detail}).
    for (const r of [await own.get('/api/train/jobs'), await main.get('/compat/neurolab/api/train/jobs')]) {
      expect(r.status).toBe(401);
      expect(r.body).toEqual(expect.objectContaining({ detail: expect.any(String), code: 'UNAUTHORIZED' }));
      expect(r.body.error).toBeUndefined();
    }
    const health = await main.get('/compat/training-service/');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'running', service: 'training' });
  });

  it('a facade’s own port serves exactly the document’s paths: /v1 is not there, unknown paths answer in its envelope', async () => {
    const own = client(t.compatUrls.neurolab!);
    const v1 = await own.get('/v1/jobs');
    expect(v1.status).toBe(404);
    expect(v1.body.detail).toEqual(expect.any(String));
    const unknown = await client(t.url).get('/compat/training-service/no/such/path');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(
      expect.objectContaining({ status: 'error', code: expect.any(String), error: expect.any(String), timestamp: expect.any(String) }),
    );
    // A facade that is not configured is not mounted: the main server's own 404.
    const off = await client(t.url).get('/compat/nope/');
    expect(off.status).toBe(404);
    expect(off.body.error.code).toBe('ROUTE_NOT_FOUND');
  });

  it('answers the router’s own errors (a path segment too long: 414) in the envelope of the facade whose path it is', async () => {
    const long = 'x'.repeat(1100);
    for (const r of [
      await client(t.compatUrls.neurolab!).get(`/api/train/status/${long}`),
      await client(t.url).get(`/compat/neurolab/api/train/status/${long}`),
    ]) {
      expect(r.status).toBe(414);
      expect(r.body).toEqual({ detail: expect.any(String), code: 'URI_TOO_LONG' });
    }
    const ts = await client(t.url).get(`/compat/training-service/jobs/${long}`);
    expect(ts.status).toBe(414);
    expect(ts.body).toEqual(expect.objectContaining({ status: 'error', code: 'URI_TOO_LONG' }));
    const v1 = await client(t.url).get(`/v1/jobs/${long}`);
    expect(v1.status).toBe(414);
    expect(v1.body.error.code).toBe('URI_TOO_LONG');
  });

  it('lists each facade’s routes in /openapi.json under its own tag, with its own error envelope', async () => {
    const doc = (await client(t.url).get('/openapi.json')).body;
    expect(doc.tags.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(['compat: neurolab', 'compat: training-service']));
    const train = doc.paths['/compat/neurolab/api/train'].post;
    expect(train.tags).toEqual(['compat: neurolab']);
    // The schema of an answer, its $ref (to #/components/schemas/…) followed.
    const schemaOf = (r: { content: Record<string, { schema: { $ref?: string } }> }) => {
      const sch = r.content['application/json']!.schema;
      return sch.$ref ? doc.components.schemas[sch.$ref.split('/').pop()!] : sch;
    };
    // Not /v1's {error:{code,message}}: FastAPI's {detail} with Trainyard's code.
    expect(Object.keys(schemaOf(train.responses['401']).properties).sort()).toEqual(['code', 'detail']);
    expect(Object.keys(schemaOf(train.responses['429']).properties).sort()).toEqual(['code', 'detail']);
    const models = doc.paths['/compat/training-service/models'].get;
    expect(models.tags).toEqual(['compat: training-service']);
    // The document's four fields (its envelope may carry validation details beside them).
    expect(schemaOf(models.responses['429']).required).toEqual(['status', 'error', 'code', 'timestamp']);
    // /v1 keeps its own envelope.
    expect(Object.keys(schemaOf(doc.paths['/v1/jobs'].get.responses['401']).properties)).toEqual(['error']);
  });
});

describe('compat layer: configuration and lifecycle', () => {
  it('serves no facade unless one is named', async () => {
    const t = await startTestApp();
    try {
      expect(t.compatUrls).toEqual({});
      const r = await client(t.url).post('/compat/neurolab/api/auth/login', { username: 'a', password: 'b' });
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('ROUTE_NOT_FOUND');
      const doc = (await client(t.url).get('/openapi.json')).body;
      expect(Object.keys(doc.paths).filter((p) => p.startsWith('/compat'))).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('an unknown facade stops start-up with a message naming the variable and the facades there are', async () => {
    await expect(startTestApp({ env: { TRAINYARD_COMPAT: 'neurolab,nope' } })).rejects.toThrow(
      /TRAINYARD_COMPAT: no facade "nope"; Trainyard has neurolab, training-service/,
    );
  });

  it('a facade port that is taken stops start-up and leaves nothing listening; a clean close frees the facade’s port', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(startTestApp({ env: { TRAINYARD_COMPAT: `training-service:${port}` } })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
    const t = await startTestApp({ env: { TRAINYARD_COMPAT: `training-service:${port}` } });
    expect(t.compatUrls['training-service']).toBe(`http://127.0.0.1:${port}`);
    expect((await client(t.compatUrls['training-service']!).get('/')).body.status).toBe('running');
    await t.close();
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });
});
