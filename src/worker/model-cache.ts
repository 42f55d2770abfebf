import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { BlobStore } from '../storage/blob-store.js';

/**
 * The worker's copies of store-backed base models (issue #13): a folder per model version
 * under MODEL_CACHE_DIR, bounded by MODEL_CACHE_MAX_BYTES, least recently used evicted first
 * but never while a running attempt uses it. A version is a hash of the objects' keys, sizes
 * and store versions, so a model registered again under the same id is fetched again.
 *
 * A fetch writes into a `.partial-<pid>-…` folder and renames it into place with its metadata
 * file inside, so a crash never leaves something that looks complete; on start, entries whose
 * metadata is missing or whose files do not match it are removed. Concurrent jobs of this
 * process needing one model share one download. The folder belongs to one worker process:
 * several processes on one machine each need their own MODEL_CACHE_DIR.
 */

const META = '.trainyard-model.json';

export interface ModelCacheOptions {
  dir: string;
  maxBytes: number;
  store: BlobStore;
  log?: Logger;
}

export interface CachedModel {
  /** The model's folder; valid until release(). */
  path: string;
  release(): void;
}

interface Entry {
  name: string;
  dir: string;
  bytes: number;
  lastUsed: number;
}

interface RemoteFile {
  key: string;
  rel: string;
  bytes: number;
  version: string;
}

interface Meta {
  name: string;
  id: string;
  prefix: string;
  files: Array<{ rel: string; bytes: number }>;
}

export class BaseModelCache {
  private readonly entries = new Map<string, Entry>();
  /** Entry name → attempts using it (or waiting for its fetch): never evicted while > 0. */
  private readonly pins = new Map<string, number>();
  private readonly fetching = new Map<string, Promise<Entry>>();
  private scanned: Promise<void> | null = null;
  private clock = 0;

  constructor(private readonly o: ModelCacheOptions) {}

  /** Bytes of every complete entry (what the bound applies to). */
  get totalBytes(): number {
    return [...this.entries.values()].reduce((n, e) => n + e.bytes, 0);
  }

  /** Entry folder names, least recently used first (tests, diagnostics). */
  list(): string[] {
    return [...this.entries.values()].sort((a, b) => a.lastUsed - b.lastUsed).map((e) => e.name);
  }

  /**
   * The folder of base model `id`, whose objects are under `prefix` in the store, fetched if
   * this version is not cached. Pinned until release().
   */
  async acquire(id: string, prefix: string): Promise<CachedModel> {
    await (this.scanned ??= this.scan());
    const files = await this.remote(prefix);
    if (!files.length) throw new Error(`base model ${id}: nothing stored at ${this.o.store.uri(prefix.replace(/\/+$/, ''))}/`);
    const version = createHash('sha256')
      .update(JSON.stringify(files.map((f) => [f.rel, f.bytes, f.version])))
      .digest('hex')
      .slice(0, 16);
    const name = `${id}--${version}`;
    this.pin(name, 1);
    try {
      let entry = this.entries.get(name);
      // Gone from disk behind our back (an operator cleaning up): fetch it again.
      if (entry && !(await stat(path.join(entry.dir, META)).catch(() => null))) {
        this.entries.delete(name);
        entry = undefined;
      }
      if (!entry) {
        let p = this.fetching.get(name);
        if (!p) {
          p = this.fetch(name, id, prefix, files).finally(() => this.fetching.delete(name));
          this.fetching.set(name, p);
        }
        entry = await p;
      }
      const used = entry;
      used.lastUsed = this.tick();
      // The metadata file's mtime keeps the LRU order across restarts.
      const now = new Date(used.lastUsed);
      await utimes(path.join(used.dir, META), now, now).catch(() => {});
      let released = false;
      return {
        path: used.dir,
        release: () => {
          if (released) return;
          released = true;
          used.lastUsed = this.tick();
          this.pin(name, -1);
          this.evict(0).catch((err) => this.o.log?.warn({ err }, 'model cache eviction failed'));
        },
      };
    } catch (err) {
      this.pin(name, -1);
      throw err;
    }
  }

  /** Milliseconds, but strictly increasing: two uses within one millisecond still have an order. */
  private tick(): number {
    return (this.clock = Math.max(Date.now(), this.clock + 1));
  }

  private pin(name: string, by: number): void {
    const n = (this.pins.get(name) ?? 0) + by;
    if (n > 0) this.pins.set(name, n);
    else this.pins.delete(name);
  }

  /** The model's objects with their store versions, in key order. */
  private async remote(prefix: string): Promise<RemoteFile[]> {
    const listed = [];
    for await (const o of this.o.store.list(prefix)) listed.push(o);
    listed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const out: RemoteFile[] = [];
    for (const o of listed) {
      const s = await this.o.store.stat(o.key);
      if (s) out.push({ key: o.key, rel: o.key.slice(prefix.length), bytes: s.bytes, version: s.version });
    }
    return out;
  }

  /** Removes least recently used, unpinned entries until `room` more bytes fit under the bound. */
  private async evict(room: number): Promise<void> {
    let total = this.totalBytes;
    const victims = [...this.entries.values()].filter((e) => !this.pins.has(e.name)).sort((a, b) => a.lastUsed - b.lastUsed);
    const gone: Entry[] = [];
    for (const v of victims) {
      if (total + room <= this.o.maxBytes) break;
      this.entries.delete(v.name);
      total -= v.bytes;
      gone.push(v);
    }
    for (const v of gone) {
      this.o.log?.info({ model: v.name, bytes: v.bytes }, 'model cache: evicted');
      await this.discard(v.dir);
    }
  }

  /** Renamed aside first, so a crash half-way through leaves no folder that looks like an entry. */
  private async discard(dir: string): Promise<void> {
    const trash = path.join(this.o.dir, `.trash-${process.pid}-${randomBytes(4).toString('hex')}`);
    await rename(dir, trash).catch(() => {});
    await rm(trash, { recursive: true, force: true });
  }

  private async fetch(name: string, id: string, prefix: string, files: RemoteFile[]): Promise<Entry> {
    const bytes = files.reduce((n, f) => n + f.bytes, 0);
    await this.evict(bytes);
    if (this.totalBytes + bytes > this.o.maxBytes)
      this.o.log?.warn({ model: name, bytes, cached_bytes: this.totalBytes, max_bytes: this.o.maxBytes }, 'model cache: over its bound (the rest is in use)');
    const tmp = path.join(this.o.dir, `.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
    const log = this.o.log?.child({ model: name });
    try {
      let done = 0;
      let lastLog = 0;
      for (const f of files) {
        const file = path.join(tmp, ...f.rel.split('/'));
        await mkdir(path.dirname(file), { recursive: true });
        await pipeline(await this.o.store.get(f.key), createWriteStream(file));
        const got = (await stat(file)).size;
        if (got !== f.bytes) throw new Error(`base model ${id}: ${f.key} changed while it was fetched (${got} bytes, listed ${f.bytes})`);
        done += got;
        if (Date.now() - lastLog >= 5000 || done === bytes) {
          lastLog = Date.now();
          log?.info({ files: files.length, bytes, fetched_bytes: done }, 'model cache: fetching base model');
        }
      }
      const meta: Meta = { name, id, prefix, files: files.map((f) => ({ rel: f.rel, bytes: f.bytes })) };
      await writeFile(path.join(tmp, META), JSON.stringify(meta));
      // A folder of its own per fetch: an eviction of an earlier copy still under way never meets it.
      const dir = path.join(this.o.dir, `${name}-${randomBytes(4).toString('hex')}`);
      await rename(tmp, dir);
      const entry = { name, dir, bytes, lastUsed: this.tick() };
      this.entries.set(name, entry);
      return entry;
    } catch (err) {
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
  }

  /**
   * Takes stock of the folder once: complete entries join the LRU in their last-use order;
   * partial downloads of dead processes, trash and entries that fail their check are removed.
   */
  private async scan(): Promise<void> {
    await mkdir(this.o.dir, { recursive: true });
    for (const folder of await readdir(this.o.dir)) {
      const dir = path.join(this.o.dir, folder);
      if (folder.startsWith('.')) {
        const pid = Number(/^\.(?:partial|trash)-(\d+)-/.exec(folder)?.[1]);
        if (!alive(pid)) await rm(dir, { recursive: true, force: true });
        continue;
      }
      const entry = await this.check(dir);
      const twin = entry && this.entries.get(entry.name);
      if (entry && (!twin || twin.lastUsed < entry.lastUsed)) {
        this.entries.set(entry.name, entry);
        if (twin) await this.discard(twin.dir);
      } else {
        this.o.log?.warn({ folder }, 'model cache: removing an incomplete, corrupted or duplicate entry');
        await this.discard(dir);
      }
    }
    await this.evict(0);
  }

  /** The entry when its metadata is readable and every file it lists is there at its size. */
  private async check(dir: string): Promise<Entry | null> {
    try {
      const metaFile = path.join(dir, META);
      const meta = JSON.parse(await readFile(metaFile, 'utf8')) as Meta;
      if (typeof meta.name !== 'string' || !path.basename(dir).startsWith(`${meta.name}-`) || !Array.isArray(meta.files) || !meta.files.length) return null;
      let bytes = 0;
      for (const f of meta.files) {
        const s = await stat(path.join(dir, ...f.rel.split('/')));
        if (!s.isFile() || s.size !== f.bytes) return null;
        bytes += s.size;
      }
      return { name: meta.name, dir, bytes, lastUsed: (await stat(metaFile)).mtimeMs };
    } catch {
      return null;
    }
  }
}

/** Whether a process of this id runs on this machine (a partial download of a live one stays). */
function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
