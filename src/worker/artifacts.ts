import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { JobRow } from '../domain/jobs/types.js';
import type { NewArtifact } from '../domain/registry/service.js';
import { AppError } from '../errors.js';
import type { BlobStore } from '../storage/blob-store.js';
import { openJobFile } from './job-file.js';

const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

export interface ResolvedArtifact {
  name: string;
  format: string;
  file: string;
  bytes: number;
}

/**
 * Checks the artifacts a trainer announced before anything is uploaded: valid, distinct names,
 * paths that resolve (symlinks too) inside the output folder — a trainer cannot make the worker
 * or the launcher upload /etc/shadow — and `maxBytes` in total.
 */
export async function resolveArtifacts(
  outputDir: string,
  list: Array<{ name: string; path: string; format: string }>,
  maxBytes: number,
): Promise<ResolvedArtifact[]> {
  const root = await realpath(outputDir);
  const seen = new Set<string>();
  const out: ResolvedArtifact[] = [];
  let total = 0;
  for (const a of list) {
    if (!ARTIFACT_NAME.test(a.name) || seen.has(a.name)) throw new AppError('ARTIFACT_INVALID', `artifact name "${a.name}" is invalid or repeated`);
    seen.add(a.name);
    const file = await realpath(path.resolve(outputDir, a.path)).catch(() => null);
    if (!file || !file.startsWith(root + path.sep))
      throw new AppError('ARTIFACT_INVALID', `artifact "${a.name}" (${a.path}) is missing or outside the output folder`);
    const s = await stat(file);
    if (!s.isFile()) throw new AppError('ARTIFACT_INVALID', `artifact "${a.name}" is not a file`);
    total += s.size;
    if (total > maxBytes) throw new AppError('ARTIFACT_TOO_LARGE', `artifacts exceed ${maxBytes} bytes in total`);
    out.push({ name: a.name, format: a.format.slice(0, 100), file, bytes: s.size });
  }
  return out;
}

/**
 * Copies the artifacts a trainer announced into storage (checked by resolveArtifacts first).
 * Each is read through openJobFile: the worker reads as root a folder the trainer's uid owns,
 * and a process the trainer left behind could swap a checked path for a link before the read.
 */
export async function uploadArtifacts(
  d: { store: BlobStore; maxArtifactBytes: number },
  job: JobRow,
  outputDir: string,
  list: Array<{ name: string; path: string; format: string }>,
): Promise<NewArtifact[]> {
  const out: NewArtifact[] = [];
  for (const a of await resolveArtifacts(outputDir, list, d.maxArtifactBytes)) {
    const key = `artifacts/${job.owner_id}/${job.id}/a${job.attempt}/${a.name}`;
    const opened = await openJobFile(outputDir, a.file, [outputDir]);
    if (!opened) throw new AppError('ARTIFACT_INVALID', `artifact "${a.name}" changed while it was being stored`);
    const put = await d.store.put(key, opened.handle.createReadStream(), { maxBytes: d.maxArtifactBytes }).finally(() => opened.handle.close());
    out.push({ name: a.name, format: a.format, storage_key: key, bytes: put.bytes, sha256: put.sha256 });
  }
  return out;
}
