import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client } from '../helpers/app.js';
import { PASSWORD, put, startQlora, zip, type QloraApp } from '../helpers/qlora.js';
import { waitFor } from '../helpers/wait.js';

// Seed 004's accounts and datasets on the filesystem store (test/helpers/qlora.ts); models,
// trainings and stop are compat-qlora-trainings.test.ts.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let q: QloraApp;
let alice: string;
let bob: string;
const api = () => q.api();
const store = () => q.store();

beforeAll(async () => {
  q = await startQlora();
  alice = await q.user('alice');
  bob = await q.user('bob');
}, 60_000);
afterAll(async () => {
  await q?.close();
});

describe('qlora facade (seed 004): auth and datasets', () => {
  it('auth: signup 201 {message}, an existing user 400, login a bearer token, bad credentials 401, no token 401 — all as {detail}', async () => {
    const s = await api().post('/v1/auth/signup', { username: 'carol', email: 'carol@example.com', password: PASSWORD });
    expect(s).toMatchObject({ status: 201, body: { message: 'User registered successfully' } });
    const again = await api().post('/v1/auth/signup', { username: 'carol', email: 'other@example.com', password: PASSWORD });
    expect(again.status).toBe(400);
    expect(again.body).toEqual({ detail: expect.stringContaining('taken'), code: 'USERNAME_TAKEN' });
    expect((await api().post('/v1/auth/signup', { username: 'dave', email: 'not-an-email', password: PASSWORD })).status).toBe(400);
    const login = await api().post('/v1/auth/login', { username: 'carol', password: PASSWORD });
    expect(login.body).toMatchObject({ access_token: expect.any(String), token_type: 'bearer' });
    const bad = await api().post('/v1/auth/login', { username: 'carol', password: 'wrong password entirely' });
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({ detail: expect.any(String), code: expect.any(String) });
    // Throttled: the third failure locks the account; then even the right password is 429.
    for (let i = 0; i < 2; i++) expect((await api().post('/v1/auth/login', { username: 'carol', password: 'wrong password entirely' })).status).toBe(401);
    const locked = await api().post('/v1/auth/login', { username: 'carol', password: PASSWORD });
    expect(locked.status).toBe(429);
    expect(locked.body).toEqual({ detail: expect.any(String), code: expect.any(String) });
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    const bare = await api().get('/v1/datasets');
    expect(bare.status).toBe(401);
    expect(bare.body.detail).toEqual(expect.any(String));
    expect((await api().get('/v1/nothing-here', alice)).body).toEqual({ detail: expect.any(String), code: 'ROUTE_NOT_FOUND' });
    // The same paths under the main server's /compat/qlora.
    expect((await client(q.t.url).get('/compat/qlora/v1/models/allowed', alice)).status).toBe(200);
  });

  it('upload: initiate → processing with the seed’s key layout and a 15-minute URL; PUT; complete (400 on a key mismatch) → ready, sizes and s3_path', async () => {
    const asked = Date.now();
    const up = await q.initiate(alice);
    expect(up.dataset_id).toMatch(UUID);
    expect(up.s3_key).toBe(`datasets/${up.dataset_id}/my_video_dataset.zip`);
    // SIGNED_URL_TTL_SECONDS is 3600 here; a URL without a size lives at most 15 minutes.
    const ttl = Date.parse(up.expires_at) - asked;
    expect(ttl).toBeGreaterThan(14 * 60_000);
    expect(ttl).toBeLessThanOrEqual(15 * 60_000 + 5_000);
    const before = await api().get(`/v1/datasets/${up.dataset_id}`, alice);
    expect(before.body).toMatchObject({
      id: up.dataset_id,
      name: 'clips',
      description: 'three clips',
      status: 'processing',
      file_count: 0,
      total_size_bytes: 0,
    });
    // The filesystem store: the key, never file:///<the server's folders>.
    expect(before.body.s3_path).toBe(up.s3_key);
    const early = await api().post('/v1/datasets/upload-complete', { dataset_id: up.dataset_id, s3_key: up.s3_key }, alice);
    expect(early).toMatchObject({ status: 400, body: { code: 'UPLOAD_MISSING' } });

    const bytes = zip();
    expect((await put(up.upload_url, bytes)).status).toBe(200);
    const mismatch = await api().post('/v1/datasets/upload-complete', { dataset_id: up.dataset_id, s3_key: `datasets/${up.dataset_id}/other.zip` }, alice);
    expect(mismatch.status).toBe(400);
    expect(mismatch.body).toEqual({ detail: expect.stringContaining('s3_key'), code: 'S3_KEY_MISMATCH' });
    const unknown = await api().post('/v1/datasets/upload-complete', { dataset_id: 'no-such-dataset', s3_key: up.s3_key }, alice);
    expect(unknown).toMatchObject({ status: 404, body: { code: 'DATASET_NOT_FOUND' } });
    const done = await api().post('/v1/datasets/upload-complete', { dataset_id: up.dataset_id, s3_key: up.s3_key }, alice);
    expect(done.body).toEqual({ message: 'Dataset processing initiated', dataset_id: up.dataset_id });
    expect((await api().post('/v1/datasets/upload-complete', { dataset_id: up.dataset_id, s3_key: up.s3_key }, alice)).status).toBe(200);

    const ready = await waitFor(
      () => api().get(`/v1/datasets/${up.dataset_id}`, alice),
      (r) => r.body.status !== 'processing',
      { message: 'validation' },
    );
    expect(ready.body).toMatchObject({ status: 'ready', file_count: 1, total_size_bytes: bytes.length, error: null, s3_path: up.s3_key });
    expect(await store().stat(up.s3_key)).toMatchObject({ bytes: bytes.length });
    const list = await api().get('/v1/datasets', alice);
    expect(Array.isArray(list.body)).toBe(true);
    const listed = list.body.find((d: { id: string }) => d.id === up.dataset_id);
    expect(Object.keys(listed).sort()).toEqual(['created_at', 'description', 'id', 'name', 's3_path', 'status']);
    // The PUT URL closed at completion: the bytes behind the dataset cannot change.
    expect((await put(up.upload_url, zip())).status).toBe(409);
  });

  it('refusals: not a zip 400 and error; a broken zip ends in error; over the upload limit 413 and deleted; an unsafe name 400', async () => {
    // Text named .zip (the bytes decide), and text named as text (no archive): 400, the dataset in error.
    for (const [name, code] of [
      ['notes.zip', 'FILE_TYPE_MISMATCH'],
      ['notes.txt', 'FILE_KIND_MISMATCH'],
    ]) {
      const text = await q.initiate(alice, name);
      await put(text.upload_url, Buffer.from('just some text, not an archive\n'));
      const r = await api().post('/v1/datasets/upload-complete', { dataset_id: text.dataset_id, s3_key: text.s3_key }, alice);
      expect(r).toMatchObject({ status: 400, body: { code } });
      expect((await api().get(`/v1/datasets/${text.dataset_id}`, alice)).body).toMatchObject({ status: 'error', error: r.body.detail });
      const again = await api().post('/v1/datasets/upload-complete', { dataset_id: text.dataset_id, s3_key: text.s3_key }, alice);
      expect(again).toMatchObject({ status: 400, body: { code: 'DATASET_FAILED' } });
    }

    const broken = await q.initiate(alice, 'broken.zip');
    await put(broken.upload_url, zip().subarray(0, 300));
    expect((await api().post('/v1/datasets/upload-complete', { dataset_id: broken.dataset_id, s3_key: broken.s3_key }, alice)).status).toBe(200);
    const failed = await waitFor(
      () => api().get(`/v1/datasets/${broken.dataset_id}`, alice),
      (x) => x.body.status !== 'processing',
      { message: 'validation of the broken zip' },
    );
    expect(failed.body).toMatchObject({ status: 'error', error: expect.any(String) });

    // S3's presigned PUT cannot cap the size, so completion checks it: the object is written
    // past the URL here, as a client of S3 could.
    const big = await q.initiate(alice, 'big.zip');
    await store().put(big.s3_key, Readable.from([Buffer.alloc(70 * 1024, 1)]));
    const tooBig = await api().post('/v1/datasets/upload-complete', { dataset_id: big.dataset_id, s3_key: big.s3_key }, alice);
    expect(tooBig).toMatchObject({ status: 413, body: { code: 'FILE_TOO_LARGE' } });
    expect(await store().stat(big.s3_key)).toBeNull();
    // The filesystem store's URL itself refuses more than the limit.
    expect((await put(big.upload_url, Buffer.alloc(70 * 1024, 1))).status).toBe(413);

    const dots = await api().post('/v1/datasets/upload-initiate', { file_name: '..', file_type: 'x', dataset_name: 'd' }, alice);
    expect(dots).toMatchObject({ status: 400, body: { code: 'INVALID_FILE_NAME' } });
    const missing = await api().post('/v1/datasets/upload-initiate', { file_name: 'a.zip', dataset_name: 'd' }, alice);
    expect(missing).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR' } });
  });

  it('delete: 204 removes the dataset and its objects from the store; 404 after; owner-scoped', async () => {
    const dataset = await q.readyDataset(alice);
    const key = (await api().get(`/v1/datasets/${dataset}`, alice)).body.s3_path;
    expect(await store().stat(key)).not.toBeNull();
    expect((await api().get(`/v1/datasets/${dataset}`, bob)).status).toBe(404);
    expect((await api().del(`/v1/datasets/${dataset}`, bob)).status).toBe(404);
    expect((await api().get('/v1/datasets', bob)).body).toEqual([]);
    expect((await api().del(`/v1/datasets/${dataset}`, alice)).status).toBe(204);
    expect(await store().stat(key)).toBeNull();
    const left: string[] = [];
    for await (const o of store().list(`datasets/${dataset}/`)) left.push(o.key);
    expect(left).toEqual([]);
    expect((await api().get(`/v1/datasets/${dataset}`, alice)).body).toEqual({ detail: `Dataset ${dataset} not found`, code: 'DATASET_NOT_FOUND' });
    expect((await api().del(`/v1/datasets/${dataset}`, alice)).status).toBe(404);
    // A dataset whose upload never completed goes too, with whatever was PUT.
    const half = await q.initiate(alice, 'half.zip');
    await put(half.upload_url, zip());
    expect((await api().del(`/v1/datasets/${half.dataset_id}`, alice)).status).toBe(204);
    expect(await store().stat(half.s3_key)).toBeNull();
  });
});
