import { TrainyardError } from './errors.js';
import { seg, type BodyInit, type Http } from './http.js';
import { cursorList, type Paginated } from './pages.js';
import type { FileInfo, UploadTicket } from './types.js';

/** The server's multipart limit by default; larger files go through a pre-signed upload. */
export const MULTIPART_MAX_BYTES = 8 * 1024 * 1024;

export interface UploadOptions {
  /** The name the file keeps (default: the path's base name; required for bytes). */
  filename?: string;
  /**
   * `multipart`: one POST /v1/files. `presigned`: POST /v1/uploads, PUT the bytes to the
   * signed URL, then complete, which checks size and sha256. Default `auto`: multipart up to
   * 8 MB, presigned above.
   */
  method?: 'auto' | 'multipart' | 'presigned';
  signal?: AbortSignal;
}

/** What an upload reads: bytes in memory, or a file on disk, read again on each attempt. */
interface Source {
  filename: string;
  bytes: number;
  sha256: string;
  /** A fresh body per attempt, so a retried PUT sends every byte again. */
  body: () => BodyInit;
  blob: () => Promise<Blob>;
}

export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', data);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function fromPath(file: string, filename?: string): Promise<Source> {
  // Loaded here, not at the top: only uploads from a path need Node's file system.
  const [{ createReadStream, openAsBlob }, { stat }, { createHash }, { Readable }, path] = await Promise.all([
    import('node:fs'),
    import('node:fs/promises'),
    import('node:crypto'),
    import('node:stream'),
    import('node:path'),
  ]);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return {
    filename: filename ?? path.basename(file),
    bytes: (await stat(file)).size,
    sha256: hash.digest('hex'),
    body: () => Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>,
    blob: () => openAsBlob(file),
  };
}

async function fromBytes(data: Uint8Array, filename: string | undefined): Promise<Source> {
  if (!filename) throw new TypeError('files.upload: give a `filename` with bytes');
  return {
    filename,
    bytes: data.byteLength,
    sha256: await sha256Hex(data),
    body: () => data,
    blob: async () => new Blob([data]),
  };
}

export class Files {
  constructor(private readonly http: Http) {}

  /** Uploads bytes or a file path; resolves once the server has the file (and, pre-signed, has checked its sha256). */
  async upload(input: Uint8Array | string, o: UploadOptions = {}): Promise<FileInfo> {
    const src = typeof input === 'string' ? await fromPath(input, o.filename) : await fromBytes(input, o.filename);
    const method = o.method && o.method !== 'auto' ? o.method : src.bytes <= MULTIPART_MAX_BYTES ? 'multipart' : 'presigned';
    if (method === 'multipart') {
      const blob = await src.blob();
      const form = () => {
        const f = new FormData();
        f.append('file', blob, src.filename);
        return f;
      };
      return (await this.http.request('POST', '/v1/files', { body: form, signal: o.signal })).json() as Promise<FileInfo>;
    }
    const ticket = await this.http.post<UploadTicket>('/v1/uploads', { filename: src.filename, bytes: src.bytes, sha256: src.sha256 }, { signal: o.signal });
    if (!ticket.upload_url || !ticket.file_id) throw new TrainyardError(0, 'UPLOAD_TICKET_INVALID', 'POST /v1/uploads answered no upload_url');
    // The signed URL is the credential: no Authorization header (it may point at a bucket).
    await this.http.request(ticket.method ?? 'PUT', ticket.upload_url, {
      body: src.body,
      headers: { 'content-length': String(src.bytes) },
      auth: false,
      idempotent: true,
      signal: o.signal,
    });
    return this.http.post<FileInfo>(`/v1/uploads/${seg(ticket.file_id)}/complete`, { sha256: src.sha256 }, { idempotent: true, signal: o.signal });
  }

  list(o: { limit?: number } = {}): Paginated<FileInfo> {
    return cursorList<FileInfo>(this.http, '/v1/files', o);
  }

  get(id: string): Promise<FileInfo> {
    return this.http.get<FileInfo>(`/v1/files/${seg(id)}`);
  }

  async delete(id: string): Promise<void> {
    await this.http.request('DELETE', `/v1/files/${seg(id)}`);
  }
}
