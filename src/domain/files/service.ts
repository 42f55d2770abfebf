import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Db } from '../../db/db.js';
import { AppError, ConflictError, isForeignKeyViolation, isUniqueViolation, NotFoundError, PayloadTooLargeError, ValidationError } from '../../errors.js';
import { decodeCursor, newId, toPage } from '../../ids.js';
import type { AddressPolicy, Resolver } from '../../net/address-guard.js';
import { safeFetch } from '../../net/safe-fetch.js';
import { BlobTooLargeError, type BlobStore } from '../../storage/blob-store.js';
import * as q from './queries.js';
import type { CompleteUploadInput, CreateUploadInput } from './schema.js';
import { MAX_IMPORT_URLS, MIN_IMPORT_URLS } from './limits.js';
import { sniff, SNIFF_BYTES } from './sniff.js';

export interface PublicFile {
  id: string;
  filename: string;
  bytes: number;
  sha256: string;
  content_type: string;
  source: string;
  source_url: string | null;
  created_at: string;
}

export interface FilesDeps {
  db: Db;
  store: BlobStore;
  maxFileBytes: number;
  signedUrlTtlSeconds: number;
  import: {
    maxBytes: number;
    timeoutMs: number;
    policy: AddressPolicy;
    resolver?: Resolver;
    /** The most images a trainer takes in one dataset (catalog): one import may fetch that many URLs. */
    largestImageSet?: () => number;
  };
}

/** Fetches in flight at once for one import: 30 URLs take a few round trips, not 30. */
const IMPORT_CONCURRENCY = 4;

export function publicFile(f: q.FileRow): PublicFile {
  return {
    id: f.id,
    filename: f.filename,
    bytes: f.bytes ?? 0,
    sha256: f.sha256 ?? '',
    content_type: f.content_type ?? '',
    source: f.source,
    source_url: f.source_url,
    created_at: f.created_at.toISOString(),
  };
}

/**
 * C0 and C1 controls, and the invisible format characters that change how a name reads:
 * bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069; "invoice\u202Efdp.exe"
 * shows as "invoiceexe.pdf"), the directional marks, and line/paragraph separators.
 */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

/** Display names only: no folders, no control or bidi characters, bounded. Storage keys are ours. */
export function cleanFilename(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  const clean = base.replace(CONTROL_CHARS, '').trim().slice(0, 255);
  return clean || 'unnamed';
}

const SHA256 = /^[a-f0-9]{64}$/;
/** Expired uploads deleted per statement: a large backlog goes in several short ones. */
const PURGE_BATCH = 100;

export class FilesService {
  private purgeTimer: NodeJS.Timeout | null = null;
  private purging: Promise<void> | null = null;

  constructor(private readonly deps: FilesDeps) {}

  /** The caller's uploaded files among `ids` (pending uploads and other users' files are left out). */
  async readyFiles(ownerId: string, ids: string[]): Promise<Array<Pick<q.FileRow, 'id' | 'filename' | 'bytes' | 'content_type'>>> {
    return q.readyFilesByIds(this.deps.db, ownerId, ids);
  }

  private key(ownerId: string, id: string) {
    return `files/${ownerId}/${id}`;
  }

  /** Streams to storage (hashing on the way), sniffs the stored head, then records the row. */
  async ingest(
    ownerId: string,
    filename: string,
    body: Readable,
    source: 'upload' | 'import',
    sourceUrl: string | null = null,
    maxBytes = this.deps.maxFileBytes,
  ): Promise<PublicFile> {
    const id = newId('file');
    const key = this.key(ownerId, id);
    const name = cleanFilename(filename);
    let put;
    try {
      put = await this.deps.store.put(key, body, { maxBytes });
    } catch (err) {
      if (err instanceof BlobTooLargeError)
        throw new PayloadTooLargeError('FILE_TOO_LARGE', `file exceeds the ${maxBytes}-byte limit`, { max_bytes: maxBytes });
      throw err;
    }
    try {
      const content_type = await sniff(await this.deps.store.head(key, SNIFF_BYTES), put.bytes, name);
      const row = await q.insertReadyFile(this.deps.db, {
        id,
        owner_id: ownerId,
        filename: name,
        storage_key: key,
        bytes: put.bytes,
        sha256: put.sha256,
        content_type,
        source,
        source_url: sourceUrl,
      });
      return publicFile(row);
    } catch (err) {
      await this.deps.store.delete(key);
      throw err;
    }
  }

  async createUpload(ownerId: string, input: CreateUploadInput, baseUrl: string) {
    if (input.bytes > this.deps.maxFileBytes)
      throw new PayloadTooLargeError('FILE_TOO_LARGE', `file exceeds the ${this.deps.maxFileBytes}-byte limit`, { max_bytes: this.deps.maxFileBytes });
    const sha = input.sha256?.toLowerCase();
    if (sha !== undefined && !SHA256.test(sha)) throw new ValidationError('INVALID_SHA256', 'sha256 must be 64 hex characters');
    await this.purgeExpired();
    const id = newId('file');
    const key = this.key(ownerId, id);
    const signed = await this.deps.store.signedUrl(key, {
      method: 'PUT',
      expiresInSeconds: this.deps.signedUrlTtlSeconds,
      maxBytes: input.bytes,
      ...(sha ? { sha256: sha } : {}),
      baseUrl,
    });
    await q.insertPendingFile(this.deps.db, {
      id,
      owner_id: ownerId,
      filename: cleanFilename(input.filename),
      storage_key: key,
      expected_bytes: input.bytes,
      expected_sha256: sha ?? null,
      expires_at: signed.expiresAt,
    });
    return { file_id: id, upload_url: signed.url, method: 'PUT' as const, expires_at: signed.expiresAt.toISOString() };
  }

  /** Checks what arrived against what was announced; a mismatch keeps the upload pending so it can be re-sent. */
  async completeUpload(ownerId: string, id: string, input: CompleteUploadInput): Promise<PublicFile> {
    const row = await q.fileById(this.deps.db, ownerId, id);
    if (!row) throw new NotFoundError('upload', id);
    if (row.status === 'ready') return publicFile(row);
    if (row.expires_at && row.expires_at.getTime() < Date.now())
      throw new ConflictError('UPLOAD_EXPIRED', 'the upload URL expired before completion; start a new upload');
    const stat = await this.deps.store.stat(row.storage_key);
    if (!stat) throw new ConflictError('UPLOAD_MISSING', 'nothing was uploaded yet: PUT the bytes to upload_url first');
    if (stat.bytes !== row.expected_bytes) {
      // An S3 PUT URL cannot cap the size, so this is where too many bytes are caught. Bytes of
      // the wrong size can never complete: they go (unless a new PUT replaced them meanwhile),
      // and the upload stays pending for a PUT of the right bytes.
      const details = { expected: row.expected_bytes, received: stat.bytes };
      if ((await this.deps.store.stat(row.storage_key))?.version === stat.version) await this.deps.store.delete(row.storage_key);
      if (stat.bytes > (row.expected_bytes ?? 0))
        throw new PayloadTooLargeError('UPLOAD_TOO_LARGE', `announced ${row.expected_bytes} bytes, received ${stat.bytes}; the bytes were deleted`, details);
      throw new ConflictError('UPLOAD_SIZE_MISMATCH', `announced ${row.expected_bytes} bytes, received ${stat.bytes}; the bytes were deleted`, details);
    }
    const sha256 = await this.hashBlob(row.storage_key);
    const wanted = (input.sha256 ?? row.expected_sha256 ?? undefined)?.toLowerCase();
    if (wanted !== undefined && wanted !== sha256)
      throw new ConflictError('UPLOAD_CHECKSUM_MISMATCH', 'sha256 of the received bytes does not match', { expected: wanted, received: sha256 });
    const content_type = await sniff(await this.deps.store.head(row.storage_key, SNIFF_BYTES), stat.bytes, row.filename);
    // A PUT may have landed while we hashed (the URL stays open until markReady): then the hash
    // describes bytes no longer stored. After markReady a PUT cannot land (assertUploadOpen).
    const now = await this.deps.store.stat(row.storage_key);
    if (!now || now.version !== stat.version) throw new ConflictError('UPLOAD_CHANGED', 'the bytes were replaced while completing; complete the upload again');
    const done = await q.markReady(this.deps.db, ownerId, id, { bytes: stat.bytes, sha256, content_type });
    return publicFile(done ?? (await q.fileById(this.deps.db, ownerId, id))!);
  }

  /**
   * A signed PUT URL writes only while its upload is pending. Completion closes it (the recorded
   * size and sha256 describe the bytes from then on), and so do deletion and the purge: the URL
   * cannot swap bytes behind a ready file or leave an orphan object.
   */
  async assertUploadOpen(storageKey: string): Promise<void> {
    const status = await q.uploadStatusByKey(this.deps.db, storageKey);
    if (status === 'pending') return;
    throw new ConflictError(
      'UPLOAD_CLOSED',
      status === 'ready' ? 'this upload was completed; its URL no longer accepts bytes' : 'this upload no longer exists; start a new upload',
    );
  }

  private async hashBlob(key: string): Promise<string> {
    const h = createHash('sha256');
    for await (const chunk of await this.deps.store.get(key)) h.update(chunk as Buffer);
    return h.digest('hex');
  }

  /** How many URLs one import takes: enough for the largest image set a trainer accepts. */
  importUrlLimit(): number {
    return Math.min(MAX_IMPORT_URLS, Math.max(MIN_IMPORT_URLS, this.deps.import.largestImageSet?.() ?? 0));
  }

  /**
   * One result per URL, in order; one URL failing does not fail the others. Every fetch goes
   * through the address guard (safeFetch), a few at a time.
   */
  async importUrls(ownerId: string, urls: string[]) {
    const limit = this.importUrlLimit();
    if (urls.length > limit)
      throw new ValidationError('TOO_MANY_URLS', `at most ${limit} URLs per import (the largest image set a trainer takes); got ${urls.length}`, {
        limit,
      });
    const results: Array<Awaited<ReturnType<FilesService['importOne']>>> = new Array(urls.length);
    let next = 0;
    const lane = async () => {
      while (next < urls.length) {
        const i = next++;
        results[i] = await this.importOne(ownerId, urls[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(IMPORT_CONCURRENCY, urls.length) }, lane));
    return results;
  }

  private async importOne(ownerId: string, url: string) {
    try {
      const res = await safeFetch(url, {
        policy: this.deps.import.policy,
        timeoutMs: this.deps.import.timeoutMs,
        maxBytes: this.deps.import.maxBytes,
        ...(this.deps.import.resolver ? { resolver: this.deps.import.resolver } : {}),
      });
      const name = filenameFromResponse(res.url, res.headers['content-disposition']);
      const file = await this.ingest(ownerId, name, res.body, 'import', url, this.deps.import.maxBytes);
      return { url, status: 'imported' as const, file };
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return {
        url,
        status: 'failed' as const,
        error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) },
      };
    }
  }

  async get(ownerId: string, id: string): Promise<PublicFile> {
    const row = await q.fileById(this.deps.db, ownerId, id);
    if (!row || row.status !== 'ready') throw new NotFoundError('file', id);
    return publicFile(row);
  }

  async list(ownerId: string, limit: number, cursor?: string) {
    return toPage(await q.listFiles(this.deps.db, ownerId, limit, decodeCursor(cursor)), limit, publicFile);
  }

  async delete(ownerId: string, id: string): Promise<void> {
    let row: q.FileRow | null;
    try {
      row = await q.deleteFile(this.deps.db, ownerId, id);
    } catch (err) {
      // The foreign key is the authority: a dataset created concurrently still wins.
      if (isForeignKeyViolation(err)) throw new ConflictError('FILE_IN_USE', 'the file belongs to a dataset; delete the dataset first');
      throw err;
    }
    if (!row) throw new NotFoundError('file', id);
    await this.deps.store.delete(row.storage_key);
  }

  /** One batch of expired pending uploads: rows deleted first, then their bytes. */
  async purgeExpired(batch = PURGE_BATCH): Promise<number> {
    const rows = await q.deleteExpiredPending(this.deps.db, batch);
    for (const r of rows) await this.deps.store.delete(r.storage_key);
    return rows.length;
  }

  /**
   * Purges expired uploads every `intervalMs`, batch after batch until none is left, so bytes
   * PUT to a URL nobody completed do not wait for the next upload to start. One pass at a time;
   * stopPurging() clears the timer and waits for a pass under way.
   */
  startPurging(intervalMs: number, onError: (msg: string, err: unknown) => void = () => {}): void {
    if (this.purgeTimer) return;
    this.purgeTimer = setInterval(() => {
      if (this.purging) return;
      const pass = async () => {
        let purged;
        do purged = await this.purgeExpired();
        while (purged === PURGE_BATCH && this.purgeTimer);
      };
      this.purging = pass()
        .catch((err: unknown) => onError('purging expired uploads failed', err))
        .finally(() => (this.purging = null));
    }, intervalMs);
    this.purgeTimer.unref();
  }

  async stopPurging(): Promise<void> {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    this.purgeTimer = null;
    await this.purging;
  }

  /**
   * A presigned upload whose size is not known in advance, to a key the caller chose (a facade
   * whose document fixes its object layout, e.g. `datasets/{id}/{name}`). The URL accepts at
   * most the upload limit where the store can enforce it (the filesystem store does; an S3
   * presigned PUT cannot), and completeUnsizedUpload checks the size of what arrived.
   */
  async createUploadAt(ownerId: string, input: { filename: string; key: string }, baseUrl: string) {
    await this.purgeExpired();
    const id = newId('file');
    const max = this.deps.maxFileBytes;
    // No maxBytes: a presigned S3 PUT can only fix a size (content-length), not cap one, and
    // none is known; the filesystem store's URL takes at most the upload limit without it.
    const signed = await this.deps.store.signedUrl(input.key, { method: 'PUT', expiresInSeconds: this.deps.signedUrlTtlSeconds, baseUrl });
    try {
      await q.insertPendingFile(this.deps.db, {
        id,
        owner_id: ownerId,
        filename: cleanFilename(input.filename),
        storage_key: input.key,
        expected_bytes: null,
        expected_sha256: null,
        expires_at: signed.expiresAt,
      });
    } catch (err) {
      if (isUniqueViolation(err, 'files_storage_key_key')) throw new ConflictError('UPLOAD_KEY_TAKEN', 'another upload already writes to this key');
      throw err;
    }
    return { file_id: id, upload_url: signed.url, method: 'PUT' as const, expires_at: signed.expiresAt, max_bytes: max };
  }

  /**
   * Completes an upload from createUploadAt: the object must be there and within the upload
   * limit (a larger one is deleted, and the URL may be used again until it expires); its
   * sha256 and type are taken from the stored bytes. Completing twice returns the file.
   */
  async completeUnsizedUpload(ownerId: string, id: string): Promise<PublicFile> {
    const row = await q.fileById(this.deps.db, ownerId, id);
    if (!row) throw new NotFoundError('upload', id);
    if (row.status === 'ready') return publicFile(row);
    if (row.expires_at && row.expires_at.getTime() < Date.now())
      throw new ConflictError('UPLOAD_EXPIRED', 'the upload URL expired before completion; start a new upload');
    const stat = await this.deps.store.stat(row.storage_key);
    if (!stat) throw new ConflictError('UPLOAD_MISSING', 'nothing was uploaded yet: PUT the bytes to upload_url first');
    const max = this.deps.maxFileBytes;
    if (stat.bytes > max) {
      await this.deps.store.delete(row.storage_key);
      throw new PayloadTooLargeError('FILE_TOO_LARGE', `the upload has ${stat.bytes} bytes; at most ${max} are accepted (it was deleted)`, {
        max_bytes: max,
        received: stat.bytes,
      });
    }
    const sha256 = await this.hashBlob(row.storage_key);
    const content_type = await sniff(await this.deps.store.head(row.storage_key, SNIFF_BYTES), stat.bytes, row.filename);
    const now = await this.deps.store.stat(row.storage_key);
    if (!now || now.version !== stat.version) throw new ConflictError('UPLOAD_CHANGED', 'the bytes were replaced while completing; complete the upload again');
    const done = await q.markReady(this.deps.db, ownerId, id, { bytes: stat.bytes, sha256, content_type });
    return publicFile(done ?? (await q.fileById(this.deps.db, ownerId, id))!);
  }
}

function filenameFromResponse(url: string, disposition: string | string[] | undefined): string {
  const d = Array.isArray(disposition) ? disposition[0] : disposition;
  const m = d ? /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(d) : null;
  if (m?.[1]) {
    try {
      return decodeURIComponent(m[1]);
    } catch {
      return m[1];
    }
  }
  const last = new URL(url).pathname.split('/').filter(Boolean).pop();
  return last ? decodeURIComponent(last) : 'download';
}
