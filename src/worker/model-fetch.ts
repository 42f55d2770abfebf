import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { assertKey, type BlobStore } from '../storage/blob-store.js';

/** The store side of the model cache (src/worker/model-cache.ts): what a model is, and fetching it. */

export interface RemoteFile {
  key: string;
  rel: string;
  bytes: number;
  version: string;
}

/**
 * The model's objects with their store versions, in key order. Zero-byte "folder" objects
 * (keys ending in '/', which the AWS console and s3fs create) are no files: skipped. Any other
 * key must be one a folder can hold (no empty, '.' or '..' segment).
 */
export async function listRemote(store: BlobStore, id: string, prefix: string, signal?: AbortSignal): Promise<RemoteFile[]> {
  const listed = [];
  for await (const o of store.list(prefix)) {
    if (o.key.endsWith('/')) continue;
    if (!o.key.startsWith(prefix)) throw new Error(`base model ${id}: the store listed ${o.key} under ${prefix}`);
    try {
      assertKey(o.key);
    } catch {
      throw new Error(`base model ${id}: ${o.key} is not a name a file can have on this worker`);
    }
    listed.push(o);
  }
  signal?.throwIfAborted();
  listed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const out: RemoteFile[] = [];
  for (const o of listed) {
    signal?.throwIfAborted();
    const s = await store.stat(o.key);
    if (s) out.push({ key: o.key, rel: o.key.slice(prefix.length), bytes: s.bytes, version: s.version });
  }
  return out;
}

/**
 * Writes every file into `tmp`, laid out as in the store. `signal` stops it mid-file: the
 * pipeline destroys the store's read stream, so an aborted download stops reading at once.
 */
export async function download(store: BlobStore, id: string, files: RemoteFile[], tmp: string, signal: AbortSignal, log?: Logger): Promise<void> {
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  const root = path.resolve(tmp);
  let done = 0;
  let lastLog = 0;
  for (const f of files) {
    signal.throwIfAborted();
    const file = path.resolve(root, ...f.rel.split('/'));
    // assertKey already refuses '..' segments; this is the check that a name can never escape.
    if (!file.startsWith(root + path.sep)) throw new Error(`base model ${id}: ${f.key} would be written outside its folder`);
    await mkdir(path.dirname(file), { recursive: true });
    await pipeline(await store.get(f.key), createWriteStream(file), { signal });
    const got = (await stat(file)).size;
    if (got !== f.bytes) throw new Error(`base model ${id}: ${f.key} changed while it was fetched (${got} bytes, listed ${f.bytes})`);
    done += got;
    if (Date.now() - lastLog >= 5000 || done === bytes) {
      lastLog = Date.now();
      log?.info({ files: files.length, bytes, fetched_bytes: done }, 'model cache: fetching base model');
    }
  }
}
