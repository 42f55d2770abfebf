import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IssueList } from './types.js';
import type { DatasetFileInput, DatasetOptions, ValidationLimits, ValidationResult } from './types.js';

type ImageFormat = 'png' | 'jpeg' | 'webp';
const FORMAT_OF_TYPE: Record<string, ImageFormat> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/webp': 'webp' };

/**
 * Images up to this size are handed to sharp as a buffer. A larger one is spilled to a temp
 * file instead: libvips then reads only the header from disk, whereas a header-only prefix
 * buffer is not enough (libwebp refuses a truncated WebP outright).
 */
const IN_MEMORY_BYTES = 8 * 1024 * 1024;

/**
 * sharp's own default `limitInputPixels`: an image past it fails to decode in the trainer, and
 * a tiny PNG can declare such a size (a decompression bomb), so it is refused up front.
 */
const MAX_PIXELS = 0x3fff * 0x3fff;

/** Metadata reads are mostly IO waits and libvips runs off the main thread; a few at once pays. */
const CONCURRENCY = 4;

type Outcome = { ok: true; format: ImageFormat; width: number; height: number } | { ok: false; message: string };

/** Buffers a small stream whole, or spills a large one to disk; either way memory stays bounded. */
async function withImageInput<T>(stream: Readable, use: (input: Buffer | string) => Promise<T>): Promise<T> {
  const head: Buffer[] = [];
  let size = 0;
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  for (let r = await it.next(); !r.done; r = await it.next()) {
    head.push(r.value);
    size += r.value.length;
    if (size > IN_MEMORY_BYTES) {
      const dir = await mkdtemp(join(tmpdir(), 'trainyard-img-'));
      try {
        const path = join(dir, 'image');
        async function* rest(): AsyncGenerator<Buffer> {
          yield* head;
          head.length = 0;
          for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
        }
        await pipeline(rest(), createWriteStream(path));
        return await use(path);
      } finally {
        stream.destroy();
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  return use(Buffer.concat(head, size));
}

async function inspect(file: DatasetFileInput): Promise<Outcome> {
  const declared = FORMAT_OF_TYPE[file.contentType];
  if (declared === undefined) return { ok: false, message: `not an image (content is ${file.contentType})` };

  const stream = await file.open();
  return withImageInput(stream, async (input) => {
    // Any failure to read the header is a property of the bytes, not a bug of ours. sharp's
    // pixel limit is lifted here only so the check below can name the dimensions.
    // Imported here, not at the top: loading sharp (libvips) costs every start-up ~70 ms, and
    // only an image dataset needs it (issue #15, target 6).
    const { default: sharp } = await import('sharp');
    const meta = await sharp(input, { limitInputPixels: false })
      .metadata()
      .catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
    if (meta instanceof Error) return { ok: false, message: `not a decodable image (${meta.message.split('\n')[0]})` };
    const format = meta.format as string;
    if (format !== 'png' && format !== 'jpeg' && format !== 'webp') return { ok: false, message: `unsupported image format "${format}"` };
    const { width, height } = meta;
    if (!width || !height) return { ok: false, message: 'not a decodable image (no dimensions in its header)' };
    if (width * height > MAX_PIXELS) return { ok: false, message: `image is ${width}x${height}, more than ${MAX_PIXELS} pixels` };
    return { ok: true, format, width, height };
  });
}

/** Runs `fn` over `items` with bounded concurrency, keeping results in input order. */
export async function mapOrdered<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export async function validateImageSet(files: readonly DatasetFileInput[], _options: DatasetOptions, limits: ValidationLimits): Promise<ValidationResult> {
  const issues = new IssueList(limits.maxErrors);
  const over = files[limits.maxImages];
  if (over) {
    issues.add({ file_id: over.id, message: `more than ${limits.maxImages} images in the dataset (${files.length})` });
  }
  // Files past the limit are not inspected: the dataset is refused anyway, and the limit is
  // what bounds the work a single request can cause.
  const outcomes = await mapOrdered(files.slice(0, limits.maxImages), CONCURRENCY, inspect);

  const formats: Record<ImageFormat, number> = { png: 0, jpeg: 0, webp: 0 };
  let count = 0;
  let minW = Infinity;
  let maxW = 0;
  let minH = Infinity;
  let maxH = 0;
  outcomes.forEach((o, i) => {
    if (!o.ok) {
      issues.add({ file_id: files[i]!.id, message: o.message });
      return;
    }
    count++;
    formats[o.format]++;
    minW = Math.min(minW, o.width);
    maxW = Math.max(maxW, o.width);
    minH = Math.min(minH, o.height);
    maxH = Math.max(maxH, o.height);
  });

  return issues.result({
    image_count: count,
    formats,
    // JSON has no Infinity: with no readable image the extremes are null, not a made-up 0.
    min_width: count ? minW : null,
    max_width: count ? maxW : null,
    min_height: count ? minH : null,
    max_height: count ? maxH : null,
  });
}
