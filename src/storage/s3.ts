import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  assertKey,
  BlobNotFoundError,
  meter,
  type BlobListing,
  type BlobStat,
  type BlobStore,
  type PutOptions,
  type PutResult,
  type SignedUrl,
  type SignedUrlOptions,
} from './blob-store.js';

export interface S3StoreOptions {
  bucket: string;
  region: string;
  /** Unset for AWS itself; MinIO, SeaweedFS, R2 … need their URL. */
  endpoint?: string;
  /** `http://host/bucket/key` instead of `http://bucket.host/key`: what most self-hosted stores want. */
  forcePathStyle?: boolean;
  /** Unset: the SDK's default chain (env, shared config, instance/container role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Bodies up to this size go in one PutObject; larger ones in parts of this size (S3's minimum is 5 MiB). */
  partSize?: number;
}

export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

/** The SDK names a missing object NoSuchKey (GET) or NotFound (HEAD, no body to name it). */
function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/**
 * Objects in one S3 bucket (AWS, or any S3-compatible store). A put is a multipart upload that
 * is completed only after the whole body arrived within maxBytes and beforeCommit agreed, so a
 * failed or refused put leaves nothing at `key`; bodies that fit one part go as a single
 * PutObject, sent only then. One part is buffered at a time: memory stays at partSize.
 */
export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  readonly bucket: string;
  private readonly partSize: number;

  constructor(o: S3StoreOptions) {
    this.bucket = o.bucket;
    this.partSize = o.partSize ?? DEFAULT_PART_SIZE;
    this.client = new S3Client({
      region: o.region,
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      forcePathStyle: o.forcePathStyle ?? false,
      ...(o.credentials ? { credentials: o.credentials } : {}),
      // The SDK's default adds CRC32 checksums to every put, and to presigned PUT URLs a CRC of
      // the empty body that no real upload matches; many S3-compatible stores refuse either.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** Readiness: the bucket exists and these credentials reach it. */
  async check(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<PutResult> {
    assertKey(key);
    const m = meter(opts.maxBytes ?? Number.MAX_SAFE_INTEGER);
    body.on('error', (err) => m.destroy(err));
    body.pipe(m);
    let uploadId: string | undefined;
    const parts: CompletedPart[] = [];
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const sendPart = async (buf: Buffer) => {
      uploadId ??= (await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }))).UploadId;
      const PartNumber = parts.length + 1;
      const r = await this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber, Body: buf }));
      parts.push({ PartNumber, ETag: r.ETag! });
    };
    try {
      for await (const chunk of m) {
        pending.push(chunk as Buffer);
        pendingBytes += (chunk as Buffer).length;
        while (pendingBytes >= this.partSize) {
          const all = Buffer.concat(pending);
          await sendPart(all.subarray(0, this.partSize));
          pending = [all.subarray(this.partSize)];
          pendingBytes = all.length - this.partSize;
        }
      }
      const rest = Buffer.concat(pending);
      if (uploadId === undefined) {
        await opts.beforeCommit?.();
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: rest, ContentLength: rest.length }));
      } else {
        if (rest.length > 0) await sendPart(rest);
        await opts.beforeCommit?.();
        await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      }
      return m.result();
    } catch (err) {
      body.unpipe(m);
      body.resume?.(); // let the producer finish; a stalled request stream would hang the client
      if (uploadId !== undefined) {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => {});
      }
      throw err;
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: assertKey(key) }));
      return r.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(key, { cause: err });
      throw err;
    }
  }

  async head(key: string, bytes: number): Promise<Buffer> {
    if (bytes <= 0) {
      if (!(await this.stat(key))) throw new BlobNotFoundError(key);
      return Buffer.alloc(0);
    }
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: assertKey(key), Range: `bytes=0-${bytes - 1}` }));
      return Buffer.from(await r.Body!.transformToByteArray()).subarray(0, bytes);
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(key, { cause: err });
      // An empty object has no byte 0: S3 answers 416 to any range.
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416) return Buffer.alloc(0);
      throw err;
    }
  }

  async stat(key: string): Promise<BlobStat | null> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: assertKey(key) }));
      return { bytes: r.ContentLength ?? 0, modifiedAt: r.LastModified ?? new Date(0), version: r.VersionId ?? r.ETag ?? '' };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: assertKey(key) }));
  }

  async *list(prefix: string): AsyncIterable<BlobListing> {
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      for (const o of r.Contents ?? []) if (o.Key !== undefined) yield { key: o.Key, bytes: o.Size ?? 0 };
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  uri(key: string): string {
    return `s3://${this.bucket}/${assertKey(key)}`;
  }

  keyOf(uri: string): string | null {
    const head = `s3://${this.bucket}/`;
    if (!uri.startsWith(head)) return null;
    // A folder's URI ends in '/': its key is the prefix without it, as the filesystem store says.
    const key = uri.slice(head.length).replace(/\/+$/, '');
    try {
      return assertKey(key);
    } catch {
      return null;
    }
  }

  /**
   * URLs on the store's own host: clients upload and download without passing through us.
   * `maxBytes` is signed as the PUT's exact Content-Length and a declared sha256 as its
   * x-amz-checksum-sha256, so the store refuses other bytes; not every S3-compatible store
   * checks both, so whoever hands out a PUT URL still checks the object before trusting it
   * (FilesService.completeUpload).
   */
  async signedUrl(key: string, opts: SignedUrlOptions): Promise<SignedUrl> {
    const expiresAt = new Date(Date.now() + opts.expiresInSeconds * 1000);
    const Key = assertKey(key);
    if (opts.method === 'GET') {
      const url = await getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key }), { expiresIn: opts.expiresInSeconds });
      return { url, expiresAt };
    }
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key,
      ...(opts.maxBytes !== undefined ? { ContentLength: opts.maxBytes } : {}),
      ...(opts.sha256 ? { ChecksumSHA256: Buffer.from(opts.sha256, 'hex').toString('base64') } : {}),
    });
    const url = await getSignedUrl(this.client, command, {
      expiresIn: opts.expiresInSeconds,
      ...(opts.maxBytes !== undefined ? { signableHeaders: new Set(['content-length']) } : {}),
    });
    return { url, expiresAt };
  }

  close(): void {
    this.client.destroy();
  }
}
