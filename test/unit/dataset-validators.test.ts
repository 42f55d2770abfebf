import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DATASET_KINDS, DEFAULT_VALIDATION_LIMITS, isDatasetKind, validateDataset } from '../../src/domain/datasets/validate/index.js';
import type { DatasetFileInput, DatasetKind, ValidationLimits } from '../../src/domain/datasets/validate/index.js';

let seq = 0;
function input(bytes: Buffer, contentType: string, filename = 'x'): DatasetFileInput {
  const id = `file_img${++seq}`;
  // 64 KiB chunks, like a file read stream.
  const chunks = Array.from({ length: Math.ceil(bytes.length / 65536) }, (_, i) => bytes.subarray(i * 65536, (i + 1) * 65536));
  return { id, filename, bytes: bytes.length, contentType, open: async () => Readable.from(chunks) };
}

const image = (format: 'png' | 'jpeg' | 'webp', width: number, height: number) => {
  const canvas = sharp({ create: { width, height, channels: 3, background: '#f00' } });
  return canvas[format]().toBuffer();
};

const limits = (l: Partial<ValidationLimits> = {}): ValidationLimits => ({ ...DEFAULT_VALIDATION_LIMITS, ...l });
const validateImages = (files: DatasetFileInput[], l: Partial<ValidationLimits> = {}) => validateDataset('image-set', files, {}, limits(l));

describe('validateDataset', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_VALIDATION_LIMITS).toEqual({
      maxImages: 1000,
      maxRows: 1_000_000,
      maxErrors: 20,
      maxLineBytes: 1024 * 1024,
      archive: { maxEntries: 10_000, maxTotalBytes: 1024 ** 3, maxRatio: 100 },
      video: { maxVideos: 1000, maxSeconds: 600, maxTotalBytes: 10 * 1024 ** 3, probeTimeoutMs: 30_000, probeConcurrency: 2 },
    });
  });

  it('knows every kind and refuses an unknown one as a programming error', async () => {
    expect(DATASET_KINDS.every(isDatasetKind)).toBe(true);
    expect(isDatasetKind('video')).toBe(false);
    await expect(validateDataset('video' as DatasetKind, [input(Buffer.from('x'), 'text/plain')])).rejects.toThrow(TypeError);
  });

  it('reports a dataset without files as invalid', async () => {
    for (const kind of DATASET_KINDS) {
      const res = await validateDataset(kind, []);
      expect(res.errorCount, kind).toBe(1);
      expect(res.errors[0]!.message).toBe('the dataset has no files');
    }
  });

  it('dispatches each kind to its own validator', async () => {
    const csv = input(Buffer.from('a,b\n1,x\n2,y\n'), 'text/csv');
    expect((await validateDataset('tabular-csv', [csv])).stats.row_count).toBe(2);
    const chat = input(Buffer.from('{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}\n'), 'application/x-ndjson');
    expect((await validateDataset('chat-jsonl', [chat])).stats.conversation_count).toBe(1);
  });
});

describe('image-set validator', () => {
  it('reports exact formats and dimension extremes for valid images', async () => {
    const files = [
      input(await image('png', 10, 20), 'image/png'),
      input(await image('png', 30, 5), 'image/png'),
      input(await image('jpeg', 40, 40), 'image/jpeg'),
      input(await image('webp', 8, 64), 'image/webp'),
    ];
    const res = await validateImages(files);
    expect(res.errors).toEqual([]);
    expect(res.errorCount).toBe(0);
    expect(res.stats).toEqual({ image_count: 4, formats: { png: 2, jpeg: 1, webp: 1 }, min_width: 8, max_width: 40, min_height: 5, max_height: 64 });
  });

  it('refuses text named like an image, and bytes that do not decode', async () => {
    const text = input(Buffer.from('hello, I am text'), 'text/plain', 'x.png');
    const png = await image('png', 4, 4);
    const garbage = input(Buffer.concat([png.subarray(0, 8), Buffer.from('definitely not an IHDR chunk')]), 'image/png', 'y.png');
    const good = input(png, 'image/png');
    const res = await validateImages([text, garbage, good]);
    expect(res.errorCount).toBe(2);
    expect(res.errors[0]).toEqual({ file_id: text.id, message: 'not an image (content is text/plain)' });
    expect(res.errors[1]!.file_id).toBe(garbage.id);
    expect(res.errors[1]!.message).toMatch(/^not a decodable image/);
    expect(res.stats.image_count).toBe(1);
  });

  it('reports no dimensions rather than made-up ones when nothing is readable', async () => {
    const res = await validateImages([input(Buffer.from('x'), 'text/plain')]);
    expect(res.stats).toEqual({ image_count: 0, formats: { png: 0, jpeg: 0, webp: 0 }, min_width: null, max_width: null, min_height: null, max_height: null });
  });

  it('enforces maxImages and does not inspect files past it', async () => {
    const png = await image('png', 2, 2);
    const files = [input(png, 'image/png'), input(png, 'image/png'), input(Buffer.from('junk'), 'image/png')];
    const res = await validateImages(files, { maxImages: 2 });
    expect(res.errors).toEqual([{ file_id: files[2]!.id, message: 'more than 2 images in the dataset (3)' }]);
    expect(res.stats.image_count).toBe(2);
  });

  it('reads a large image through a temp file, WebP included, and cleans up', async () => {
    const before = (await readdir(tmpdir())).filter((n) => n.startsWith('trainyard-img-'));
    // Trailing bytes past the image end make these larger than the in-memory threshold cheaply.
    const padding = Buffer.alloc(9 * 1024 * 1024);
    const webp = input(Buffer.concat([await image('webp', 33, 17), padding]), 'image/webp');
    const png = input(Buffer.concat([await image('png', 21, 12), padding]), 'image/png');
    const res = await validateImages([webp, png]);
    expect(res.errors).toEqual([]);
    expect(res.stats).toMatchObject({ image_count: 2, formats: { png: 1, jpeg: 0, webp: 1 }, min_width: 21, max_width: 33, min_height: 12, max_height: 17 });
    const after = (await readdir(tmpdir())).filter((n) => n.startsWith('trainyard-img-'));
    expect(after.filter((d) => !before.includes(d))).toEqual([]);
  });

  it('refuses an image whose header declares more pixels than the trainer may decode', async () => {
    // A tiny PNG whose IHDR is patched to 20000x20000 (CRC fixed up): a decompression bomb's header.
    const png = Buffer.from(await image('png', 1, 1));
    png.writeUInt32BE(20000, 16);
    png.writeUInt32BE(20000, 20);
    png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
    const res = await validateImages([input(png, 'image/png')]);
    expect(res.errors.map((e) => e.message)).toEqual([`image is 20000x20000, more than ${0x3fff * 0x3fff} pixels`]);
  });

  it('caps the issue list at maxErrors and counts every issue', async () => {
    const files = Array.from({ length: 8 }, () => input(Buffer.from('nope'), 'text/plain'));
    const res = await validateImages(files, { maxErrors: 3 });
    expect(res.errors.map((e) => e.file_id)).toEqual(files.slice(0, 3).map((f) => f.id));
    expect(res.errorCount).toBe(8);
  });
});
