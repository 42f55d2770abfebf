import { ApiError, api, getToken, must, setToken, toApiError } from '../../api/client';
import type { FileInfo } from '../../api/types';

/**
 * Files at least this large go through the pre-signed flow (POST /v1/uploads, PUT the bytes to
 * upload_url, POST /v1/uploads/{id}/complete); smaller ones in one multipart POST /v1/files.
 */
export const PRESIGNED_THRESHOLD = 8 * 1024 * 1024;

/**
 * The checksum sent with /complete is optional; hashing needs the whole file in memory (Web
 * Crypto has no streaming digest), so past this size the server's own hash stands alone.
 */
const HASH_LIMIT = 256 * 1024 * 1024;

export interface UploadProgress {
  /** Bytes sent of `total`. */
  loaded: number;
  total: number;
  phase: 'hashing' | 'uploading' | 'checking';
}

/** The hex sha256 of a file, or undefined where Web Crypto is missing (plain http) or the file is too big to hash in memory. */
export async function sha256Hex(file: Blob): Promise<string | undefined> {
  if (file.size > HASH_LIMIT || typeof crypto === 'undefined' || !crypto.subtle) return undefined;
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function parseHeaders(raw: string): Headers {
  const h = new Headers();
  for (const line of raw.trim().split(/[\r\n]+/)) {
    const i = line.indexOf(':');
    if (i > 0) {
      try {
        h.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
      } catch {
        // a header the Headers class refuses is of no use to the error message
      }
    }
  }
  return h;
}

/**
 * One request through XMLHttpRequest, the one browser API that reports upload progress. Resolves
 * with the parsed JSON of a 2xx answer; rejects with the ApiError of any other.
 */
function xhr<T>(
  method: string,
  url: string,
  body: XMLHttpRequestBodyInit,
  o: { auth: boolean; onProgress?: (loaded: number, total: number) => void; signal?: AbortSignal; headers?: Record<string, string> },
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const r = new XMLHttpRequest();
    r.open(method, url);
    const token = getToken();
    if (o.auth && token) r.setRequestHeader('authorization', `Bearer ${token}`);
    for (const [k, v] of Object.entries(o.headers ?? {})) r.setRequestHeader(k, v);
    r.upload.onprogress = (e) => {
      if (e.lengthComputable) o.onProgress?.(e.loaded, e.total);
    };
    r.onload = () => {
      if (r.status >= 200 && r.status < 300) {
        try {
          resolve((r.responseText ? JSON.parse(r.responseText) : undefined) as T);
        } catch {
          reject(new Error('the server answered something that is not JSON'));
        }
        return;
      }
      if (r.status === 401 && o.auth && token) setToken(null);
      const res = new Response(r.responseText || null, { status: r.status, statusText: r.statusText, headers: parseHeaders(r.getAllResponseHeaders()) });
      void toApiError(res).then(reject, reject);
    };
    r.onerror = () => reject(new Error('the upload failed: the connection was lost or refused'));
    r.onabort = () => reject(new DOMException('upload cancelled', 'AbortError'));
    if (o.signal) {
      if (o.signal.aborted) {
        reject(new DOMException('upload cancelled', 'AbortError'));
        return;
      }
      o.signal.addEventListener('abort', () => r.abort(), { once: true });
    }
    r.send(body);
  });
}

/**
 * Uploads one file with progress: multipart for small files, the pre-signed flow (with a
 * sha256 the server checks) for large ones. Returns the stored file as GET /v1/files/{id} shows it.
 */
export async function uploadFile(file: File, onProgress: (p: UploadProgress) => void, signal?: AbortSignal): Promise<FileInfo> {
  const total = file.size;
  if (total < PRESIGNED_THRESHOLD) {
    const form = new FormData();
    form.append('file', file, file.name);
    onProgress({ loaded: 0, total, phase: 'uploading' });
    const info = await xhr<FileInfo>('POST', '/v1/files', form, {
      auth: true,
      signal,
      // The multipart body is a little larger than the file: scale to the file's size.
      onProgress: (loaded, all) => onProgress({ loaded: Math.min(total, Math.round((loaded / Math.max(1, all)) * total)), total, phase: 'uploading' }),
    });
    onProgress({ loaded: total, total, phase: 'uploading' });
    return info;
  }
  onProgress({ loaded: 0, total, phase: 'hashing' });
  const sha256 = await sha256Hex(file);
  signal?.throwIfAborted();
  const ticket = await must(api.POST('/v1/uploads', { body: { filename: file.name, bytes: total, ...(sha256 ? { sha256 } : {}) }, signal }));
  if (!ticket.file_id || !ticket.upload_url) throw new ApiError(500, 'UPLOAD_TICKET_INVALID', 'the server gave no upload URL', null);
  onProgress({ loaded: 0, total, phase: 'uploading' });
  // The signed URL carries its own authorisation; it may point at another origin (S3), which must not see the token.
  await xhr<unknown>(ticket.method ?? 'PUT', ticket.upload_url, file, {
    auth: false,
    signal,
    headers: { 'content-type': file.type || 'application/octet-stream' },
    onProgress: (loaded) => onProgress({ loaded, total, phase: 'uploading' }),
  });
  onProgress({ loaded: total, total, phase: 'checking' });
  return must(api.POST('/v1/uploads/{id}/complete', { params: { path: { id: ticket.file_id } }, body: sha256 ? { sha256 } : {}, signal }));
}
