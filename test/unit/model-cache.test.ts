import { Readable } from 'node:stream';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { FsBlobStore } from '../../src/storage/fs.js';
import { BaseModelCache } from '../../src/worker/model-cache.js';

let root: string;
let store: FsBlobStore;
/** Keys read from the store: what each cache actually fetched. */
let gets: string[];

/** The store, counting reads. */
function counting(s: FsBlobStore): BlobStore {
  return new Proxy(s, {
    get(target, prop, receiver) {
      if (prop === 'get')
        return async (key: string) => {
          gets.push(key);
          return target.get(key);
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** A model of `kb` KiB in the store under models/{id}/: config.json plus one weights file. */
async function putModel(id: string, kb: number, fill = 'w') {
  await store.put(`models/${id}/config.json`, Readable.from([Buffer.from(JSON.stringify({ id, fill }))]));
  await store.put(`models/${id}/weights/model.bin`, Readable.from([Buffer.alloc(kb * 1024, fill)]));
}

/**
 * The store, with the weights files held back: each read of one returns a stream that sends
 * nothing until open() (a big download, mid-way). `streams` are the streams handed out.
 */
function gated(s: FsBlobStore) {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const streams: Readable[] = [];
  const store = new Proxy(s, {
    get(target, prop, receiver) {
      if (prop === 'get')
        return async (key: string) => {
          gets.push(key);
          if (!key.endsWith('model.bin')) return target.get(key);
          const chunks: Buffer[] = [];
          for await (const c of await target.get(key)) chunks.push(c as Buffer);
          const r = new Readable({ read() {} });
          streams.push(r);
          void opened.then(() => {
            if (r.destroyed) return;
            r.push(Buffer.concat(chunks));
            r.push(null);
          });
          return r;
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as BlobStore;
  return { store, streams, open: () => open() };
}

/** The store, listing `extra` keys (0 bytes) beside the real ones. */
function listingAlso(s: FsBlobStore, extra: string[]): BlobStore {
  return new Proxy(s, {
    get(target, prop, receiver) {
      if (prop === 'list')
        return async function* (prefix: string) {
          for (const key of extra) if (key.startsWith(prefix)) yield { key, bytes: 0 };
          yield* target.list(prefix);
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as BlobStore;
}

const KB = 1024;
const cacheDir = () => path.join(root, 'cache');
const newCache = (maxBytes: number) => new BaseModelCache({ dir: cacheDir(), maxBytes, store: counting(store) });

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'trainyard-model-cache-'));
  store = new FsBlobStore(path.join(root, 'store'), Buffer.alloc(32, 1));
  gets = [];
});
afterEach(async () => rm(root, { recursive: true, force: true }));

describe('base model cache', () => {
  it('fetches a model into a folder of its own, laid out as in the store, and reuses it', async () => {
    await putModel('a', 4);
    const c = newCache(100 * KB);
    const m = await c.acquire('a', 'models/a/');
    expect(JSON.parse(await readFile(path.join(m.path, 'config.json'), 'utf8'))).toEqual({ id: 'a', fill: 'w' });
    expect((await readFile(path.join(m.path, 'weights', 'model.bin'))).length).toBe(4 * KB);
    m.release();
    const again = await c.acquire('a', 'models/a/');
    expect(again.path).toBe(m.path);
    expect(gets).toHaveLength(2); // two objects, fetched once
    again.release();
  });

  it('concurrent jobs needing one model download it once', async () => {
    await putModel('a', 64);
    const c = newCache(1000 * KB);
    const all = await Promise.all(Array.from({ length: 5 }, () => c.acquire('a', 'models/a/')));
    expect(new Set(all.map((m) => m.path)).size).toBe(1);
    expect(gets.sort()).toEqual(['models/a/config.json', 'models/a/weights/model.bin']);
    for (const m of all) m.release();
  });

  it('evicts the least recently used model first, keeping the total under the bound', async () => {
    for (const id of ['a', 'b', 'c']) await putModel(id, 40);
    const c = newCache(100 * KB); // room for two
    for (const id of ['a', 'b', 'a']) (await c.acquire(id, `models/${id}/`)).release();
    (await c.acquire('c', 'models/c/')).release();
    // b was used longest ago: a was used again after it.
    expect(c.list().map((n) => n.split('--')[0])).toEqual(['a', 'c']);
    expect(c.totalBytes).toBeLessThanOrEqual(100 * KB);
    expect(
      (await readdir(cacheDir()))
        .filter((n) => !n.startsWith('.'))
        .map((n) => n.split('--')[0])
        .sort(),
    ).toEqual(['a', 'c']);
  });

  it('never evicts a model a running attempt uses; once released, the bound applies again', async () => {
    for (const id of ['a', 'b']) await putModel(id, 60);
    const c = newCache(100 * KB); // room for one
    const a = await c.acquire('a', 'models/a/');
    const b = await c.acquire('b', 'models/b/');
    // Both in use: over the bound rather than pulling a model from under a trainer.
    expect(c.list()).toHaveLength(2);
    expect(await readFile(path.join(a.path, 'config.json'), 'utf8')).toContain('"a"');
    a.release();
    await expect.poll(() => c.list().map((n) => n.split('--')[0])).toEqual(['b']);
    expect(c.totalBytes).toBeLessThanOrEqual(100 * KB);
    b.release();
  });

  it('a model registered again with other files is fetched again (its version changed)', async () => {
    await putModel('a', 4, 'x');
    const c = newCache(100 * KB);
    const first = await c.acquire('a', 'models/a/');
    first.release();
    await putModel('a', 4, 'y');
    const second = await c.acquire('a', 'models/a/');
    expect(second.path).not.toBe(first.path);
    expect((await readFile(path.join(second.path, 'weights', 'model.bin'))).subarray(0, 1).toString()).toBe('y');
    second.release();
  });

  it('a restarted worker keeps complete entries and ignores partial or corrupted ones', async () => {
    for (const id of ['a', 'b']) await putModel(id, 8);
    const first = newCache(100 * KB);
    const a = await first.acquire('a', 'models/a/');
    const b = await first.acquire('b', 'models/b/');
    a.release();
    b.release();
    // A crash mid-download (a dead process's partial folder), an entry cut short, a folder
    // without metadata: none of them may be handed to a trainer.
    await mkdir(path.join(cacheDir(), '.partial-999999999-dead', 'weights'), { recursive: true });
    await truncate(path.join(b.path, 'weights', 'model.bin'), 100);
    await mkdir(path.join(cacheDir(), 'c--0000000000000000-beef'), { recursive: true });
    await writeFile(path.join(cacheDir(), 'c--0000000000000000-beef', 'config.json'), '{}');

    gets = [];
    const second = newCache(100 * KB);
    const a2 = await second.acquire('a', 'models/a/');
    expect(a2.path).toBe(a.path);
    expect(gets).toEqual([]); // reused as it was
    const b2 = await second.acquire('b', 'models/b/');
    expect(gets.sort()).toEqual(['models/b/config.json', 'models/b/weights/model.bin']);
    expect((await readFile(path.join(b2.path, 'weights', 'model.bin'))).length).toBe(8 * KB);
    expect((await readdir(cacheDir())).sort()).toEqual([path.basename(a.path), path.basename(b2.path)].sort());
    a2.release();
    b2.release();
  });

  it('a failed fetch leaves nothing behind and the next try fetches afresh', async () => {
    await putModel('a', 4);
    const failing = new BaseModelCache({
      dir: cacheDir(),
      maxBytes: 100 * KB,
      store: new Proxy(store, {
        get(target, prop, receiver) {
          if (prop === 'get')
            return async (key: string) => {
              if (key.endsWith('model.bin')) throw new Error('connection reset');
              return target.get(key);
            };
          const v = Reflect.get(target, prop, receiver);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      }),
    });
    await expect(failing.acquire('a', 'models/a/')).rejects.toThrow('connection reset');
    expect(await readdir(cacheDir())).toEqual([]);
    const m = await newCache(100 * KB).acquire('a', 'models/a/');
    expect((await readFile(path.join(m.path, 'weights', 'model.bin'))).length).toBe(4 * KB);
    m.release();
  });

  it('refuses a prefix with nothing stored', async () => {
    await expect(newCache(100 * KB).acquire('nope', 'models/nope/')).rejects.toThrow(/nothing stored/);
  });

  it('a job that gives up (cancel, lost lease, timeout) stops the download and its read stream', async () => {
    await putModel('a', 8);
    const g = gated(store);
    const c = new BaseModelCache({ dir: cacheDir(), maxBytes: 100 * KB, store: g.store });
    const stop = new AbortController();
    const waiting = c.acquire('a', 'models/a/', stop.signal);
    await expect.poll(() => g.streams.length).toBe(1);
    stop.abort(new Error('the attempt was stopped (cancel)'));
    await expect(waiting).rejects.toThrow('the attempt was stopped (cancel)');
    expect(g.streams[0]!.destroyed).toBe(true);
    // The partial download is removed; nothing looks like an entry.
    await expect.poll(async () => readdir(cacheDir())).toEqual([]);
    expect(c.list()).toEqual([]);
    // The next job fetches it afresh.
    g.open();
    const m = await c.acquire('a', 'models/a/');
    expect((await readFile(path.join(m.path, 'weights', 'model.bin'))).length).toBe(8 * KB);
    m.release();
  });

  it('one waiter giving up leaves a shared download to the others', async () => {
    await putModel('a', 8);
    const g = gated(store);
    const c = new BaseModelCache({ dir: cacheDir(), maxBytes: 100 * KB, store: g.store });
    const quitter = new AbortController();
    const stayer = new AbortController();
    const gone = c.acquire('a', 'models/a/', quitter.signal);
    const kept = c.acquire('a', 'models/a/', stayer.signal);
    await expect.poll(() => g.streams.length).toBe(1);
    quitter.abort(new Error('cancelled'));
    await expect(gone).rejects.toThrow('cancelled');
    expect(g.streams[0]!.destroyed).toBe(false);
    g.open();
    const m = await kept;
    expect((await readFile(path.join(m.path, 'weights', 'model.bin'))).length).toBe(8 * KB);
    expect(g.streams).toHaveLength(1); // one download, never restarted
    m.release();
  });

  it('downloads under way count against the bound before they land', async () => {
    await putModel('a', 60);
    for (const id of ['b', 'c']) await putModel(id, 40);
    (await newCache(110 * KB).acquire('a', 'models/a/')).release();
    const g = gated(store);
    // a and either one fit; all three do not.
    const c = new BaseModelCache({ dir: cacheDir(), maxBytes: 110 * KB, store: g.store });
    const both = Promise.all([c.acquire('b', 'models/b/'), c.acquire('c', 'models/c/')]);
    // Both downloads have begun (each made its room) before either is in the cache.
    await expect.poll(() => g.streams.length).toBe(2);
    g.open();
    const [b, cc] = await both;
    expect(
      c
        .list()
        .map((n) => n.split('--')[0])
        .sort(),
    ).toEqual(['b', 'c']);
    expect(c.totalBytes).toBeLessThanOrEqual(110 * KB);
    b.release();
    cc.release();
  });

  it('skips S3 folder objects (keys ending in "/") and refuses a key that would leave its folder', async () => {
    await putModel('a', 4);
    const c = new BaseModelCache({ dir: cacheDir(), maxBytes: 100 * KB, store: listingAlso(store, ['models/a/', 'models/a/weights/']) });
    const m = await c.acquire('a', 'models/a/');
    expect((await readdir(m.path)).sort()).toEqual(['.trainyard-model.json', 'config.json', 'weights']);
    expect(await readdir(path.join(m.path, 'weights'))).toEqual(['model.bin']);
    m.release();

    await putModel('b', 4);
    const evil = new BaseModelCache({ dir: cacheDir(), maxBytes: 100 * KB, store: listingAlso(store, ['models/b/../../escaped']) });
    await expect(evil.acquire('b', 'models/b/')).rejects.toThrow(/models\/b\/\.\.\/\.\.\/escaped is not a name a file can have/);
    expect(await readdir(root)).not.toContain('escaped');
  });

  it('a restarted worker removes partial downloads and trash named with its own pid (a container restarts as pid 1)', async () => {
    await putModel('a', 4);
    for (const f of [`.partial-${process.pid}-0123abcd`, `.trash-${process.pid}-0123abcd`]) {
      await mkdir(path.join(cacheDir(), f, 'weights'), { recursive: true });
      await writeFile(path.join(cacheDir(), f, 'weights', 'model.bin'), 'half');
    }
    const m = await newCache(100 * KB).acquire('a', 'models/a/');
    expect(await readdir(cacheDir())).toEqual([path.basename(m.path)]);
    m.release();
  });

  it('a failed first look at the folder is tried again, not remembered', async () => {
    await putModel('a', 4);
    await mkdir(root, { recursive: true });
    await writeFile(cacheDir(), 'not a folder yet'); // e.g. a volume not mounted yet
    const c = newCache(100 * KB);
    await expect(c.acquire('a', 'models/a/')).rejects.toThrow(/EEXIST|ENOTDIR/);
    await rm(cacheDir());
    const m = await c.acquire('a', 'models/a/');
    expect((await readFile(path.join(m.path, 'weights', 'model.bin'))).length).toBe(4 * KB);
    m.release();
  });
});
