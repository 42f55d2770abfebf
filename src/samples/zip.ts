import { crc32 } from 'node:zlib';

/**
 * The one zip writer of this project (APPNOTE 4.3.7 / 4.3.12 / 4.3.16): no ZIP64, no extra
 * fields, a fixed timestamp so the bytes are the same for the same input. It writes the headers
 * exactly as told, which is what test/helpers/zip.ts needs to build the hostile archives the
 * validators must catch (lying sizes, fake encryption, unsafe names), and what generated samples
 * need: stored entries, already-compressed videos gaining nothing from deflate.
 */
export interface RawZipEntry {
  name: string;
  /** the bytes as they go into the archive (compressed, or not) */
  body: Buffer;
  /** 0 stored, 8 deflate, … */
  method: number;
  /** general-purpose flags; UTF-8 names (0x800) are always set */
  flags?: number;
  crc: number;
  /** the inflated size both headers declare */
  size: number;
}

const DOS_TIME = 0;
const DOS_DATE = ((2024 - 1980) << 9) | (1 << 5) | 1; // 2024-01-01

const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};

export function writeZip(entries: readonly RawZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const common = [
      u16(20),
      u16(0x800 | (e.flags ?? 0)),
      u16(e.method),
      u16(DOS_TIME),
      u16(DOS_DATE),
      u32(e.crc),
      u32(e.body.length),
      u32(e.size),
      u16(name.length),
      u16(0),
    ];
    const local = Buffer.concat([u32(0x04034b50), ...common, name, e.body]);
    // made by: version 2.0, Unix; then comment length, disk, internal and external attributes (all 0), local header offset
    const central = Buffer.concat([u32(0x02014b50), u16(0x0314), ...common, u16(0), u16(0), u16(0), u32(0), u32(offset), name]);
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.concat([u32(0x06054b50), u16(0), u16(0), u16(entries.length), u16(entries.length), u32(cd.length), u32(offset), u16(0)]);
  return Buffer.concat([...locals, cd, end]);
}

/** A zip of stored (uncompressed) entries. */
export function storedZip(entries: ReadonlyArray<{ name: string; data: Buffer }>): Buffer {
  return writeZip(entries.map((e) => ({ name: e.name, body: e.data, method: 0, crc: crc32(e.data), size: e.data.length })));
}
