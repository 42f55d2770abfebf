import type { Readable } from 'node:stream';
import type { Db } from '../../db/db.js';
import { AppError, ConflictError, isForeignKeyViolation, NotFoundError, PayloadTooLargeError, ValidationError } from '../../errors.js';
import { decodeCursor, newId, toPage } from '../../ids.js';
import type { AddressPolicy, Resolver } from '../../net/address-guard.js';
import { safeFetch } from '../../net/safe-fetch.js';
import { BlobTooLargeError, type BlobStore } from '../../storage/blob-store.js';
import * as q from './queries.js';
import { MAX_IMPORT_URLS, MIN_IMPORT_URLS } from './limits.js';
import { cleanFilename, fileKey, publicFile, type PublicFile } from './shape.js';
import { sniff, SNIFF_BYTES } from './sniff.js';
import { PresignedUploads } from './uploads.js';

export { cleanFilename, publicFile, type PublicFile } from './shape.js';

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

/** Expired uploads deleted per statement: a large backlog goes in several short ones. */
const PURGE_BATCH = 100;

export class FilesService {
  private purgeTimer: NodeJS.Timeout | null = null;
  private purging: Promise<void> | null = null;

  private readonly uploads: PresignedUploads;

  constructor(private readonly deps: FilesDeps) {
    this.uploads = new PresignedUploads(deps, () => this.purgeExpired());
  }

  // Presigned uploads (uploads.ts), through the service the routes and facades hold.
  createUpload(...a: Parameters<PresignedUploads['createUpload']>) {
    return this.uploads.createUpload(...a);
  }
  completeUpload(...a: Parameters<PresignedUploads['completeUpload']>) {
    return this.uploads.completeUpload(...a);
  }
  createUploadAt(...a: Parameters<PresignedUploads['createUploadAt']>) {
    return this.uploads.createUploadAt(...a);
  }
  completeUnsizedUpload(...a: Parameters<PresignedUploads['completeUnsizedUpload']>) {
    return this.uploads.completeUnsizedUpload(...a);
  }
  assertUploadOpen(...a: Parameters<PresignedUploads['assertUploadOpen']>) {
    return this.uploads.assertUploadOpen(...a);
  }

  /** The caller's uploaded files among `ids` (pending uploads and other users' files are left out). */
  async readyFiles(ownerId: string, ids: string[]): Promise<Array<Pick<q.FileRow, 'id' | 'filename' | 'bytes' | 'content_type'>>> {
    return q.readyFilesByIds(this.deps.db, ownerId, ids);
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
    const key = fileKey(ownerId, id);
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
    let res: Awaited<ReturnType<typeof safeFetch>> | null = null;
    try {
      res = await safeFetch(url, {
        policy: this.deps.import.policy,
        timeoutMs: this.deps.import.timeoutMs,
        maxBytes: this.deps.import.maxBytes,
        ...(this.deps.import.resolver ? { resolver: this.deps.import.resolver } : {}),
      });
      const name = filenameFromResponse(res.url, res.headers['content-disposition']);
      const file = await this.ingest(ownerId, name, res.body, 'import', url, this.deps.import.maxBytes);
      return { url, status: 'imported' as const, file };
    } catch (err) {
      // A body not read to its end holds its socket and timer until the fetch's deadline.
      res?.body.destroy();
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

  /**
   * A signed, expiring URL for a ready file's bytes (thumbnails of an image dataset, checking
   * what was uploaded). The store signs it, so the download never passes through the API.
   */
  async contentUrl(ownerId: string, id: string, baseUrl: string) {
    const row = await q.fileById(this.deps.db, ownerId, id);
    if (!row || row.status !== 'ready') throw new NotFoundError('file', id);
    const signed = await this.deps.store.signedUrl(row.storage_key, { method: 'GET', expiresInSeconds: this.deps.signedUrlTtlSeconds, baseUrl });
    return { id: row.id, content_type: row.content_type, bytes: row.bytes, url: signed.url, expires_at: signed.expiresAt.toISOString() };
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
}

/** Percent-escapes decoded where they are well formed (`a%ZZ.csv` stays as it is: a name, not an error). */
function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function filenameFromResponse(url: string, disposition: string | string[] | undefined): string {
  const d = Array.isArray(disposition) ? disposition[0] : disposition;
  const m = d ? /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(d) : null;
  if (m?.[1]) return decoded(m[1]);
  const last = new URL(url).pathname.split('/').filter(Boolean).pop();
  return last ? decoded(last) : 'download';
}
