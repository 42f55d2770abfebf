import { crc32, deflateRawSync } from 'node:zlib';

/**
 * A deliberately naive zip writer for tests. Real zip libraries refuse to write the hostile
 * archives the validators must catch (unsafe names, lying sizes, fake encryption), so this one
 * writes whatever it is told, byte for byte per APPNOTE 4.3.7 / 4.3.12 / 4.3.16.
 */
export interface ZipEntrySpec {
  name: string;
  data?: Buffer;
  /** 'deflate' by default; 'raw' stores `data` as-is under `methodId` (e.g. 12, bzip2) */
  method?: 'store' | 'deflate' | 'raw';
  methodId?: number;
  /** Lie in both headers about the inflated size (the central directory is what readers trust). */
  declaredSize?: number;
  /** Set the traditional-encryption flag (the data is not really encrypted). */
  encrypted?: boolean;
}

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

// A fixed DOS timestamp (2024-01-01 00:00) keeps the output deterministic.
const DOS_TIME = 0;
const DOS_DATE = ((2024 - 1980) << 9) | (1 << 5) | 1;

export function makeZip(entries: readonly ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const method = e.method ?? 'deflate';
    const methodId = method === 'store' ? 0 : method === 'deflate' ? 8 : (e.methodId ?? 12);
    let body = method === 'deflate' ? deflateRawSync(data) : data;
    if (e.encrypted && method === 'store') body = Buffer.concat([Buffer.alloc(12), body]); // the 12-byte encryption header
    const name = Buffer.from(e.name, 'utf8');
    const flags = 0x800 | (e.encrypted ? 0x1 : 0);
    const crc = crc32(data);
    const size = e.declaredSize ?? data.length;
    const common = [u16(20), u16(flags), u16(methodId), u16(DOS_TIME), u16(DOS_DATE), u32(crc), u32(body.length), u32(size), u16(name.length), u16(0)];

    const local = Buffer.concat([u32(0x04034b50), ...common, name, body]);
    const central = Buffer.concat([u32(0x02014b50), u16(0x0314), ...common, u16(0), u16(0), u16(0), u32(0), u32(offset), name]);
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.concat([u32(0x06054b50), u16(0), u16(0), u16(entries.length), u16(entries.length), u32(cd.length), u32(offset), u16(0)]);
  return Buffer.concat([...locals, cd, eocd]);
}
