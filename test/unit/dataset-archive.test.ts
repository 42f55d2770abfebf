import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DEFAULT_VALIDATION_LIMITS, isUnsafeEntryName, validateDataset } from '../../src/domain/datasets/validate/index.js';
import type { DatasetFileInput, ValidationLimits } from '../../src/domain/datasets/validate/index.js';
import { makeZip } from '../helpers/zip.js';
import type { ZipEntrySpec } from '../helpers/zip.js';

let seq = 0;
function zipInput(entries: ZipEntrySpec[] | Buffer, contentType = 'application/zip'): DatasetFileInput {
  const bytes = Buffer.isBuffer(entries) ? entries : makeZip(entries);
  const id = `file_zip${++seq}`;
  return { id, filename: `${id}.zip`, bytes: bytes.length, contentType, open: async () => Readable.from([bytes]) };
}

function limits(archive: Partial<ValidationLimits['archive']> = {}, rest: Partial<ValidationLimits> = {}): ValidationLimits {
  return { ...DEFAULT_VALIDATION_LIMITS, ...rest, archive: { ...DEFAULT_VALIDATION_LIMITS.archive, ...archive } };
}

const validate = (files: DatasetFileInput[], l: ValidationLimits = limits()) => validateDataset('archive', files, {}, l);
const zipTempDirs = async () => (await readdir(tmpdir())).filter((n) => n.startsWith('trainyard-zip-'));

describe('archive validator', () => {
  it('reports exact stats for a clean archive and leaves no temp file behind', async () => {
    const before = await zipTempDirs();
    const csv = Buffer.from('a,b\n1,2\n'.repeat(50));
    const res = await validate([
      zipInput([
        { name: 'images/', method: 'store' },
        { name: 'images/cat.PNG', data: Buffer.from('not really a png, the archive kind does not look inside') },
        { name: 'images/dog.png', data: Buffer.alloc(300, 7), method: 'store' },
        { name: 'table.csv', data: csv },
        { name: 'README', data: Buffer.from('hello') },
      ]),
    ]);
    expect(res.errors).toEqual([]);
    expect(res.errorCount).toBe(0);
    const entries = res.stats.entries as { name: string; bytes: number; compressed_bytes: number }[];
    expect(res.stats.entry_count).toBe(4); // directories are not counted as entries of the dataset
    expect(res.stats.extensions).toEqual({ png: 2, csv: 1, '(none)': 1 });
    expect(entries.map((e) => e.name)).toEqual(['images/cat.PNG', 'images/dog.png', 'table.csv', 'README']);
    expect(entries[1]).toEqual({ name: 'images/dog.png', bytes: 300, compressed_bytes: 300 });
    expect(entries[2]!.bytes).toBe(csv.length);
    expect(res.stats.total_uncompressed_bytes).toBe(entries.reduce((s, e) => s + e.bytes, 0));
    expect(res.stats.total_compressed_bytes).toBe(entries.reduce((s, e) => s + e.compressed_bytes, 0));
    expect((await zipTempDirs()).filter((d) => !before.includes(d))).toEqual([]);
  });

  it('catches zip-slip names of every form and keeps checking the safe entries', async () => {
    const hostile = ['../../etc/passwd', '/abs/path', 'a\\..\\b', 'C:/Windows/win.ini', 'ok/../../escape.txt', 'nul\0byte.txt', 'dir\\file.txt'];
    const res = await validate([
      zipInput([
        { name: 'safe/a.txt', data: Buffer.from('x') },
        ...hostile.map((name) => ({ name, data: Buffer.from('x') })),
        { name: 'safe/..dots../b.txt', data: Buffer.from('y') },
      ]),
    ]);
    expect(res.errorCount).toBe(hostile.length);
    expect(res.errors.map((e) => e.entry)).toEqual(hostile);
    expect(res.errors[0]).toEqual({ file_id: expect.stringMatching(/^file_zip/), entry: '../../etc/passwd', message: 'entry "../../etc/passwd": unsafe path' });
    expect(res.stats.entry_count).toBe(2); // only the two safe files
  });

  it('classifies names with the same rules the validator uses', () => {
    for (const bad of ['', '..', '../x', 'a/../b', '/x', 'c:x', 'a\\b', 'a\0b']) expect(isUnsafeEntryName(bad), bad).toBe(true);
    for (const ok of ['a', 'a/b/c.png', '..a', 'a..', 'a/..b/c', 'dir/']) expect(isUnsafeEntryName(ok), ok).toBe(false);
  });

  it('refuses more entries than maxEntries without walking the directory', async () => {
    const many = Array.from({ length: 12 }, (_, i) => ({ name: `f${i}.txt`, data: Buffer.from(String(i)) }));
    const res = await validate([zipInput(many)], limits({ maxEntries: 10 }));
    expect(res.errorCount).toBe(1);
    expect(res.errors[0]!.message).toBe('more than 10 entries in the dataset (this archive has 12)');
    expect(res.stats.entry_count).toBe(0);
  });

  it('counts maxEntries over all archives of the dataset', async () => {
    const six = () => zipInput(Array.from({ length: 6 }, (_, i) => ({ name: `f${i}.txt`, data: Buffer.from('x') })));
    const [a, b] = [six(), six()];
    const res = await validate([a, b], limits({ maxEntries: 10 }));
    expect(res.errors).toEqual([{ file_id: b.id, message: 'more than 10 entries in the dataset (this archive has 6)' }]);
  });

  it('flags an honest high-ratio bomb from its declared sizes', async () => {
    const res = await validate([zipInput([{ name: 'zeros.bin', data: Buffer.alloc(50 * 1024 * 1024) }])]);
    expect(res.errorCount).toBe(1);
    expect(res.errors[0]!.entry).toBe('zeros.bin');
    expect(res.errors[0]!.message).toMatch(/^entry "zeros\.bin": declared compression ratio \d+ exceeds 100 \(zip bomb\)$/);
  });

  it('catches a bomb whose directory lies about its size by counting the real inflated bytes', async () => {
    // Declared 4 KiB (ratio far below the limit), really 50 MiB of zeros.
    const liar = zipInput([
      { name: 'small.txt', data: Buffer.alloc(50 * 1024 * 1024), declaredSize: 4096 },
      { name: 'after.txt', data: Buffer.from('never reached') },
    ]);
    const res = await validate([liar]);
    // One issue, and the archive is abandoned there: the entry after the bomb is never opened.
    expect(res.errorCount).toBe(1);
    expect(res.errors[0]).toEqual({
      file_id: liar.id,
      entry: 'small.txt',
      message: 'entry "small.txt": inflates past its declared size of 4096 bytes (zip bomb)',
    });
    expect(res.stats.entry_count).toBe(1);
  });

  it('aborts when the real inflated total passes maxTotalBytes, across archives', async () => {
    // Incompressible data keeps every ratio near 1: only the running total can trip.
    const entry = (name: string) => ({ name, data: randomBytes(40_000) });
    const first = zipInput([entry('a.bin'), entry('b.bin')]);
    const second = zipInput([entry('c.bin'), entry('d.bin')]);
    const third = zipInput([entry('e.bin')]);
    const res = await validate([first, second, third], limits({ maxTotalBytes: 100_000 }));
    expect(res.errorCount).toBe(1);
    expect(res.errors[0]).toEqual({ file_id: second.id, entry: 'c.bin', message: 'entry "c.bin": the dataset inflates to more than 100000 bytes' });
  });

  it('enforces maxTotalBytes on stored entries too', async () => {
    const res = await validate(
      [
        zipInput([
          { name: 'a.bin', data: Buffer.alloc(600), method: 'store' },
          { name: 'b.bin', data: Buffer.alloc(600), method: 'store' },
        ]),
      ],
      limits({ maxTotalBytes: 1000 }),
    );
    expect(res.errors.map((e) => e.message)).toEqual(['entry "b.bin": the dataset inflates to more than 1000 bytes']);
  });

  it('reports encrypted and undecodable entries', async () => {
    const res = await validate([
      zipInput([
        { name: 'secret.txt', data: Buffer.from('hidden'), method: 'store', encrypted: true },
        { name: 'bz.txt', data: Buffer.from('BZh9...'), method: 'raw', methodId: 12 },
        { name: 'fine.txt', data: Buffer.from('fine') },
      ]),
    ]);
    expect(res.errors.map((e) => e.message)).toEqual([
      'entry "secret.txt": encrypted entries are not supported',
      'entry "bz.txt": unsupported compression method 12',
    ]);
    expect(res.stats.entry_count).toBe(3);
  });

  it('reports content that is not a zip, or a broken one, as issues', async () => {
    const text = zipInput(Buffer.from('a,b\n1,2\n'), 'text/csv');
    const garbage = zipInput(Buffer.from('PK\x03\x04 this is not really a zip at all'));
    const good = makeZip([{ name: 'x.txt', data: Buffer.from('x'.repeat(1000)) }]);
    // Corrupt the deflate stream itself (byte after the 30-byte header and 5-byte name).
    const corrupted = Buffer.from(good);
    corrupted.fill(0xff, 35, 45);
    const broken = zipInput(corrupted);
    const res = await validate([text, garbage, broken]);
    expect(res.errorCount).toBe(3);
    expect(res.errors[0]).toEqual({ file_id: text.id, message: 'not a zip archive (content is text/csv)' });
    expect(res.errors[1]!.message).toMatch(/^not a readable zip archive \(/);
    expect(res.errors[2]!.message).toMatch(/^entry "x\.txt": corrupt data \(/);
  });

  it('caps the listed issues at maxErrors while counting all of them', async () => {
    const names = Array.from({ length: 30 }, (_, i) => ({ name: `../evil${i}`, data: Buffer.from('x') }));
    const res = await validate([zipInput(names)], limits({}, { maxErrors: 5 }));
    expect(res.errors).toHaveLength(5);
    expect(res.errorCount).toBe(30);
  });

  it('lists at most 1000 entries in the stats but counts them all', async () => {
    const res = await validate([zipInput(Array.from({ length: 1005 }, (_, i) => ({ name: `f${i}.txt`, method: 'store' as const })))]);
    expect(res.errorCount).toBe(0);
    expect(res.stats.entry_count).toBe(1005);
    expect(res.stats.entries).toHaveLength(1000);
  });

  it('throws, not reports, when a file cannot be read', async () => {
    const broken: DatasetFileInput = {
      id: 'file_io',
      filename: 'x.zip',
      bytes: 10,
      contentType: 'application/zip',
      open: async () =>
        new Readable({
          read() {
            this.destroy(Object.assign(new Error('disk on fire'), { code: 'EIO', syscall: 'read' }));
          },
        }),
    };
    await expect(validate([broken])).rejects.toThrow('disk on fire');
  });
});
