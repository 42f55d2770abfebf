import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  assertKey,
  BlobNotFoundError,
  meter,
  type BlobListing,
  type BlobStore,
  type PutOptions,
  type PutResult,
  type SignedUrl,
  type SignedUrlOptions,
} from './blob-store.js';
import { sign } from './signing.js';

/**
 * Objects are files under `root`; a put writes a temp file in the same folder and renames it,
 * so a reader never sees half an object and a failed upload leaves nothing behind.
 */
export class FsBlobStore implements BlobStore {
  constructor(
    private readonly root: string,
    private readonly signingKey: Buffer,
  ) {}

  private file(key: string): string {
    return path.join(this.root, ...assertKey(key).split('/'));
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<PutResult> {
    const target = this.file(key);
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${randomBytes(6).toString('hex')}.partial`;
    const m = meter(opts.maxBytes ?? Number.MAX_SAFE_INTEGER);
    try {
      await pipeline(body, m, createWriteStream(tmp, { flags: 'wx' }));
      await opts.beforeCommit?.();
      await rename(tmp, target);
      return m.result();
    } catch (err) {
      body.resume?.(); // let the producer finish; a stalled request stream would hang the client
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(key: string): Promise<Readable> {
    const file = this.file(key);
    // Open first so a missing object fails here, not later inside the caller's pipeline.
    const fh = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new BlobNotFoundError(key, { cause: err }) : err;
    });
    return createReadStream('', { fd: fh, autoClose: true });
  }

  async head(key: string, bytes: number): Promise<Buffer> {
    const fh = await open(this.file(key), 'r').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new BlobNotFoundError(key, { cause: err }) : err;
    });
    try {
      const buf = Buffer.alloc(bytes);
      const { bytesRead } = await fh.read(buf, 0, bytes, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }

  async stat(key: string) {
    try {
      const s = await stat(this.file(key));
      // A put renames a new file into place: a new inode, whatever the clock's resolution.
      return { bytes: s.size, modifiedAt: s.mtime, version: `${s.ino}:${s.mtimeMs}` };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<BlobListing> {
    // Walk only the folder the prefix names; a partial last segment filters its entries.
    const cut = prefix.lastIndexOf('/');
    const dirKey = cut < 0 ? '' : prefix.slice(0, cut);
    if (dirKey) assertKey(dirKey);
    const walk = async function* (root: string, rel: string): AsyncGenerator<BlobListing> {
      let entries;
      try {
        entries = await readdir(path.join(root, ...(rel ? rel.split('/') : [])), { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw err;
      }
      for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* walk(root, key);
        } else if (e.isFile() && key.startsWith(prefix) && !e.name.endsWith('.partial')) {
          yield { key, bytes: (await stat(path.join(root, ...key.split('/')))).size };
        }
      }
    };
    yield* walk(this.root, dirKey);
  }

  uri(key: string): string {
    return pathToFileURL(this.file(key)).href;
  }

  keyOf(uri: string): string | null {
    if (!uri.startsWith('file://')) return null;
    const rel = path.relative(this.root, fileURLToPath(uri));
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
    return rel.split(path.sep).join('/');
  }

  // Async for the interface's sake: S3's presigner is.
  async signedUrl(key: string, opts: SignedUrlOptions): Promise<SignedUrl> {
    const expires = Math.floor(Date.now() / 1000) + opts.expiresInSeconds;
    const params = { method: opts.method, key: assertKey(key), expires, ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}) };
    const q = new URLSearchParams({ method: opts.method, expires: String(expires), signature: sign(this.signingKey, params) });
    if (opts.maxBytes !== undefined) q.set('max_bytes', String(opts.maxBytes));
    return { url: `${opts.baseUrl}/blobs/${key}?${q.toString()}`, expiresAt: new Date(expires * 1000) };
  }
}
