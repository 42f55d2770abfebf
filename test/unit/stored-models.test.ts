import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyFolderToStore, overlaps, storedModelProblem } from '../../src/domain/catalog/stored-models.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { FsBlobStore } from '../../src/storage/fs.js';

let root: string;
let store: FsBlobStore;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'trainyard-stored-models-'));
  store = new FsBlobStore(path.join(root, 'store'), Buffer.alloc(32, 1));
});
afterEach(async () => rm(root, { recursive: true, force: true }));

/** The store with a different `get`/`put`/`list` where given. */
function wrapped(over: Partial<BlobStore>): BlobStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop in over) return over[prop as keyof BlobStore];
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as BlobStore;
}

async function folder(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(root, name);
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text);
  }
  return dir;
}

async function stored(prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const o of store.list(prefix)) {
    const chunks: Buffer[] = [];
    for await (const c of await store.get(o.key)) chunks.push(c as Buffer);
    out[o.key] = Buffer.concat(chunks).toString();
  }
  return out;
}

const put = (key: string, text: string) => store.put(key, Readable.from([Buffer.from(text)]));

describe('copying a base model folder into the store', () => {
  it('a copy that fails deletes nothing stored; one that succeeds removes what the new folder lacks', async () => {
    await put('models/x/config.json', 'old config');
    await put('models/x/weights/old.bin', 'old weights');
    const dir = await folder('new', { 'config.json': 'new config', 'weights/new.bin': 'new weights' });

    const failing = wrapped({
      put: async (key, body, opts) => {
        if (key.endsWith('new.bin')) {
          body.resume();
          throw new Error('connection reset');
        }
        return store.put(key, body, opts);
      },
    });
    await expect(copyFolderToStore(failing, dir, 'models/x/', 'tiny')).rejects.toThrow('connection reset');
    expect(await stored('models/x/')).toEqual({ 'models/x/config.json': 'old config', 'models/x/weights/old.bin': 'old weights' });

    // An S3 "folder" object in the listing is no object of ours: no attempt to delete it.
    const withFolderObject = wrapped({
      list: async function* (prefix: string) {
        yield { key: `${prefix}`, bytes: 0 };
        yield* store.list(prefix);
      },
    });
    expect(await copyFolderToStore(withFolderObject, dir, 'models/x/', 'tiny')).toEqual({ files: 2, bytes: 21 });
    expect(await stored('models/x/')).toEqual({ 'models/x/config.json': 'new config', 'models/x/weights/new.bin': 'new weights' });
  });

  it('a folder holding only S3 folder objects has nothing stored', async () => {
    const onlyFolders = wrapped({
      list: async function* () {
        yield { key: 'models/y/', bytes: 0 };
        yield { key: 'models/y/weights/', bytes: 0 };
      },
    });
    expect(await storedModelProblem(onlyFolders, 'models/y/', 'tiny')).toMatch(/^nothing stored at /);
  });

  it('folders overlap when one holds the other', () => {
    const uri = (k: string) => `${store.uri(k)}/`;
    expect(overlaps(store, uri('models/x'), 'models/x/')).toBe(true);
    expect(overlaps(store, uri('models/x/weights'), 'models/x/')).toBe(true);
    expect(overlaps(store, uri('models'), 'models/x/')).toBe(true);
    expect(overlaps(store, uri('models/xy'), 'models/x/')).toBe(false);
    expect(overlaps(store, uri('other/x'), 'models/x/')).toBe(false);
    expect(overlaps(store, 'models/x', 'models/x/')).toBe(false); // a local folder, not in the store
  });
});
