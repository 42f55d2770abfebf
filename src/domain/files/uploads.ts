import { createHash } from 'node:crypto';
import { type AppError, ConflictError, isUniqueViolation, NotFoundError, PayloadTooLargeError, ValidationError } from '../../errors.js';
import { newId } from '../../ids.js';
import * as q from './queries.js';
import type { CompleteUploadInput, CreateUploadInput } from './schema.js';
import { sniff, SNIFF_BYTES } from './sniff.js';
import type { FilesDeps } from './service.js';
import { cleanFilename, fileKey, publicFile, type PublicFile } from './shape.js';

const SHA256 = /^[a-f0-9]{64}$/;
/**
 * The longest an upload URL without an announced size lives (capped by SIGNED_URL_TTL_SECONDS):
 * S3 cannot cap such a PUT, so until it expires it takes any size; completion refuses too much.
 */
export const UNSIZED_UPLOAD_TTL_SECONDS = 15 * 60;

/**
 * Presigned uploads: the client PUTs the bytes straight to the store (URL from createUpload or
 * createUploadAt), then completes; completion checks the stored object and marks the file ready.
 */
export class PresignedUploads {
  constructor(
    private readonly deps: FilesDeps,
    private readonly purgeExpired: () => Promise<number>,
  ) {}

  async createUpload(ownerId: string, input: CreateUploadInput, baseUrl: string) {
    if (input.bytes > this.deps.maxFileBytes)
      throw new PayloadTooLargeError('FILE_TOO_LARGE', `file exceeds the ${this.deps.maxFileBytes}-byte limit`, { max_bytes: this.deps.maxFileBytes });
    const sha = input.sha256?.toLowerCase();
    if (sha !== undefined && !SHA256.test(sha)) throw new ValidationError('INVALID_SHA256', 'sha256 must be 64 hex characters');
    await this.purgeExpired();
    const id = newId('file');
    const key = fileKey(ownerId, id);
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
    return this.finish(ownerId, id, {
      // An S3 PUT URL cannot cap the size, so this is where too many bytes are caught.
      sizeError: (row, received) => {
        if (received === row.expected_bytes) return null;
        const details = { expected: row.expected_bytes, received };
        const msg = `announced ${row.expected_bytes} bytes, received ${received}; the bytes were deleted`;
        return received > (row.expected_bytes ?? 0)
          ? new PayloadTooLargeError('UPLOAD_TOO_LARGE', msg, details)
          : new ConflictError('UPLOAD_SIZE_MISMATCH', msg, details);
      },
      sha256: (row) => (input.sha256 ?? row.expected_sha256 ?? undefined)?.toLowerCase(),
    });
  }

  /**
   * A presigned upload whose size is not known in advance, to a key the caller chose (a facade
   * whose document fixes its object layout, e.g. `datasets/{id}/{name}`). The URL accepts at
   * most the upload limit where the store can enforce it (the filesystem store does; an S3
   * presigned PUT cannot), so it lives at most UNSIZED_UPLOAD_TTL_SECONDS, and
   * completeUnsizedUpload checks the size of what arrived.
   */
  async createUploadAt(ownerId: string, input: { filename: string; key: string }, baseUrl: string) {
    await this.purgeExpired();
    const id = newId('file');
    const max = this.deps.maxFileBytes;
    const ttl = Math.min(this.deps.signedUrlTtlSeconds, UNSIZED_UPLOAD_TTL_SECONDS);
    // No maxBytes: a presigned S3 PUT can only fix a size (content-length), not cap one, and
    // none is known; the filesystem store's URL takes at most the upload limit without it.
    const signed = await this.deps.store.signedUrl(input.key, { method: 'PUT', expiresInSeconds: ttl, baseUrl });
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
    const max = this.deps.maxFileBytes;
    return this.finish(ownerId, id, {
      sizeError: (_row, received) =>
        received > max
          ? new PayloadTooLargeError('FILE_TOO_LARGE', `the upload has ${received} bytes; at most ${max} are accepted (it was deleted)`, {
              max_bytes: max,
              received,
            })
          : null,
      sha256: () => undefined,
    });
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

  /**
   * Every completion's steps: the object is there and of an accepted size, its sha256 (checked
   * when one is wanted) and type read from the stored bytes, then the upload is marked ready.
   * Bytes of a refused size can never complete: they go (unless a new PUT replaced them
   * meanwhile), and the upload stays pending for a PUT of the right bytes.
   */
  private async finish(
    ownerId: string,
    id: string,
    check: { sizeError: (row: q.FileRow, received: number) => AppError | null; sha256: (row: q.FileRow) => string | undefined },
  ): Promise<PublicFile> {
    const row = await q.fileById(this.deps.db, ownerId, id);
    if (!row) throw new NotFoundError('upload', id);
    if (row.status === 'ready') return publicFile(row);
    if (row.expires_at && row.expires_at.getTime() < Date.now())
      throw new ConflictError('UPLOAD_EXPIRED', 'the upload URL expired before completion; start a new upload');
    const stat = await this.deps.store.stat(row.storage_key);
    if (!stat) throw new ConflictError('UPLOAD_MISSING', 'nothing was uploaded yet: PUT the bytes to upload_url first');
    const refused = check.sizeError(row, stat.bytes);
    if (refused) {
      if ((await this.deps.store.stat(row.storage_key))?.version === stat.version) await this.deps.store.delete(row.storage_key);
      throw refused;
    }
    const sha256 = await this.hashBlob(row.storage_key);
    const wanted = check.sha256(row);
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

  private async hashBlob(key: string): Promise<string> {
    const h = createHash('sha256');
    for await (const chunk of await this.deps.store.get(key)) h.update(chunk as Buffer);
    return h.digest('hex');
  }
}
