import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BlobNotFoundError, BlobTooLargeError, type BlobStore } from '../../src/storage/blob-store.js';
import { FsBlobStore } from '../../src/storage/fs.js';
import { S3BlobStore } from '../../src/storage/s3.js';
import { createTestBucket } from '../helpers/s3-server.js';

// The BlobStore contract, once per implementation: whatever a caller may rely on holds on the
// filesystem and on a real S3 server (SeaweedFS, started for the run by the s3 project).

const MiB = 1024 * 1024;
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const text = async (r: Readable) => {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
};
/** A body that arrives in pieces, as a request body does. */
const chunked = (b: Buffer, size = 64 * 1024) =>
  Readable.from(
    (function* () {
      for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
    })(),
  );
const listed = async (s: BlobStore, prefix: string) => {
  const out: Array<{ key: string; bytes: number }> = [];
  for await (const o of s.list(prefix)) out.push(o);
  return out.sort((a, b) => (a.key < b.key ? -1 : 1));
};

interface Impl {
  name: 'fs' | 's3';
  make(): Promise<{ store: BlobStore; done(): Promise<void> }>;
}

const impls: Impl[] = [
  {
    name: 'fs',
    async make() {
      const root = await mkdtemp(path.join(tmpdir(), 'trainyard-blobs-'));
      return { store: new FsBlobStore(root, randomBytes(32)), done: () => rm(root, { recursive: true, force: true }) };
    },
  },
  {
    name: 's3',
    async make() {
      const s = inject('s3');
      const bucket = await createTestBucket(s);
      // S3's smallest part: a 5 MiB part size keeps the multipart case cheap.
      const store = new S3BlobStore({
        bucket,
        region: s.region,
        endpoint: s.endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
        partSize: 5 * MiB,
      });
      return { store, done: async () => store.close() };
    },
  },
];

describe.each(impls)('BlobStore contract: $name', (impl) => {
  let store: BlobStore;
  let done: () => Promise<void>;
  beforeAll(async () => {
    ({ store, done } = await impl.make());
  });
  afterAll(() => done());

  it('put returns size and sha256; get, head and stat read it back; delete removes it', async () => {
    const body = Buffer.from('hello, object storage\n');
    expect(await store.put('a/b/hello.txt', chunked(body, 5))).toEqual({ bytes: body.length, sha256: sha(body) });
    expect(await text(await store.get('a/b/hello.txt'))).toEqual(body);
    expect((await store.head('a/b/hello.txt', 5)).toString()).toBe('hello');
    expect(await store.head('a/b/hello.txt', 1000)).toEqual(body);
    const st = await store.stat('a/b/hello.txt');
    expect(st).toMatchObject({ bytes: body.length });
    expect(Math.abs(st!.modifiedAt.getTime() - Date.now())).toBeLessThan(60_000);
    await store.delete('a/b/hello.txt');
    expect(await store.stat('a/b/hello.txt')).toBeNull();
    await expect(store.get('a/b/hello.txt')).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(store.head('a/b/hello.txt', 4)).rejects.toBeInstanceOf(BlobNotFoundError);
    await store.delete('a/b/hello.txt'); // deleting what is gone is not an error
  });

  it('stores an empty object', async () => {
    expect(await store.put('empty', Readable.from([]))).toEqual({ bytes: 0, sha256: sha('') });
    expect(await store.head('empty', 16)).toEqual(Buffer.alloc(0));
    expect((await store.stat('empty'))?.bytes).toBe(0);
  });

  it('a replaced object gets a new version', async () => {
    await store.put('v/x', Readable.from([Buffer.from('one')]));
    const v1 = (await store.stat('v/x'))!.version;
    await store.put('v/x', Readable.from([Buffer.from('two!')]));
    const v2 = await store.stat('v/x');
    expect(v2?.bytes).toBe(4);
    expect(v2?.version).not.toBe(v1);
  });

  it('over maxBytes: BlobTooLargeError, and what the key held is untouched', async () => {
    await store.put('cap/x', Readable.from([Buffer.from('original')]));
    await expect(store.put('cap/x', chunked(Buffer.alloc(300_000, 1)), { maxBytes: 100_000 })).rejects.toBeInstanceOf(BlobTooLargeError);
    await expect(store.put('cap/new', chunked(Buffer.alloc(300_000, 1)), { maxBytes: 100_000 })).rejects.toBeInstanceOf(BlobTooLargeError);
    expect((await text(await store.get('cap/x'))).toString()).toBe('original');
    expect(await store.stat('cap/new')).toBeNull();
    expect(await store.put('cap/exact', Readable.from([Buffer.alloc(1000)]), { maxBytes: 1000 })).toMatchObject({ bytes: 1000 });
  });

  it('beforeCommit runs once every byte arrived; if it throws, nothing is stored', async () => {
    let seenStat: unknown = 'not called';
    const r = await store.put('bc/ok', Readable.from([Buffer.from('abc')]), {
      beforeCommit: async () => {
        seenStat = await store.stat('bc/ok'); // not visible yet
      },
    });
    expect(r.bytes).toBe(3);
    expect(seenStat).toBeNull();
    await store.put('bc/keep', Readable.from([Buffer.from('kept')]));
    const refuse = () => Promise.reject(new Error('closed meanwhile'));
    await expect(store.put('bc/keep', Readable.from([Buffer.from('replaced')]), { beforeCommit: refuse })).rejects.toThrow('closed meanwhile');
    await expect(store.put('bc/none', Readable.from([Buffer.from('x')]), { beforeCommit: refuse })).rejects.toThrow('closed meanwhile');
    expect((await text(await store.get('bc/keep'))).toString()).toBe('kept');
    expect(await store.stat('bc/none')).toBeNull();
  });

  it('a body over the part size goes in parts, byte-exact; beforeCommit still guards it', async () => {
    const big = randomBytes(11 * MiB + 123);
    expect(await store.put('big/blob', chunked(big, 256 * 1024))).toEqual({ bytes: big.length, sha256: sha(big) });
    expect(sha(await text(await store.get('big/blob')))).toBe(sha(big));
    await expect(store.put('big/refused', chunked(big, 256 * 1024), { beforeCommit: () => Promise.reject(new Error('no')) })).rejects.toThrow('no');
    expect(await store.stat('big/refused')).toBeNull();
    await expect(store.put('big/capped', chunked(big, 256 * 1024), { maxBytes: 6 * MiB })).rejects.toBeInstanceOf(BlobTooLargeError);
    expect(await store.stat('big/capped')).toBeNull();
  });

  it('list(prefix): every object under a folder, or matching a partial name, with sizes', async () => {
    await store.put('models/m1/config.json', Readable.from([Buffer.from('{}')]));
    await store.put('models/m1/weights/part-1.bin', Readable.from([Buffer.alloc(10)]));
    await store.put('models/m10/x', Readable.from([Buffer.alloc(3)]));
    expect(await listed(store, 'models/m1/')).toEqual([
      { key: 'models/m1/config.json', bytes: 2 },
      { key: 'models/m1/weights/part-1.bin', bytes: 10 },
    ]);
    expect((await listed(store, 'models/m1')).map((o) => o.key)).toEqual(['models/m1/config.json', 'models/m1/weights/part-1.bin', 'models/m10/x']);
    expect(await listed(store, 'nothing/here/')).toEqual([]);
  });

  it('uri and keyOf are inverses; another place is null', () => {
    const uri = store.uri('datasets/d1/train.csv');
    expect(uri).toMatch(impl.name === 's3' ? /^s3:\/\/ty-[0-9a-f]+\/datasets\/d1\/train\.csv$/ : /^file:\/\/\/.+\/datasets\/d1\/train\.csv$/);
    expect(store.keyOf(uri)).toBe('datasets/d1/train.csv');
    expect(store.keyOf('s3://another-bucket/datasets/d1/train.csv')).toBeNull();
    expect(store.keyOf('file:///etc/passwd')).toBeNull();
    expect(store.keyOf('https://example.com/x')).toBeNull();
  });
});

describe('S3 signed URLs: the store signs its own host', () => {
  let store: S3BlobStore;
  beforeAll(async () => {
    const s = inject('s3');
    const bucket = await createTestBucket(s);
    store = new S3BlobStore({
      bucket,
      region: s.region,
      endpoint: s.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    });
  });
  afterAll(() => store.close());
  const opts = { expiresInSeconds: 60, baseUrl: 'http://api.example' };

  it('PUT through the URL with fetch, then GET it back through another', async () => {
    const body = Buffer.from('uploaded straight to the bucket');
    const put = await store.signedUrl('up/one.txt', { ...opts, method: 'PUT' });
    expect(put.url.startsWith(`${inject('s3').endpoint}/`)).toBe(true);
    expect(put.expiresAt.getTime()).toBeGreaterThan(Date.now() + 55_000);
    expect((await fetch(put.url, { method: 'PUT', body })).status).toBe(200);
    const get = await store.signedUrl('up/one.txt', { ...opts, method: 'GET' });
    const res = await fetch(get.url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(body);
    // The signature covers the key: the same URL for another object is refused.
    expect((await fetch(get.url.replace('up/one.txt', 'up/two.txt'))).status).toBe(403);
  });

  it('a PUT URL signed with a sha256 refuses other bytes', async () => {
    const body = Buffer.from('exactly these bytes');
    const put = await store.signedUrl('up/checked', { ...opts, method: 'PUT', sha256: sha(body) });
    expect((await fetch(put.url, { method: 'PUT', body: Buffer.from('other bytes, same size') })).status).toBeGreaterThanOrEqual(400);
    expect(await store.stat('up/checked')).toBeNull();
    expect((await fetch(put.url, { method: 'PUT', body })).status).toBe(200);
  });

  it('a PUT URL with maxBytes takes exactly that many bytes', async () => {
    const put = await store.signedUrl('up/sized', { ...opts, method: 'PUT', maxBytes: 10 });
    expect((await fetch(put.url, { method: 'PUT', body: Buffer.alloc(11) })).status).toBe(403);
    expect((await fetch(put.url, { method: 'PUT', body: Buffer.alloc(9) })).status).toBe(403);
    expect(await store.stat('up/sized')).toBeNull();
    expect((await fetch(put.url, { method: 'PUT', body: Buffer.alloc(10) })).status).toBe(200);
    expect((await store.stat('up/sized'))?.bytes).toBe(10);
  });

  it('an expired signature is refused', async () => {
    await store.put('up/old', Readable.from([Buffer.from('x')]));
    const get = await store.signedUrl('up/old', { ...opts, method: 'GET', expiresInSeconds: 1 });
    // Wait on the clock's state, not a fixed sleep: S3 counts in whole seconds.
    const expiresAt = get.expiresAt.getTime() + 1100;
    while (Date.now() < expiresAt) await new Promise((r) => setTimeout(r, Math.max(10, expiresAt - Date.now())));
    const res = await fetch(get.url);
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/expired/i);
  });

  it('check() (readiness) passes for the bucket and fails for a missing one', async () => {
    await expect(store.check()).resolves.toBeUndefined();
    const s = inject('s3');
    const missing = new S3BlobStore({
      bucket: 'ty-no-such-bucket',
      region: s.region,
      endpoint: s.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    });
    await expect(missing.check()).rejects.toBeTruthy();
    missing.close();
  });
});
