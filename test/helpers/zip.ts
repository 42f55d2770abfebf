import { crc32, deflateRawSync } from 'node:zlib';
import { writeZip } from '../../src/samples/zip.js';

/**
 * Zips for tests, hostile ones included: real zip libraries refuse to write what the validators
 * must catch (unsafe names, lying sizes, fake encryption), so this says what goes into each
 * header and src/samples/zip.ts writes it byte for byte.
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

export function makeZip(entries: readonly ZipEntrySpec[]): Buffer {
  return writeZip(
    entries.map((e) => {
      const data = e.data ?? Buffer.alloc(0);
      const method = e.method ?? 'deflate';
      let body = method === 'deflate' ? deflateRawSync(data) : data;
      if (e.encrypted && method === 'store') body = Buffer.concat([Buffer.alloc(12), body]); // the 12-byte encryption header
      return {
        name: e.name,
        body,
        method: method === 'store' ? 0 : method === 'deflate' ? 8 : (e.methodId ?? 12),
        flags: e.encrypted ? 0x1 : 0,
        crc: crc32(data),
        size: e.declaredSize ?? data.length,
      };
    }),
  );
}
