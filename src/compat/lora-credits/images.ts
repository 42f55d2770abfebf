import { AppError, ValidationError } from '../../errors.js';
import type { Services } from '../../services.js';
import type { SessionImage } from './queries.js';
import { FORMATS, MAX_IMAGES, MIN_IMAGES } from './schemas.js';

/** What a request says about one image: its URL, and optionally a file name and a format. */
export interface ImageRef {
  url: string;
  filename?: string | undefined;
  format?: string | undefined;
}

const FORMAT_OF_TYPE: Record<string, SessionImage['format']> = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp' };
const CONTENT_CODES = ['UNSUPPORTED_FILE_TYPE', 'FILE_TYPE_MISMATCH', 'EMPTY_FILE'];

export const invalidFormat = (message: string, details?: unknown) => new AppError('INVALID_IMAGE_FORMAT', message, { status: 400, details });

/** 10-30 distinct images (a URL given twice is one image), or INVALID_IMAGE_COUNT (400). */
export function checkCount(n: number): void {
  if (n < MIN_IMAGES || n > MAX_IMAGES)
    throw new AppError('INVALID_IMAGE_COUNT', `${MIN_IMAGES}-${MAX_IMAGES} training images are required; got ${n}`, {
      status: 400,
      details: { min: MIN_IMAGES, max: MAX_IMAGES, count: n },
    });
}

/** The extension of a name or of a URL's last path segment, lower-case; null without one. */
function extension(name: string): string | null {
  const m = /\.([A-Za-z0-9]{1,10})$/.exec(name);
  return m ? m[1]!.toLowerCase() : null;
}

function urlPath(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname);
  } catch {
    return url;
  }
}

/**
 * What the request declares, before anything is fetched: a `format`, a file name's extension or
 * the URL's extension outside jpg/jpeg/png/webp is refused (a .gif never gets fetched). The
 * bytes are checked once fetched (importImages).
 */
export function checkDeclared(images: ImageRef[]): void {
  const bad: Array<{ url: string; declared: string }> = [];
  for (const img of images) {
    const declared = [img.format?.toLowerCase() ?? null, img.filename ? extension(img.filename) : null, extension(urlPath(img.url))];
    const wrong = declared.find((d) => d !== null && !(FORMATS as readonly string[]).includes(d));
    if (wrong !== undefined && wrong !== null) bad.push({ url: img.url, declared: wrong });
  }
  if (bad.length)
    throw invalidFormat(`supported formats: ${FORMATS.join(', ')}; ${bad.length} image(s) are not (${bad[0]!.url} is ${bad[0]!.declared})`, {
      images: bad.slice(0, MAX_IMAGES),
      accepted: FORMATS,
    });
}

/**
 * Imports the URLs as the user's files (FilesService.importUrls: SSRF-guarded, size-limited,
 * sniffed). All or nothing: if any image fails to fetch or is not a JPEG, PNG or WebP by its
 * bytes, the ones already stored are deleted and the request is refused (400).
 */
export async function importImages(s: Services, ownerId: string, images: ImageRef[]): Promise<SessionImage[]> {
  const results = await s.files.importUrls(
    ownerId,
    images.map((i) => i.url),
  );
  const stored = results.flatMap((r) => (r.status === 'imported' ? [r.file] : []));
  const notImage = stored.filter((f) => !FORMAT_OF_TYPE[f.content_type]);
  const failed = results.flatMap((r) => (r.status === 'failed' ? [{ url: r.url, ...r.error }] : []));
  if (failed.length || notImage.length) {
    await Promise.all(stored.map((f) => s.files.delete(ownerId, f.id).catch(() => {})));
    const byContent = failed.filter((f) => CONTENT_CODES.includes(f.code));
    if (notImage.length || byContent.length)
      throw invalidFormat(`supported formats: ${FORMATS.join(', ')}; ${notImage.length + byContent.length} image(s) are something else by their content`, {
        images: [
          ...notImage.map((f) => ({ url: f.source_url, content_type: f.content_type })),
          ...byContent.map((f) => ({ url: f.url, code: f.code, message: f.message })),
        ].slice(0, MAX_IMAGES),
      });
    throw new ValidationError('IMAGE_FETCH_FAILED', `${failed.length} image(s) could not be fetched: ${failed[0]!.url}: ${failed[0]!.message}`, {
      images: failed.map((f) => ({ url: f.url, code: f.code, message: f.message })).slice(0, MAX_IMAGES),
    });
  }
  return results.map((r, i) => {
    if (r.status !== 'imported') throw new Error('unreachable');
    return {
      url: r.url,
      file_id: r.file.id,
      filename: images[i]!.filename ?? r.file.filename,
      bytes: r.file.bytes,
      format: FORMAT_OF_TYPE[r.file.content_type]!,
    };
  });
}
