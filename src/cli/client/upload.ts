// `trainyard upload FILE…`: pre-signed uploads (POST /v1/uploads → PUT upload_url → complete),
// a progress bar per file on a terminal, and resumable: the pending upload is remembered in
// the config folder by the file's sha256, so a re-run after an interruption completes it (or
// re-sends the bytes to the same URL) instead of starting a second upload.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { Api, ClientError, configDir, findPaged, readJsonFile, seg, writePrivateJson } from './http.js';
import { emit, formatBytes, printTable, type GlobalOpts } from './output.js';

/** One pending upload, as remembered between runs. */
export interface PendingUpload {
  server: string;
  file_id: string;
  upload_url: string;
  expires_at: string;
  filename: string;
  bytes: number;
}

const stateFile = () => path.join(configDir(), 'uploads.json');
type State = Record<string, PendingUpload>;

async function remember(sha: string, p: PendingUpload | null): Promise<void> {
  const state = (await readJsonFile<State>(stateFile())) ?? {};
  if (p) state[sha] = p;
  else delete state[sha];
  await writePrivateJson(stateFile(), state);
}

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

/** PUT the file to a signed URL with a Content-Length, reporting bytes sent as they go. */
function put(url: string, file: string, bytes: number, onBytes: (n: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, {
      method: 'PUT',
      headers: { 'content-length': String(bytes), 'content-type': 'application/octet-stream' },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        if ((res.statusCode ?? 500) < 300) return resolve();
        let code = `HTTP_${res.statusCode}`;
        let message = text.slice(0, 300);
        try {
          const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
          code = e?.code ?? code;
          message = e?.message ?? message;
        } catch {
          // an S3 store answers XML: keep the text
        }
        reject(new ClientError(code, `upload of ${path.basename(file)} failed: ${message}`));
      });
    });
    req.on('error', reject);
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        onBytes(chunk.length);
        cb(null, chunk);
      },
    });
    pipeline(createReadStream(file), counter, req).catch(reject);
  });
}

interface Uploaded {
  id: string;
  filename: string;
  bytes: number;
  sha256: string;
  resumed: boolean;
}

async function uploadOne(api: Api, file: string, onBytes: (n: number) => void, onTotal: (n: number) => void): Promise<Uploaded> {
  const { size } = await stat(file).catch(() => {
    throw new ClientError('FILE_NOT_FOUND', `no such file: ${file}`);
  });
  if (size === 0) throw new ClientError('FILE_EMPTY', `${file} is empty`);
  onTotal(size);
  const sha = await sha256Of(file);
  const filename = path.basename(file);
  const state = (await readJsonFile<State>(stateFile())) ?? {};
  const pending = state[sha];
  const complete = () => api.post<{ id: string }>(`/v1/uploads/${seg(pending!.file_id)}/complete`, { sha256: sha });
  if (pending && pending.server === api.url && pending.bytes === size && Date.parse(pending.expires_at) > Date.now()) {
    // A run was interrupted: the bytes may all be there (only completion is missing), or not.
    try {
      const f = await complete();
      onBytes(size);
      await remember(sha, null);
      return { id: f.id, filename, bytes: size, sha256: sha, resumed: true };
    } catch (err) {
      const code = err instanceof ClientError ? err.code : '';
      if (['UPLOAD_MISSING', 'UPLOAD_SIZE_MISMATCH', 'UPLOAD_CHECKSUM_MISMATCH', 'UPLOAD_CHANGED'].includes(code)) {
        await put(pending.upload_url, file, size, onBytes);
        const f = await complete();
        await remember(sha, null);
        return { id: f.id, filename, bytes: size, sha256: sha, resumed: true };
      }
      // Expired, purged or from another account: start afresh below.
      await remember(sha, null);
    }
  }
  const ticket = await api.post<{ file_id: string; upload_url: string; expires_at: string }>('/v1/uploads', { filename, bytes: size, sha256: sha });
  await remember(sha, { server: api.url, file_id: ticket.file_id, upload_url: ticket.upload_url, expires_at: ticket.expires_at, filename, bytes: size });
  await put(ticket.upload_url, file, size, onBytes);
  const f = await api.post<{ id: string }>(`/v1/uploads/${seg(ticket.file_id)}/complete`, { sha256: sha });
  await remember(sha, null);
  return { id: f.id, filename, bytes: size, sha256: sha, resumed: false };
}

/**
 * A file id for `ref`: an id as it is, or a local path: the file the caller already uploaded
 * with the same sha256 (so `upload x.csv` then `datasets create --file x.csv` sends it once),
 * else uploaded now.
 */
export async function fileIdFor(api: Api, ref: string, quiet: boolean): Promise<string> {
  const local = await stat(ref).catch(() => null);
  if (!local?.isFile()) return ref;
  const sha = await sha256Of(ref);
  const same = await findPaged<{ id: string; sha256: string }>(api, '/v1/files', (f) => f.sha256 === sha);
  if (same) return same.id;
  const r = await uploadOne(
    api,
    ref,
    () => undefined,
    () => undefined,
  );
  if (!quiet) console.error(`uploaded ${r.filename} (${formatBytes(r.bytes)}) as ${r.id}`);
  return r.id;
}

async function upload(files: string[], g: GlobalOpts): Promise<void> {
  const api = await Api.fromEnv();
  const results: Uploaded[] = [];
  // Bars on a terminal (stderr), plain lines otherwise; one file at a time keeps the order plain.
  const tty = Boolean(process.stderr.isTTY) && !g.json;
  const { MultiBar, Presets } = tty ? await import('cli-progress') : { MultiBar: null, Presets: null };
  const bars = MultiBar
    ? new MultiBar(
        { format: ' {bar} {percentage}% | {name} | {done}/{size} | ETA {eta_formatted}', hideCursor: true, clearOnComplete: false, stream: process.stderr },
        Presets!.shades_classic,
      )
    : null;
  try {
    for (const file of files) {
      const name = path.basename(file);
      let sent = 0;
      let total = 0;
      const bar = bars?.create(1, 0, { name, done: '0 B', size: '?' });
      const r = await uploadOne(
        api,
        file,
        (n) => {
          sent += n;
          bar?.update(sent, { done: formatBytes(sent) });
        },
        (t) => {
          total = t;
          bar?.setTotal(t);
          bar?.update(0, { size: formatBytes(t) });
        },
      );
      bar?.update(total, { done: formatBytes(total) });
      if (!bars && !g.json) console.error(`${r.resumed ? 'resumed' : 'uploaded'} ${name} (${formatBytes(r.bytes)}) as ${r.id}`);
      results.push(r);
    }
  } finally {
    bars?.stop();
  }
  emit(g, { data: results }, () => printTable(results as unknown as Array<Record<string, unknown>>, ['id', 'filename', 'bytes', 'resumed']));
}

export function register(program: Command, g: () => GlobalOpts): void {
  program
    .command('upload')
    .description('upload files (pre-signed; a re-run after an interruption resumes the pending upload)')
    .argument('<files...>', 'files to upload')
    .action((files: string[]) => upload(files, g()));
}
