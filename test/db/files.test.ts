import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { TEST_STORE } from '../helpers/s3-server.js';

const MAX = 64 * 1024;
let t: TestApp;
let api: ReturnType<typeof client>;
let alice: Awaited<ReturnType<ReturnType<typeof client>['user']>>;
let bob: typeof alice;
let png: Buffer;
let pngs: Buffer[];
let origin: Server;
let originUrl: string;

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Every object in the store: on FS every file (half-written .partial ones too), on S3 every key. */
async function storedObjects(): Promise<string[]> {
  if (TEST_STORE === 's3') {
    const keys: string[] = [];
    for await (const o of t.rt.services.store.list('')) keys.push(o.key);
    return keys.sort();
  }
  const root = path.join(t.dataDir, 'storage');
  return (await readdir(root, { recursive: true, withFileTypes: true }).catch(() => [])).filter((d) => d.isFile()).map((d) => d.name);
}

beforeAll(async () => {
  // The one address import may reach in tests: 127.0.0.2. 127.0.0.1 stays refused.
  t = await startTestApp({
    env: { UPLOAD_MAX_BYTES: String(MAX), IMPORT_ALLOW_ADDRESSES: '127.0.0.2/32', IMPORT_MAX_BYTES: String(MAX), IMPORT_TIMEOUT_MS: '5000' },
  });
  api = client(t.url);
  alice = await api.user('alice');
  bob = await api.user('bob');
  png = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#3366ff' } })
    .png()
    .toBuffer();
  // 30 different pictures: as many as lora-diffusion takes in one dataset.
  pngs = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      sharp({ create: { width: 8, height: 8, channels: 3, background: { r: i * 8, g: 255 - i * 8, b: 90 } } })
        .png()
        .toBuffer(),
    ),
  );
  origin = createServer((req, res) => {
    if (req.url === '/data.csv' || req.url === '/odd%ZZname.csv') return res.writeHead(200, { 'content-type': 'text/csv' }).end('a,b\n1,2\n');
    if (req.url === '/to-loopback') return res.writeHead(302, { location: `http://127.0.0.1:${(origin.address() as { port: number }).port}/data.csv` }).end();
    const img = /^\/img\/(\d+)\.png$/.exec(req.url ?? '');
    if (img) return res.writeHead(200, { 'content-type': 'image/png' }).end(pngs[Number(img[1])]);
    if (req.url === '/huge') return res.writeHead(200).end(Buffer.alloc(MAX + 10, 65));
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.2', r));
  originUrl = `http://127.0.0.2:${(origin.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise((r) => origin.close(r));
  await t.close();
});

describe('POST /v1/files (multipart)', () => {
  it('streams a CSV to storage, records size and sha256, and decides the type from content', async () => {
    const csv = 'timestamp,alpha,state\n1,0.5,rest\n2,0.7,focus\n';
    const r = await api.upload(alice.token, 'eeg.csv', csv);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ filename: 'eeg.csv', bytes: csv.length, sha256: sha(csv), content_type: 'text/csv', source: 'upload' });
    expect(r.body.id).toMatch(/^file_/);
    const got = await api.get(`/v1/files/${r.body.id}`, alice.token);
    expect(got.body.sha256).toBe(sha(csv));
  });

  it('recognises a real PNG whatever it is called, and keeps only a safe display name', async () => {
    const r = await api.upload(alice.token, '../../etc/photo.jpg', png);
    expect(r.status).toBe(201);
    expect(r.body.content_type).toBe('image/png');
    expect(r.body.filename).toBe('photo.jpg');
  });

  it('refuses a file named .png whose bytes are text (415 FILE_TYPE_MISMATCH) and stores nothing', async () => {
    const before = await storedObjects();
    const r = await api.upload(alice.token, 'cat.png', 'this is not a picture at all\n');
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe('FILE_TYPE_MISMATCH');
    expect(r.body.error.details).toMatchObject({ extension: 'png', detected: 'text/plain' });
    expect(await storedObjects()).toEqual(before);
  });

  it('refuses unknown binary content and empty files', async () => {
    const bin = await api.upload(alice.token, 'blob.bin', Buffer.from([0, 1, 2, 3, 0, 255, 254, 0, 9]));
    expect(bin.status).toBe(415);
    expect(bin.body.error.code).toBe('UNSUPPORTED_FILE_TYPE');
    const pdf = await api.upload(alice.token, 'doc.csv', Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n', 'latin1'));
    expect(pdf.status).toBe(415);
    const empty = await api.upload(alice.token, 'empty.csv', '');
    expect(empty.status).toBe(415);
    expect(empty.body.error.code).toBe('EMPTY_FILE');
  });

  it('refuses an oversized upload with 413 FILE_TOO_LARGE and leaves no partial object behind', async () => {
    const before = await storedObjects();
    const r = await api.upload(alice.token, 'big.csv', Buffer.alloc(MAX + 1, 'a'));
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('FILE_TOO_LARGE');
    expect(await storedObjects()).toEqual(before);
    const list = await api.get('/v1/files?limit=200', alice.token);
    expect(list.body.data.map((f: { filename: string }) => f.filename)).not.toContain('big.csv');
  });

  it('requires multipart with a "file" field, and authentication', async () => {
    expect((await api.post('/v1/files', { a: 1 }, alice.token)).body.error.code).toBe('MULTIPART_REQUIRED');
    expect((await api.upload(alice.token, 'x.csv', 'a,b\n', 'upload')).body.error.code).toBe('FILE_REQUIRED');
    expect((await api.upload('', 'x.csv', 'a,b\n')).status).toBe(401);
  });
});

describe('listing, reading and deleting files', () => {
  it('pages with a cursor, newest first', async () => {
    for (let i = 0; i < 3; i++) await api.upload(bob.token, `p${i}.csv`, `n,v\n${i},1\n`);
    const first = await api.get('/v1/files?limit=2', bob.token);
    expect(first.body.data.map((f: { filename: string }) => f.filename)).toEqual(['p2.csv', 'p1.csv']);
    const second = await api.get(`/v1/files?limit=2&cursor=${first.body.next_cursor}`, bob.token);
    expect(second.body.data.map((f: { filename: string }) => f.filename)).toEqual(['p0.csv']);
    expect(second.body.next_cursor).toBeNull();
    expect((await api.get('/v1/files?cursor=garbage', bob.token)).body.error.code).toBe('INVALID_CURSOR');
    expect((await api.get('/v1/files?limit=1000', bob.token)).status).toBe(400);
  });

  it("answers 404 for another user's file: never its data, never a delete", async () => {
    const mine = await api.upload(alice.token, 'secret.csv', 'k,v\nsecret,1\n');
    const peek = await api.get(`/v1/files/${mine.body.id}`, bob.token);
    expect(peek.status).toBe(404);
    expect(JSON.stringify(peek.body)).not.toContain('secret.csv');
    expect((await api.del(`/v1/files/${mine.body.id}`, bob.token)).status).toBe(404);
    expect((await api.get('/v1/files?limit=200', bob.token)).body.data.map((f: { id: string }) => f.id)).not.toContain(mine.body.id);
    expect((await api.get(`/v1/files/${mine.body.id}`, alice.token)).status).toBe(200);
  });

  it('hands its owner a signed download URL for the bytes (JSON, or a 302 with ?redirect=true); nobody else', async () => {
    const png = await sharp({ create: { width: 4, height: 3, channels: 3, background: '#3366cc' } })
      .png()
      .toBuffer();
    const f = await api.upload(alice.token, 'thumb.png', png);
    const c = await api.get(`/v1/files/${f.body.id}/content`, alice.token);
    expect(c.status).toBe(200);
    expect(c.body).toMatchObject({ id: f.body.id, content_type: 'image/png', bytes: png.length });
    // The signed URL needs no credentials, and gives back exactly what was uploaded.
    const bytes = Buffer.from(await (await fetch(c.body.url)).arrayBuffer());
    expect(sha(bytes)).toBe(sha(png));
    const r = await fetch(`${t.url}/v1/files/${f.body.id}/content?redirect=true`, { headers: { authorization: `Bearer ${alice.token}` }, redirect: 'manual' });
    expect(r.status).toBe(302);
    expect(sha(Buffer.from(await (await fetch(r.headers.get('location')!)).arrayBuffer()))).toBe(sha(png));
    expect((await api.get(`/v1/files/${f.body.id}/content`, bob.token)).status).toBe(404);
    expect((await api.get('/v1/files/file_nope/content', alice.token)).status).toBe(404);
  });

  it('deletes a file and its stored object', async () => {
    const f = await api.upload(alice.token, 'gone.csv', 'a,b\n1,2\n');
    const before = (await storedObjects()).length;
    expect((await api.del(`/v1/files/${f.body.id}`, alice.token)).status).toBe(204);
    expect((await api.get(`/v1/files/${f.body.id}`, alice.token)).status).toBe(404);
    expect((await storedObjects()).length).toBe(before - 1);
  });
});

describe('pre-signed uploads', () => {
  const body = Buffer.from('text,label\nhello,greeting\nbye,farewell\n');

  it('PUT to the signed URL then complete: size and sha256 checked, type sniffed', async () => {
    const start = await api.post('/v1/uploads', { filename: 'phrases.csv', bytes: body.length, sha256: sha(body) }, alice.token);
    expect(start.status).toBe(201);
    // FS: this service's /blobs/ route; S3: the bucket itself, as the seed's clients expect.
    expect(start.body.upload_url).toMatch(TEST_STORE === 's3' ? new RegExp(`^${inject('s3').endpoint}/ty-[0-9a-f]+/files/`) : new RegExp(`^${t.url}/blobs/`));
    expect(Date.parse(start.body.expires_at)).toBeGreaterThan(Date.now());
    const early = await api.post(`/v1/uploads/${start.body.file_id}/complete`, {}, alice.token);
    expect(early.body.error.code).toBe('UPLOAD_MISSING');
    // Not visible as a file until completed.
    expect((await api.get(`/v1/files/${start.body.file_id}`, alice.token)).status).toBe(404);
    const put = await fetch(start.body.upload_url, { method: 'PUT', body });
    expect(put.status).toBe(200);
    const done = await api.post(`/v1/uploads/${start.body.file_id}/complete`, {}, alice.token);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ id: start.body.file_id, bytes: body.length, sha256: sha(body), content_type: 'text/csv', source: 'presigned' });
  });

  // The /blobs/ route's own signature (FS); S3 checks its signature itself (below).
  it.runIf(TEST_STORE === 'fs')('refuses a tampered, expired-looking or wrong-method URL', async () => {
    const start = await api.post('/v1/uploads', { filename: 'x.csv', bytes: body.length }, alice.token);
    const u = new URL(start.body.upload_url);
    const tampered = new URL(u);
    tampered.searchParams.set('max_bytes', String(10 * MAX));
    expect((await fetch(tampered, { method: 'PUT', body })).status).toBe(401);
    const otherKey = new URL(u.toString().replace(start.body.file_id, 'file_00000000000000000000'));
    expect((await fetch(otherKey, { method: 'PUT', body })).status).toBe(401);
    expect((await fetch(u, { method: 'GET' })).status).toBe(401);
    const expired = new URL(u);
    expired.searchParams.set('expires', '1000');
    expect((await fetch(expired, { method: 'PUT', body })).status).toBe(401);
  });

  it.runIf(TEST_STORE === 's3')('S3 refuses a tampered, expired-looking or wrong-method URL (403)', async () => {
    const start = await api.post('/v1/uploads', { filename: 'x.csv', bytes: body.length }, alice.token);
    const u = new URL(start.body.upload_url);
    const tampered = new URL(u);
    tampered.searchParams.set('X-Amz-Signature', '0'.repeat(64));
    expect((await fetch(tampered, { method: 'PUT', body })).status).toBe(403);
    const otherKey = new URL(u.toString().replace(start.body.file_id, 'file_00000000000000000000'));
    expect((await fetch(otherKey, { method: 'PUT', body })).status).toBe(403);
    expect((await fetch(u, { method: 'GET' })).status).toBe(403);
    const longer = new URL(u);
    longer.searchParams.set('X-Amz-Expires', '604800');
    expect((await fetch(longer, { method: 'PUT', body })).status).toBe(403);
    expect(await storedObjects()).not.toContainEqual(expect.stringContaining(start.body.file_id));
  });

  // The announced size is signed into the S3 URL as its Content-Length: other sizes are refused
  // at the PUT. A store that does not check it lets them land; completion then refuses and
  // deletes them (written here straight into the bucket, as such a store would have).
  it.runIf(TEST_STORE === 's3')('S3: only the announced size goes through the URL; completion deletes any other (413 UPLOAD_TOO_LARGE, 409)', async () => {
    const start = await api.post('/v1/uploads', { filename: 'x.csv', bytes: 8 }, alice.token);
    const key = `files/${alice.id}/${start.body.file_id}`;
    expect((await fetch(start.body.upload_url, { method: 'PUT', body: Buffer.alloc(MAX * 4, 'a') })).status).toBe(403);
    expect((await fetch(start.body.upload_url, { method: 'PUT', body: 'a,b\n1\n' })).status).toBe(403);
    expect(await t.rt.services.store.stat(key)).toBeNull();

    await t.rt.services.store.put(key, Readable.from([Buffer.alloc(MAX * 4, 'a')]));
    const big = await api.post(`/v1/uploads/${start.body.file_id}/complete`, {}, alice.token);
    expect(big.status).toBe(413);
    expect(big.body.error).toMatchObject({ code: 'UPLOAD_TOO_LARGE', details: { expected: 8, received: MAX * 4 } });
    expect(await t.rt.services.store.stat(key)).toBeNull();
    await t.rt.services.store.put(key, Readable.from([Buffer.from('a,b\n1\n')]));
    const short = await api.post(`/v1/uploads/${start.body.file_id}/complete`, {}, alice.token);
    expect(short.status).toBe(409);
    expect(short.body.error.code).toBe('UPLOAD_SIZE_MISMATCH');
    expect(await t.rt.services.store.stat(key)).toBeNull();

    // Still open: the right bytes through the URL complete it.
    expect((await fetch(start.body.upload_url, { method: 'PUT', body: 'a,b\n1,2\n' })).status).toBe(200);
    expect((await api.post(`/v1/uploads/${start.body.file_id}/complete`, {}, alice.token)).body).toMatchObject({ bytes: 8, sha256: sha('a,b\n1,2\n') });
  });

  it.runIf(TEST_STORE === 's3')('S3: a declared sha256 is signed into the URL, so other bytes are refused at the PUT', async () => {
    const start = await api.post('/v1/uploads', { filename: 'x.csv', bytes: body.length, sha256: sha(body) }, alice.token);
    const other = Buffer.from(body.toString().replace('hello', 'HELLO'));
    expect((await fetch(start.body.upload_url, { method: 'PUT', body: other })).status).toBeGreaterThanOrEqual(400);
    expect((await api.post(`/v1/uploads/${start.body.file_id}/complete`, {}, alice.token)).body.error.code).toBe('UPLOAD_MISSING');
    expect((await fetch(start.body.upload_url, { method: 'PUT', body })).status).toBe(200);
    expect((await api.post(`/v1/uploads/${start.body.file_id}/complete`, {}, alice.token)).status).toBe(200);
  });

  it.runIf(TEST_STORE === 'fs')('refuses more bytes than announced (413), and a completion whose size or checksum differs (409)', async () => {
    const start = await api.post('/v1/uploads', { filename: 'x.csv', bytes: 10 }, alice.token);
    const tooBig = await fetch(start.body.upload_url, { method: 'PUT', body });
    expect(tooBig.status).toBe(413);
    expect((await fetch(start.body.upload_url, { method: 'PUT', body: 'a,b\n1,2\n' })).status).toBe(200);
    const short = await api.post(`/v1/uploads/${start.body.file_id}/complete`, {}, alice.token);
    expect(short.status).toBe(409);
    expect(short.body.error.code).toBe('UPLOAD_SIZE_MISMATCH');
  });

  it('a completion whose checksum differs is a 409 and keeps the upload pending', async () => {
    const s2 = await api.post('/v1/uploads', { filename: 'y.csv', bytes: body.length }, alice.token);
    await fetch(s2.body.upload_url, { method: 'PUT', body });
    const bad = await api.post(`/v1/uploads/${s2.body.file_id}/complete`, { sha256: sha('something else') }, alice.token);
    expect(bad.status).toBe(409);
    expect(bad.body.error.code).toBe('UPLOAD_CHECKSUM_MISMATCH');
    // A mismatch keeps the upload pending: the right checksum still completes it.
    expect((await api.post(`/v1/uploads/${s2.body.file_id}/complete`, { sha256: sha(body) }, alice.token)).status).toBe(200);
  });

  it('validates the request and scopes completion to the owner', async () => {
    expect((await api.post('/v1/uploads', { filename: 'x.csv', bytes: MAX + 1 }, alice.token)).status).toBe(413);
    expect((await api.post('/v1/uploads', { filename: 'x.csv', bytes: 0 }, alice.token)).status).toBe(400);
    expect((await api.post('/v1/uploads', { filename: 'x.csv', bytes: 5, sha256: 'nothex' }, alice.token)).body.error.code).toBe('INVALID_SHA256');
    const start = await api.post('/v1/uploads', { filename: 'z.csv', bytes: body.length }, alice.token);
    await fetch(start.body.upload_url, { method: 'PUT', body });
    expect((await api.post(`/v1/uploads/${start.body.file_id}/complete`, {}, bob.token)).status).toBe(404);
  });
});

describe('POST /v1/files/import', () => {
  it('imports from a permitted address and reports one result per URL', async () => {
    const r = await api.post('/v1/files/import', { urls: [`${originUrl}/data.csv`, `${originUrl}/missing`] }, alice.token);
    expect(r.status).toBe(200);
    expect(r.body.results[0]).toMatchObject({
      status: 'imported',
      file: { filename: 'data.csv', bytes: 8, sha256: sha('a,b\n1,2\n'), content_type: 'text/csv', source: 'import' },
    });
    expect(r.body.results[1]).toMatchObject({ status: 'failed', error: { code: 'UPSTREAM_STATUS' } });
  });

  it('names a file from a path with a malformed percent-escape as it is (it was a 500 for the whole import)', async () => {
    const r = await api.post('/v1/files/import', { urls: [`${originUrl}/odd%ZZname.csv`, `${originUrl}/data.csv`] }, alice.token);
    expect(r.status).toBe(200);
    expect(r.body.results.map((x: any) => [x.status, x.file?.filename])).toEqual([
      ['imported', 'odd%ZZname.csv'],
      ['imported', 'data.csv'],
    ]);
  });

  it.each([
    ['http://127.0.0.1/', 'ADDRESS_NOT_ALLOWED'],
    ['http://10.0.0.1/data.csv', 'ADDRESS_NOT_ALLOWED'],
    ['http://169.254.169.254/latest/meta-data/', 'ADDRESS_NOT_ALLOWED'],
    ['http://[::1]/', 'ADDRESS_NOT_ALLOWED'],
    ['http://localhost/', 'ADDRESS_NOT_ALLOWED'],
    ['file:///etc/passwd', 'URL_SCHEME_NOT_ALLOWED'],
    ['not a url', 'URL_INVALID'],
  ])('refuses %s with %s', async (url, code) => {
    const r = await api.post('/v1/files/import', { urls: [url] }, alice.token);
    expect(r.status).toBe(200);
    expect(r.body.results[0]).toMatchObject({ url, status: 'failed', error: { code } });
  });

  it('takes as many URLs as the largest image set a trainer accepts (30 for lora-diffusion), in order', async () => {
    const largest = Math.max(...(await api.get('/v1/trainers', alice.token)).body.data.map((tr: any) => tr.dataset.max_images ?? 0));
    expect(largest).toBe(30);
    const urls = Array.from({ length: largest }, (_, i) => `${originUrl}/img/${i}.png`);
    const r = await api.post('/v1/files/import', { urls }, alice.token);
    expect(r.status).toBe(200);
    expect(r.body.results.map((x: any) => [x.url, x.status, x.file?.content_type, x.file?.sha256])).toEqual(
      urls.map((u, i) => [u, 'imported', 'image/png', sha(pngs[i]!)]),
    );
    // Still guarded with a full list: the one loopback URL among them is refused, the others fetched.
    const mixed = [...urls.slice(0, 29), 'http://127.0.0.1/x.png'];
    const m = await api.post('/v1/files/import', { urls: mixed }, alice.token);
    expect(m.body.results.filter((x: any) => x.status === 'imported')).toHaveLength(29);
    expect(m.body.results[29]).toMatchObject({ url: 'http://127.0.0.1/x.png', status: 'failed', error: { code: 'ADDRESS_NOT_ALLOWED' } });
  });

  it('refuses a redirect to loopback, and a body over the cap, storing nothing', async () => {
    const before = await storedObjects();
    const r = await api.post('/v1/files/import', { urls: [`${originUrl}/to-loopback`, `${originUrl}/huge`] }, alice.token);
    expect(r.body.results[0].error.code).toBe('ADDRESS_NOT_ALLOWED');
    expect(r.body.results[1].error.code).toMatch(/TOO_LARGE/);
    expect(await storedObjects()).toEqual(before);
  });

  it('validates the request body', async () => {
    expect((await api.post('/v1/files/import', { urls: [] }, alice.token)).status).toBe(400);
    const tooMany = await api.post('/v1/files/import', { urls: Array.from({ length: 31 }, (_, i) => `${originUrl}/img/${i % 30}.png`) }, alice.token);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toMatchObject({ code: 'TOO_MANY_URLS', details: { limit: 30 } });
    expect((await api.post('/v1/files/import', { urls: ['http://x.test/'] })).status).toBe(401);
  });
});
