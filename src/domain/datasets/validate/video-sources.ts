import { createReadStream, createWriteStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import { validateArchive } from './archive.js';
import { extensionOf, MANIFEST_MAX_BYTES, MANIFEST_NAME, type ManifestPlace, VIDEO_EXTENSIONS } from './video-manifest.js';
import type { DatasetFileInput, IssueList, ValidationLimits } from './types.js';

/** One video the manifest can name: where issues point, its size, and how to get its bytes onto disk. */
export interface Located {
  fileId: string;
  entry?: string;
  bytes: number;
  extract(to: string): Promise<void>;
}

/** A video-set's files, whichever way they came (one zip, or separate uploads). */
export interface VideoSource {
  manifest: { name: string; place: ManifestPlace; read(): Promise<Buffer> };
  /** `file` as the manifest row has it, already checked to stay inside the manifest's folder. */
  find(file: string): Located | 'missing' | 'ambiguous';
  /** videos present, named by the manifest or not */
  videoCount: number;
  close(): void;
}

const isVideoName = (name: string): boolean => (VIDEO_EXTENSIONS as readonly string[]).includes(extensionOf(name));

async function readCapped(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Past the cap only the size matters (the caller refuses it), so nothing more is kept.
    if (size <= MANIFEST_MAX_BYTES + 1) parts.push(chunk);
  }
  return Buffer.concat(parts);
}

function oneManifest<T>(candidates: T[], where: string, at: ManifestPlace, issues: IssueList, names: (c: T) => string): T | null {
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) issues.add({ ...at, code: 'MANIFEST_MISSING', message: `no manifest.csv or manifest.jsonl ${where}` });
  else issues.add({ ...at, code: 'MANIFEST_AMBIGUOUS', message: `more than one manifest ${where}: ${candidates.map(names).join(', ')}` });
  return null;
}

/**
 * The zip is first checked as an `archive` dataset is (unsafe names, bombs, corrupt data, entry
 * count), so everything after may trust its entries; its inflated total may reach the video-set
 * limit plus a manifest.
 */
export async function zipSource(file: DatasetFileInput, dir: string, limits: ValidationLimits, issues: IssueList): Promise<VideoSource | null> {
  const zipPath = path.join(dir, 'upload.zip');
  await pipeline(await file.open(), createWriteStream(zipPath));
  const local: DatasetFileInput = { ...file, open: async () => createReadStream(zipPath) };
  const checked = await validateArchive(
    [local],
    {},
    { ...limits, archive: { ...limits.archive, maxTotalBytes: limits.video.maxTotalBytes + MANIFEST_MAX_BYTES } },
  );
  if (checked.errorCount > 0) {
    for (const e of checked.errors) issues.add({ ...e, code: 'ARCHIVE_INVALID' });
    // Counted but not listed by the archive check (past maxErrors): they still count here.
    issues.errorCount += checked.errorCount - checked.errors.length;
    return null;
  }
  const zip: ZipFile = await yauzl.openPromise(zipPath, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: true });
  try {
    const entries = new Map<string, Entry>();
    for await (const e of zip.eachEntry()) {
      // Finder's resource forks are not part of anyone's dataset.
      if (!e.fileName.endsWith('/') && !e.fileName.startsWith('__MACOSX/')) entries.set(e.fileName, e);
    }
    const names = [...entries.keys()];
    let candidates = names.filter((n) => !n.includes('/') && MANIFEST_NAME.test(n));
    const tops = new Set(names.map((n) => n.split('/')[0]));
    if (candidates.length === 0 && tops.size === 1 && names.every((n) => n.includes('/'))) {
      const top = [...tops][0]!;
      candidates = names.filter((n) => n.split('/').length === 2 && n.startsWith(`${top}/`) && MANIFEST_NAME.test(n.slice(top.length + 1)));
    }
    const manifestName = oneManifest(candidates, 'at the root of the zip or in its single top-level folder', { file_id: file.id }, issues, (n) => n);
    if (manifestName === null) {
      zip.close();
      return null;
    }
    const base = manifestName.slice(0, manifestName.lastIndexOf('/') + 1);
    const manifestEntry = entries.get(manifestName)!;
    return {
      manifest: {
        name: manifestName,
        place: { file_id: file.id, entry: manifestName },
        read: async () =>
          manifestEntry.uncompressedSize > MANIFEST_MAX_BYTES
            ? Buffer.alloc(MANIFEST_MAX_BYTES + 1)
            : readCapped(await zip.openReadStreamPromise(manifestEntry)),
      },
      find(rel) {
        const entry = entries.get(base + rel);
        if (!entry) return 'missing';
        return {
          fileId: file.id,
          entry: entry.fileName,
          bytes: entry.uncompressedSize,
          extract: async (to) => pipeline(await zip.openReadStreamPromise(entry), createWriteStream(to)),
        };
      },
      videoCount: names.filter(isVideoName).length,
      close: () => zip.close(),
    };
  } catch (err) {
    zip.close();
    throw err;
  }
}

/** Separate uploads: the videos, and the manifest among them, named by their uploaded filenames. */
export function uploadsSource(files: readonly DatasetFileInput[], issues: IssueList): VideoSource | null {
  const manifests = files.filter((f) => MANIFEST_NAME.test(f.filename));
  const videos = new Map<string, DatasetFileInput[]>();
  for (const f of files) {
    if (manifests.includes(f)) continue;
    if (!f.contentType.startsWith('video/')) {
      issues.add({ file_id: f.id, code: 'VIDEO_SET_FILES', message: `${f.filename} is neither a video (content is ${f.contentType}) nor the manifest` });
      continue;
    }
    videos.set(f.filename, [...(videos.get(f.filename) ?? []), f]);
  }
  const manifest = oneManifest(manifests, 'among the uploaded files', { file_id: files[0]!.id }, issues, (f) => f.filename);
  if (!manifest) return null;
  return {
    manifest: {
      name: manifest.filename,
      place: { file_id: manifest.id },
      read: async () => (manifest.bytes > MANIFEST_MAX_BYTES ? Buffer.alloc(MANIFEST_MAX_BYTES + 1) : readCapped(await manifest.open())),
    },
    find(rel) {
      const named = videos.get(rel);
      if (!named) return 'missing';
      if (named.length > 1) return 'ambiguous';
      const f = named[0]!;
      return { fileId: f.id, bytes: f.bytes, extract: async (to) => pipeline(await f.open(), createWriteStream(to)) };
    },
    videoCount: [...videos.values()].reduce((n, fs) => n + fs.length, 0),
    close: () => {},
  };
}
