import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';

/**
 * Shaped like S3 so an S3 implementation can slot in: opaque keys, whole-object puts from a
 * stream, ranged reads left out until something needs them, and presigned URLs for GET/PUT.
 */
export interface PutResult {
  bytes: number;
  sha256: string;
}
export interface PutOptions {
  maxBytes?: number;
  beforeCommit?: () => Promise<void>;
}
export interface BlobStat {
  bytes: number;
  modifiedAt: Date;
  /** Changes whenever the object is replaced, even within one clock tick (S3: the ETag). */
  version: string;
}
export interface BlobListing {
  key: string;
  bytes: number;
}
export interface SignedUrl {
  url: string;
  expiresAt: Date;
}

export interface SignedUrlOptions {
  method: 'GET' | 'PUT';
  expiresInSeconds: number;
  maxBytes?: number;
  sha256?: string;
  baseUrl: string;
}

export interface BlobStore {
  /**
   * Streams `body` into `key`; fails (storing nothing) if it exceeds maxBytes. `beforeCommit`
   * runs once every byte has arrived, just before the object replaces what `key` held: if it
   * throws, nothing is stored (S3: checked before completing the multipart upload).
   */
  put(key: string, body: Readable, opts?: PutOptions): Promise<PutResult>;
  get(key: string): Promise<Readable>;
  /** The first `bytes` bytes (content sniffing), without reading the rest. */
  head(key: string, bytes: number): Promise<Buffer>;
  stat(key: string): Promise<BlobStat | null>;
  delete(key: string): Promise<void>;
  /**
   * Every object whose key starts with `prefix` (a folder: end it with '/'); order unspecified.
   * Base models and multi-file datasets are folders of objects; workers copy them by listing.
   */
  list(prefix: string): AsyncIterable<BlobListing>;
  /**
   * Where the object lives, as its store names it: `s3://bucket/key` for S3, `file:///abs/path`
   * for the filesystem store. Shown to users (a dataset's s3_path) and accepted back by
   * `resolveUri` (base models referenced by URI).
   */
  uri(key: string): string;
  /** The key of a URI this store serves (the inverse of `uri`), or null when it names another place. */
  keyOf(uri: string): string | null;
  /**
   * `baseUrl` is where clients reach this service; S3 ignores it and signs its own host. A PUT
   * URL takes at most `maxBytes` (S3: exactly that Content-Length) and, given `sha256` (hex),
   * only those bytes where the store checks it. Not every S3-compatible store enforces either:
   * whoever hands out a PUT URL checks the object's size and hash before trusting it.
   */
  signedUrl(key: string, opts: SignedUrlOptions): Promise<SignedUrl>;
  /** Readiness (/readyz): throws when the store cannot be reached (S3: HeadBucket). */
  check?(): Promise<void>;
}

export class BlobTooLargeError extends Error {
  readonly code = 'BLOB_TOO_LARGE';
  constructor(readonly maxBytes: number) {
    super(`blob exceeds ${maxBytes} bytes`);
    this.name = 'BlobTooLargeError';
  }
}

export class BlobNotFoundError extends Error {
  readonly code = 'BLOB_NOT_FOUND';
  constructor(
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(`no blob at ${key}`, options);
    this.name = 'BlobNotFoundError';
  }
}

/** Keys are ours (never client-chosen), but check anyway: a key must never escape the root. */
export function assertKey(key: string): string {
  if (!/^[a-z0-9][a-z0-9_\-./]{0,500}$/i.test(key) || key.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`invalid blob key: ${key}`);
  }
  return key;
}

/** Hashes and counts bytes as they pass (every store's put); errors out the moment the cap is crossed. */
export function meter(maxBytes: number): Transform & { result(): PutResult } {
  const hash = createHash('sha256');
  let bytes = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (bytes > maxBytes) return cb(new BlobTooLargeError(maxBytes));
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  let digest: string | null = null;
  return Object.assign(t, { result: () => ({ bytes, sha256: (digest ??= hash.digest('hex')) }) });
}
