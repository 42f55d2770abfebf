import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * Unpacks the build's seed (src/cli/pglite-seed.ts: PGlite's own `dumpDataDir('gzip')`) into an
 * empty data folder with Node's native zlib and plain file writes, so that PGlite then opens it
 * as an existing database. PGlite's `loadDataDir` does the same through its WebAssembly file
 * system: 1.0–1.5 s of a first boot here, of which ~0.8 s of CPU in WebAssembly; this takes
 * 0.1 s of CPU (gunzip) plus creating ~1,200 files: 0.05–1.5 s on this VM's disk, whose file
 * creation costs 0.03–1 ms depending on the hour (issue #15, target 6). Starting it before the
 * server's modules load, in libuv's threads, was tried and measured: no gain (bench/README.md).
 *
 * Only what PGlite's writer produces is accepted: ustar headers, regular files and folders, paths
 * inside the folder. Anything else throws, and the caller falls back to initdb.
 * PG_VERSION is written last: PGlite (and `openPglite`) take a folder that has it for a database,
 * so an unpacking cut short is simply unpacked again on the next start.
 */
export function unpackPgliteSeed(seed: string, dataDir: string): void {
  const tar = gunzipSync(readFileSync(seed));
  const root = path.resolve(dataDir);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  let last: { file: string; body: Buffer } | null = null;
  for (const entry of entries(tar)) {
    const target = inside(root, entry.name);
    if (entry.type === 'dir') mkdirSync(target, { recursive: true, mode: 0o700 });
    else if (entry.name.replace(/^\/+/, '') === 'PG_VERSION') last = { file: target, body: entry.body };
    else {
      mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      writeFileSync(target, entry.body, { mode: 0o600 });
    }
  }
  if (!last) throw new Error('the seed has no PG_VERSION: not a database folder');
  writeFileSync(last.file, last.body, { mode: 0o600 });
}

interface Entry {
  name: string;
  type: 'file' | 'dir';
  body: Buffer;
}

const BLOCK = 512;

function* entries(tar: Buffer): Generator<Entry> {
  let at = 0;
  while (at + BLOCK <= tar.length) {
    const header = tar.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) return; // the end-of-archive blocks
    if (field(header, 257, 5) !== 'ustar') throw new Error(`seed: not a ustar header at byte ${at}`);
    const name = joinName(field(header, 345, 131), field(header, 0, 100));
    const size = parseInt(field(header, 124, 12).trim() || '0', 8);
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`seed: bad size for ${name}`);
    const flag = String.fromCharCode(header[156]!);
    const start = at + BLOCK;
    if (start + size > tar.length) throw new Error(`seed: ${name} is cut short`);
    if (flag === '5') yield { name, type: 'dir', body: Buffer.alloc(0) };
    else if (flag === '0' || flag === '\0') yield { name, type: 'file', body: tar.subarray(start, start + size) };
    else throw new Error(`seed: ${name} has entry type ${JSON.stringify(flag)}; only files and folders are expected`);
    at = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw new Error('seed: the archive has no end marker (cut short)');
}

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}

function joinName(prefix: string, name: string): string {
  return prefix ? `${prefix}/${name}` : name;
}

/** The entry's path under root; an absolute path is taken relative to root (PGlite writes "/base/…"). */
function inside(root: string, name: string): string {
  const rel = name.replace(/^\/+/, '');
  if (rel === '' || rel.split('/').some((part) => part === '..')) throw new Error(`seed: refusing path ${JSON.stringify(name)}`);
  const target = path.resolve(root, rel);
  if (!target.startsWith(root + path.sep)) throw new Error(`seed: refusing path ${JSON.stringify(name)}`);
  return target;
}
