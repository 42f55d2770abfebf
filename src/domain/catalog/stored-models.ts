import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, Transform } from 'node:stream';
import type { Logger } from 'pino';
import { ValidationError } from '../../errors.js';
import { assertKey, type BlobStore } from '../../storage/blob-store.js';

/**
 * Base models kept in the blob store (issue #13): a folder of objects under `models/{id}/` (the
 * seed's s3://bucket/models/{model_id}/ layout), or any folder a URI names in the configured
 * store. Workers on other machines fetch them from there (src/worker/model-cache.ts), so no
 * worker needs the API server's paths.
 */

/** The file a folder of each architecture must hold: a cheap check that it is what it claims. */
const MARKER_FILE: Record<string, string> = { 'stable-diffusion': 'model_index.json' };
export const markerOf = (architecture: string): string => MARKER_FILE[architecture] ?? 'config.json';

/** Where a base model registered from a folder is copied to. */
export const storedModelPrefix = (id: string): string => `models/${id}/`;

/** A `scheme://…` source, as opposed to a local folder. */
export const isUri = (source: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(source);

/**
 * The folder (a key prefix ending in '/') that `uri` names in this store, or null when the
 * store does not serve it (an s3:// URI with the filesystem store, another bucket, a root).
 */
export function storePrefixOf(store: BlobStore, uri: string): string | null {
  let key: string | null;
  try {
    key = store.keyOf(uri);
  } catch {
    return null; // e.g. a file:// URL with a host
  }
  const k = key?.replace(/\/+$/, '');
  if (!k) return null;
  try {
    assertKey(k);
  } catch {
    return null;
  }
  return `${k}/`;
}

/** Whether base model `source` names a store folder that is `prefix`, inside it or around it. */
export function overlaps(store: BlobStore, source: string, prefix: string): boolean {
  const p = isUri(source) ? storePrefixOf(store, source) : null;
  return p !== null && (p.startsWith(prefix) || prefix.startsWith(p));
}

/** The URI of a folder: the store names objects, so name its first key-less level and add the slash. */
export const folderUri = (store: BlobStore, prefix: string): string => `${store.uri(prefix.replace(/\/+$/, ''))}/`;

/** Null when the folder holds the architecture's marker file, else why it is not usable. */
export async function storedModelProblem(store: BlobStore, prefix: string, architecture: string): Promise<string | null> {
  const marker = `${prefix}${markerOf(architecture)}`;
  let any = false;
  for await (const o of store.list(prefix)) {
    if (o.key === marker) return null;
    // A zero-byte "folder" object (the AWS console, s3fs) is no file: alone, nothing is stored.
    if (!o.key.endsWith('/')) any = true;
  }
  return any ? `no ${markerOf(architecture)} in ${folderUri(store, prefix)}` : `nothing stored at ${folderUri(store, prefix)}`;
}

/** A key this code could have written (not a folder object, no empty or '..' segment). */
function isKey(key: string): boolean {
  try {
    assertKey(key);
    return true;
  } catch {
    return false;
  }
}

interface LocalFile {
  rel: string;
  abs: string;
  bytes: number;
}

/** Every file under `dir` (links followed: a Hugging Face snapshot links to its blobs), sorted. */
async function walk(dir: string, rel = '', depth = 0): Promise<LocalFile[]> {
  if (depth > 32) throw new ValidationError('BASE_MODEL_PATH_INVALID', `${dir} nests folders too deeply`);
  const out: LocalFile[] = [];
  for (const name of (await readdir(path.join(dir, rel))).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const abs = path.join(dir, r);
    const s = await stat(abs);
    if (s.isDirectory()) out.push(...(await walk(dir, r, depth + 1)));
    else if (s.isFile()) out.push({ rel: r, abs, bytes: s.size });
  }
  return out;
}

/**
 * Copies a local folder into the store under `prefix`, one streamed object per file (never a
 * whole file in memory), logging progress for big folders. The marker file goes last, so a
 * folder that shows its marker is complete. Objects an earlier registration of the same id
 * left there are overwritten file by file, and those the new folder lacks are removed only once
 * the copy has succeeded: a copy that fails deletes nothing.
 */
export async function copyFolderToStore(
  store: BlobStore,
  dir: string,
  prefix: string,
  architecture: string,
  log?: Logger,
): Promise<{ files: number; bytes: number }> {
  const files = await walk(dir);
  for (const f of files) {
    try {
      assertKey(`${prefix}${f.rel}`);
    } catch {
      throw new ValidationError('BASE_MODEL_FILE_NAME', `${f.abs}: a file name the store cannot hold (letters, digits, "_", "-", "." only)`, { path: f.abs });
    }
  }
  const marker = markerOf(architecture);
  const ordered = [...files.filter((f) => f.rel !== marker), ...files.filter((f) => f.rel === marker)];
  const total = files.reduce((n, f) => n + f.bytes, 0);
  let done = 0;
  let lastLog = Date.now();
  const progress = () =>
    log?.info(
      { prefix, files: files.length, bytes: total, copied_bytes: done, percent: total ? Math.floor((done / total) * 100) : 100 },
      'copying base model into the store',
    );
  progress();
  for (const f of ordered) {
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        done += chunk.length;
        if (Date.now() - lastLog >= 5000) {
          lastLog = Date.now();
          progress();
        }
        cb(null, chunk);
      },
    });
    // pipeline, not pipe: a read error must reach the put and fail it.
    await store.put(
      `${prefix}${f.rel}`,
      pipeline(createReadStream(f.abs), counter, () => {}),
    );
  }
  const keep = new Set(files.map((f) => `${prefix}${f.rel}`));
  const stale = [];
  // Folder objects (keys ending in '/') are no keys of ours, and harmless: left alone.
  for await (const o of store.list(prefix)) if (!keep.has(o.key) && isKey(o.key)) stale.push(o.key);
  for (const key of stale) await store.delete(key);
  log?.info({ prefix, files: files.length, bytes: total, removed_stale: stale.length }, 'base model copied into the store');
  return { files: files.length, bytes: total };
}
