import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import { IssueList } from './types.js';
import type { DatasetFileInput, DatasetOptions, ValidationLimits, ValidationResult } from './types.js';

/** Listing every entry of a 10k-entry archive would bloat each dataset response. */
const MAX_LISTED_ENTRIES = 1000;

/**
 * Ratios are only judged past this many bytes. Small text files of repeated content legitimately
 * deflate 200:1, and what makes a bomb dangerous is the volume, which this floor keeps in check.
 */
const RATIO_FLOOR_BYTES = 1024 * 1024;

interface Totals {
  entries: number; // all entries, directories included: what maxEntries bounds
  files: number;
  uncompressed: number; // declared, for the stats
  compressed: number;
  inflated: number; // really produced: what maxTotalBytes bounds
  extensions: Record<string, number>;
  listed: { name: string; bytes: number; compressed_bytes: number }[];
}

/**
 * Extraction must never write outside its target directory, whatever tool does it later
 * (Python's zipfile, unzip, a Windows trainer), so anything one of them might resolve upward
 * or absolutely is refused, including forms only some of them honour (backslash, drive letter).
 */
export function isUnsafeEntryName(name: string): boolean {
  return name === '' || name.includes('\0') || name.includes('\\') || name.startsWith('/') || /^[a-zA-Z]:/.test(name) || name.split('/').includes('..');
}

/** Errors from the file system are ours to raise; everything else yauzl or zlib says is about the bytes. */
function isIoError(err: unknown): boolean {
  return typeof (err as NodeJS.ErrnoException | null)?.syscall === 'string';
}

function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '(none)';
}

const ratio = (uncompressed: number, compressed: number): number => uncompressed / Math.max(compressed, 1);

type Verdict = 'continue' | 'stop-file' | 'stop-all';

/**
 * Inflates one entry, counting the bytes that actually come out: the sizes in the central
 * directory are attacker-written, and only the real count bounds what extraction will produce.
 * An under-declared size trips yauzl's own count (validateEntrySizes) first; the checks here
 * bound honest entries that add up to too much, and do not depend on that option staying on.
 */
async function inflate(
  zip: ZipFile,
  entry: Entry,
  name: string,
  fileId: string,
  limits: ValidationLimits,
  totals: Totals,
  issues: IssueList,
): Promise<Verdict> {
  const { maxRatio, maxTotalBytes } = limits.archive;
  let stream: Readable | undefined;
  let real = 0;
  try {
    stream = await zip.openReadStreamPromise(entry);
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      real += chunk.length;
      totals.inflated += chunk.length;
      if (totals.inflated > maxTotalBytes) {
        issues.add({ file_id: fileId, entry: name, message: `entry "${name}": the dataset inflates to more than ${maxTotalBytes} bytes` });
        return 'stop-all';
      }
      if (real > RATIO_FLOOR_BYTES && ratio(real, entry.compressedSize) > maxRatio) {
        issues.add({ file_id: fileId, entry: name, message: `entry "${name}": inflates more than ${maxRatio} times its compressed size (zip bomb)` });
        return 'stop-file';
      }
    }
    return 'continue';
  } catch (err) {
    if (isIoError(err)) throw err;
    const message = (err as Error).message;
    // yauzl's validateEntrySizes: the data inflates past the size the directory declared.
    if (message.startsWith('too many bytes')) {
      issues.add({ file_id: fileId, entry: name, message: `entry "${name}": inflates past its declared size of ${entry.uncompressedSize} bytes (zip bomb)` });
    } else {
      issues.add({ file_id: fileId, entry: name, message: `entry "${name}": corrupt data (${message})` });
    }
    return 'stop-file';
  } finally {
    stream?.destroy();
  }
}

async function checkEntry(zip: ZipFile, entry: Entry, fileId: string, limits: ValidationLimits, totals: Totals, issues: IssueList): Promise<Verdict> {
  // decodeStrings is off (else yauzl aborts the whole archive at the first unsafe name), so
  // names are decoded here; strict mode keeps backslashes visible instead of rewriting them.
  const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
  const fail = (what: string): Verdict => {
    issues.add({ file_id: fileId, entry: name, message: `entry "${name}": ${what}` });
    return 'continue';
  };
  if (isUnsafeEntryName(name)) return fail('unsafe path');
  if (name.endsWith('/')) return 'continue';

  totals.files++;
  totals.uncompressed += entry.uncompressedSize;
  totals.compressed += entry.compressedSize;
  const ext = extensionOf(name);
  totals.extensions[ext] = (totals.extensions[ext] ?? 0) + 1;
  if (totals.listed.length < MAX_LISTED_ENTRIES) {
    totals.listed.push({ name, bytes: entry.uncompressedSize, compressed_bytes: entry.compressedSize });
  }

  if (entry.isEncrypted()) return fail('encrypted entries are not supported');
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) return fail(`unsupported compression method ${entry.compressionMethod}`);
  const declared = ratio(entry.uncompressedSize, entry.compressedSize);
  if (entry.uncompressedSize > RATIO_FLOOR_BYTES && declared > limits.archive.maxRatio) {
    return fail(`declared compression ratio ${Math.round(declared)} exceeds ${limits.archive.maxRatio} (zip bomb)`);
  }
  if (entry.compressionMethod === 8) return inflate(zip, entry, name, fileId, limits, totals, issues);

  // A stored entry is its own bytes, and yauzl has already checked its two sizes agree.
  totals.inflated += entry.uncompressedSize;
  if (totals.inflated > limits.archive.maxTotalBytes) {
    fail(`the dataset inflates to more than ${limits.archive.maxTotalBytes} bytes`);
    return 'stop-all';
  }
  return 'continue';
}

async function checkZip(file: DatasetFileInput, path: string, limits: ValidationLimits, totals: Totals, issues: IssueList): Promise<Verdict> {
  let zip: ZipFile;
  try {
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true, strictFileNames: true });
  } catch (err) {
    if (isIoError(err)) throw err;
    issues.add({ file_id: file.id, message: `not a readable zip archive (${(err as Error).message})` });
    return 'continue';
  }
  try {
    // Decided from the end-of-central-directory record, before walking a possibly huge directory.
    if (totals.entries + zip.entryCount > limits.archive.maxEntries) {
      issues.add({ file_id: file.id, message: `more than ${limits.archive.maxEntries} entries in the dataset (this archive has ${zip.entryCount})` });
      return 'stop-all';
    }
    totals.entries += zip.entryCount;
    for await (const entry of zip.eachEntry()) {
      const verdict = await checkEntry(zip, entry, file.id, limits, totals, issues);
      if (verdict !== 'continue') return verdict;
    }
    return 'continue';
  } catch (err) {
    if (isIoError(err)) throw err;
    issues.add({ file_id: file.id, message: `corrupt zip archive (${(err as Error).message})` });
    return 'continue';
  } finally {
    zip.close();
  }
}

/**
 * Entry count and inflated bytes are limited over the whole dataset, not per archive: what they
 * protect is the disk and time of the later extraction, which splitting a bomb in two must not dodge.
 */
export async function validateArchive(files: readonly DatasetFileInput[], _options: DatasetOptions, limits: ValidationLimits): Promise<ValidationResult> {
  const issues = new IssueList(limits.maxErrors);
  const totals: Totals = { entries: 0, files: 0, uncompressed: 0, compressed: 0, inflated: 0, extensions: {}, listed: [] };

  for (const file of files) {
    if (file.contentType !== 'application/zip') {
      issues.add({ file_id: file.id, message: `not a zip archive (content is ${file.contentType})` });
      continue;
    }
    // The central directory sits at the end, so yauzl needs random access: a temp file is
    // the bounded-memory way to get it from a stream.
    const dir = await mkdtemp(join(tmpdir(), 'trainyard-zip-'));
    try {
      const path = join(dir, 'archive.zip');
      await pipeline(await file.open(), createWriteStream(path));
      if ((await checkZip(file, path, limits, totals, issues)) === 'stop-all') break;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  return issues.result({
    entry_count: totals.files,
    total_uncompressed_bytes: totals.uncompressed,
    total_compressed_bytes: totals.compressed,
    extensions: totals.extensions,
    entries: totals.listed,
  });
}
