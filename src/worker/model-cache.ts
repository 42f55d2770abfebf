import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { BlobStore } from '../storage/blob-store.js';
import { download, listRemote, type RemoteFile } from './model-fetch.js';

/**
 * The worker's copies of store-backed base models (issue #13): a folder per model version
 * under MODEL_CACHE_DIR, bounded by MODEL_CACHE_MAX_BYTES, least recently used evicted first
 * but never while a running attempt uses it. A version is a hash of the objects' keys, sizes
 * and store versions, so a model registered again under the same id is fetched again.
 *
 * A fetch writes into a `.partial-<pid>-…` folder and renames it into place with its metadata
 * file inside, so a crash never leaves something that looks complete; on start, entries whose
 * metadata is missing or whose files do not match it are removed. Concurrent jobs of this
 * process needing one model share one download, which stops only when every one of them has
 * given up on it (cancelled, lost its lease, timed out). The folder belongs to one worker
 * process: several processes on one machine each need their own MODEL_CACHE_DIR.
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

/** One download, shared by every attempt waiting for it. */
interface Flight {
  promise: Promise<Entry>;
  controller: AbortController;
  waiters: number;
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
  private readonly fetching = new Map<string, Flight>();
  private scanned: Promise<void> | null = null;
  private clock = 0;
  /** Bytes of downloads under way: they count against the bound before they land. */
  private reservedBytes = 0;

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
   * this version is not cached. Pinned until release(). `signal` gives up waiting (the
   * attempt was cancelled, lost its lease or ran out of time).
   */
  async acquire(id: string, prefix: string, signal?: AbortSignal): Promise<CachedModel> {
    signal?.throwIfAborted();
    // A failed scan (a disk not mounted yet) is tried again by the next acquire, not remembered.
    await (this.scanned ??= this.scan().catch((err: unknown) => {
      this.scanned = null;
      throw err;
    }));
    const files = await listRemote(this.o.store, id, prefix, signal);
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
      if (!entry) entry = await this.join(name, id, prefix, files, signal);
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
          this.evict().catch((err) => this.o.log?.warn({ err }, 'model cache eviction failed'));
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

  /**
   * Waits for the download of `name`, starting it if none is under way. A waiter that gives up
   * leaves the download to the others; the last one to leave stops it.
   */
  private async join(name: string, id: string, prefix: string, files: RemoteFile[], signal?: AbortSignal): Promise<Entry> {
    let flight = this.fetching.get(name);
    if (!flight) {
      const controller = new AbortController();
      const f: Flight = { controller, waiters: 0, promise: Promise.resolve(null as never) };
      f.promise = this.fetch(name, id, prefix, files, controller.signal).finally(() => {
        if (this.fetching.get(name) === f) this.fetching.delete(name);
      });
      this.fetching.set(name, f);
      flight = f;
    }
    const f = flight;
    f.waiters++;
    try {
      if (!signal) return await f.promise;
      return await new Promise<Entry>((resolve, reject) => {
        const onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        if (signal.aborted) onAbort();
        f.promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      });
    } finally {
      if (--f.waiters === 0 && this.fetching.get(name) === f) {
        // Nobody waits anymore: stop reading, and let a later acquire start afresh.
        this.fetching.delete(name);
        f.controller.abort(signal?.reason);
      }
    }
  }

  /** Removes least recently used, unpinned entries until downloads under way fit under the bound too. */
  private async evict(): Promise<void> {
    let total = this.totalBytes + this.reservedBytes;
    const victims = [...this.entries.values()].filter((e) => !this.pins.has(e.name)).sort((a, b) => a.lastUsed - b.lastUsed);
    const gone: Entry[] = [];
    for (const v of victims) {
      if (total <= this.o.maxBytes) break;
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

  private async fetch(name: string, id: string, prefix: string, files: RemoteFile[], signal: AbortSignal): Promise<Entry> {
    const bytes = files.reduce((n, f) => n + f.bytes, 0);
    this.reservedBytes += bytes;
    const tmp = path.join(this.o.dir, `.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      await this.evict();
      if (this.totalBytes + this.reservedBytes > this.o.maxBytes)
        this.o.log?.warn(
          { model: name, bytes, cached_bytes: this.totalBytes, reserved_bytes: this.reservedBytes, max_bytes: this.o.maxBytes },
          'model cache: over its bound (the rest is in use)',
        );
      await download(this.o.store, id, files, tmp, signal, this.o.log?.child({ model: name }));
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
    } finally {
      this.reservedBytes -= bytes;
    }
  }

  /**
   * Takes stock of the folder once: complete entries join the LRU in their last-use order;
   * partial downloads of dead processes, trash and entries that fail their check are removed.
   * It runs before this process has written anything here, so a folder named with our own pid
   * is a previous life's (a container restarts as pid 1 again).
   */
  private async scan(): Promise<void> {
    await mkdir(this.o.dir, { recursive: true });
    for (const folder of await readdir(this.o.dir)) {
      const dir = path.join(this.o.dir, folder);
      if (folder.startsWith('.')) {
        const pid = Number(/^\.(?:partial|trash)-(\d+)-/.exec(folder)?.[1]);
        if (pid === process.pid || !alive(pid)) await rm(dir, { recursive: true, force: true });
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
    await this.evict();
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
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
