import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { TEST_STORE } from '../helpers/s3-server.js';
import { until } from '../helpers/wait.js';
import { FilesService } from '../../src/domain/files/service.js';
import { parseAddressPolicy } from '../../src/net/address-guard.js';
import type { BlobStore } from '../../src/storage/blob-store.js';

// Issue #10: pre-signed URLs after completion, oversized chunked PUTs and
// invisible control characters in file names.

const MAX = 64 * 1024;
let t: TestApp;
let api: ReturnType<typeof client>;
let alice: Awaited<ReturnType<ReturnType<typeof client>['user']>>;

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  t = await startTestApp({ env: { UPLOAD_MAX_BYTES: String(MAX) } });
  api = client(t.url);
  alice = await api.user('alice');
});
afterAll(() => t.close());

async function presigned(content: Buffer | string, filename = 'data.csv') {
  const buf = Buffer.from(content);
  const start = await api.post('/v1/uploads', { filename, bytes: buf.length, sha256: sha(buf) }, alice.token);
  expect(start.status).toBe(201);
  return start.body as { file_id: string; upload_url: string };
}

describe('a completed pre-signed upload is closed', () => {
  it('refuses a PUT to the same URL after /complete with 409 UPLOAD_CLOSED, and the stored bytes stay those recorded', async () => {
    const first = 'text,label\nhello,greeting\n';
    const up = await presigned(first);
    expect((await fetch(up.upload_url, { method: 'PUT', body: first })).status).toBe(200);
    const done = await api.post(`/v1/uploads/${up.file_id}/complete`, {}, alice.token);
    expect(done.status).toBe(200);

    const swapped = 'text,label\nhello,evilness\n'; // same size, other label
    expect(swapped.length).toBe(first.length);
    const again = await fetch(up.upload_url, { method: 'PUT', body: swapped });
    if (TEST_STORE === 's3') {
      // S3's URL outlives completion; the sha256 declared at the start is signed into it, and
      // the store refuses other bytes (400 BadDigest).
      expect(again.status).toBe(400);
    } else {
      expect(again.status).toBe(409);
      expect(((await again.json()) as { error: { code: string } }).error.code).toBe('UPLOAD_CLOSED');
    }
    const blob = await t.rt.services.store.get(`files/${alice.id}/${up.file_id}`);
    const chunks: Buffer[] = [];
    for await (const c of blob) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe(first);
  });

  // FS only, from here to the end of this block: these are the /blobs/ route's checks (S3's PUT
  // URLs go to the bucket, which knows nothing of our uploads; see the S3 notes in the README).
  it.runIf(TEST_STORE === 'fs')('refuses a PUT that was under way when /complete ran (409), keeping the completed bytes', async () => {
    const first = 'text,label\nhello,greeting\n';
    const up = await presigned(first);
    expect((await fetch(up.upload_url, { method: 'PUT', body: first })).status).toBe(200);
    // A second PUT starts while the upload is still pending, and is slow to finish.
    const u = new URL(up.upload_url);
    const dir = path.join(t.dataDir, 'storage', 'files', alice.id);
    const late = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'PUT', headers: { 'transfer-encoding': 'chunked' } });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      late.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      late.on('error', reject);
    });
    late.write('text,label\nhello,');
    await until(async () => (await readdir(dir)).some((f) => f.startsWith(up.file_id) && f.endsWith('.partial')), { message: 'the late PUT to be streaming' });
    const done = await api.post(`/v1/uploads/${up.file_id}/complete`, {}, alice.token);
    expect(done.body.sha256).toBe(sha(first));
    late.end('evilness\n');
    const r = await answer;
    expect(r.status).toBe(409);
    expect(JSON.parse(r.body).error.code).toBe('UPLOAD_CLOSED');
    expect((await readFile(path.join(dir, up.file_id))).toString()).toBe(first);
  });

  it.runIf(TEST_STORE === 'fs')('refuses a PUT to the URL of an upload that was deleted (409 UPLOAD_CLOSED), leaving no orphan blob', async () => {
    const up = await presigned('a,b\n1,2\n');
    await t.testDb.db.query('delete from files where id = $1', [up.file_id]);
    const put = await fetch(up.upload_url, { method: 'PUT', body: 'a,b\n1,2\n' });
    expect(put.status).toBe(409);
    expect(existsSync(path.join(t.dataDir, 'storage', 'files', alice.id, up.file_id))).toBe(false);
  });
});

/** Sends a chunked body over the cap and keeps the request open; resolves once the server ends the socket. */
function oversizedChunked(url: URL, method: string, headers: Record<string, string>, first: Buffer) {
  return new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      method,
      headers: { ...headers, 'transfer-encoding': 'chunked' },
    });
    let status = 0;
    let connection: string | undefined;
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      connection = res.headers.connection;
      res.resume();
      // The server must end the connection itself: resolve only once the socket is closed.
      res.socket.on('close', () => resolve({ status, connection }));
    });
    req.on('error', (err) => (status ? resolve({ status, connection }) : reject(err)));
    req.write(first);
  });
}

describe('an oversized chunked body', () => {
  // FS only: an S3 PUT URL is the bucket's; there, completion refuses and deletes too many bytes (files.test.ts).
  it.runIf(TEST_STORE === 'fs')('to a signed PUT URL answers 413 with connection: close and the server ends the socket', async () => {
    const up = await presigned('0123456789');
    const r = await oversizedChunked(new URL(up.upload_url), 'PUT', {}, Buffer.alloc(1024, 'a'));
    expect(r).toEqual({ status: 413, connection: 'close' });
  });

  it('to POST /v1/files (multipart) answers 413 and the server ends the socket', async () => {
    const boundary = 'xyzzy';
    const head = `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="big.csv"\r\ncontent-type: text/csv\r\n\r\n`;
    const r = await oversizedChunked(
      new URL('/v1/files', t.url),
      'POST',
      { authorization: `Bearer ${alice.token}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
      Buffer.concat([Buffer.from(head), Buffer.alloc(MAX + 1024, 'a')]),
    );
    expect(r).toEqual({ status: 413, connection: 'close' });
  });
});

describe('file names', () => {
  const nasty = 'invoice\u202Egpj.exe\u2066\u2069\u200F\u0085.csv';
  it('lose bidi and other control characters on a multipart upload', async () => {
    const r = await api.upload(alice.token, nasty, 'a,b\n1,2\n');
    expect(r.status).toBe(201);
    expect(r.body.filename).toBe('invoicegpj.exe.csv');
  });

  it('lose them on a pre-signed upload too', async () => {
    const up = await presigned('a,b\n3,4\n', nasty);
    await fetch(up.upload_url, { method: 'PUT', body: 'a,b\n3,4\n' });
    const done = await api.post(`/v1/uploads/${up.file_id}/complete`, {}, alice.token);
    expect(done.body.filename).toBe('invoicegpj.exe.csv');
  });
});

describe('completion racing a PUT', () => {
  it('answers 409 UPLOAD_CHANGED when the bytes are replaced while /complete hashes them, and the upload stays pending', async () => {
    const inner = t.rt.services.store;
    const first = 'k,v\na,1\n';
    const swapped = 'k,v\nb,2\n';
    // A store whose read for hashing lets a PUT land right after the hash stream opened.
    const store: BlobStore = Object.assign(Object.create(inner) as BlobStore, {
      async get(key: string) {
        const stream = await inner.get(key);
        await inner.put(key, Readable.from([Buffer.from(swapped)]));
        return stream;
      },
    });
    const files = new FilesService({
      db: t.testDb.db,
      store,
      maxFileBytes: MAX,
      signedUrlTtlSeconds: 60,
      import: { maxBytes: MAX, timeoutMs: 1000, policy: parseAddressPolicy('') },
    });
    const up = await files.createUpload(alice.id, { filename: 'race.csv', bytes: first.length }, t.url);
    await inner.put(`files/${alice.id}/${up.file_id}`, Readable.from([Buffer.from(first)]));
    await expect(files.completeUpload(alice.id, up.file_id, {})).rejects.toMatchObject({ code: 'UPLOAD_CHANGED', status: 409 });
    expect((await t.testDb.db.query<{ status: string }>('select status from files where id = $1', [up.file_id])).rows[0]!.status).toBe('pending');
  });
});

describe('a multipart body that cannot be parsed', () => {
  // Found by the API fuzz gate: busboy throws a plain Error for a multipart Content-Type
  // without its boundary, which used to surface as a 500.
  it('is a 400 MULTIPART_INVALID, not a 500, and stores nothing', async () => {
    const before = await api.get('/v1/files', alice.token);
    const res = await fetch(`${t.url}/v1/files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'multipart/form-data' },
      body: 'not a multipart body',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('MULTIPART_INVALID');
    const after = await api.get('/v1/files', alice.token);
    expect((after.body as { data: unknown[] }).data.length).toBe((before.body as { data: unknown[] }).data.length);
  });
});
