import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { s3Env } from '../helpers/s3-server.js';
import type { S3BlobStore } from '../../src/storage/s3.js';

// /readyz asks the store too: on S3 a HeadBucket, so a wrong bucket, endpoint or credentials
// shows up before the first upload fails.
describe('/readyz with STORAGE=s3', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: s3Env(inject('s3'), 'ty-never-created') });
  });
  afterAll(() => t.close());

  it('answers 503 storage_unreachable while the bucket does not exist, 200 once it does', async () => {
    const api = client(t.url);
    const r = await api.get('/readyz');
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ status: 'storage_unreachable', storage: 's3', pending_migrations: 0 });
    const store = t.rt.services.store as S3BlobStore;
    await store.client.send(new CreateBucketCommand({ Bucket: 'ty-never-created' }));
    expect((await api.get('/readyz')).body).toMatchObject({ status: 'ready', storage: 's3' });
  });
});
