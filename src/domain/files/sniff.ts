import { fileTypeFromBuffer } from 'file-type';
import { UnsupportedMediaError } from '../../errors.js';

/** Bytes read to decide a type: enough for every magic number file-type knows, and a text sample. */
export const SNIFF_BYTES = 8192;

export const ACCEPTED_TYPES = [
  'image/jpeg',
  'image/png',
  'image/webp',
  'application/zip',
  'text/csv',
  'application/x-ndjson',
  'application/json',
  'text/plain',
  'video/mp4',
  'video/quicktime',
  'video/webm',
  'video/x-matroska',
] as const;
/** The video containers a video-set dataset takes (.mp4 .mov .webm .mkv). */
export const VIDEO_TYPES = ['video/mp4', 'video/quicktime', 'video/webm', 'video/x-matroska'] as const;
export type AcceptedType = (typeof ACCEPTED_TYPES)[number];

type Family = 'image' | 'archive' | 'text' | 'video';
const FAMILY: Record<AcceptedType, Family> = {
  'image/jpeg': 'image',
  'image/png': 'image',
  'image/webp': 'image',
  'application/zip': 'archive',
  'text/csv': 'text',
  'application/x-ndjson': 'text',
  'application/json': 'text',
  'text/plain': 'text',
  'video/mp4': 'video',
  'video/quicktime': 'video',
  'video/webm': 'video',
  'video/x-matroska': 'video',
};
const EXTENSION_FAMILY: Record<string, Family> = {
  jpg: 'image',
  jpeg: 'image',
  png: 'image',
  webp: 'image',
  zip: 'archive',
  csv: 'text',
  tsv: 'text',
  txt: 'text',
  json: 'text',
  jsonl: 'text',
  ndjson: 'text',
  mp4: 'video',
  mov: 'video',
  webm: 'video',
  mkv: 'video',
};

/** Text detection: valid UTF-8 (allowing a character cut off at the sample's end) and no NUL. */
function isText(head: Buffer, complete: boolean): boolean {
  if (head.includes(0)) return false;
  let sample = head;
  if (!complete) {
    // Drop a trailing partial UTF-8 sequence: back up over continuation bytes to a lead byte.
    let end = head.length;
    let i = end - 1;
    while (i >= 0 && i > end - 4 && (head[i]! & 0xc0) === 0x80) i--;
    if (i >= 0 && head[i]! >= 0xc0) end = i;
    sample = head.subarray(0, end);
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample);
    return true;
  } catch {
    return false;
  }
}

function textType(head: Buffer): AcceptedType {
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  const firstLine =
    text
      .split(/\r?\n/)
      .find((l) => l.trim() !== '')
      ?.trim() ?? '';
  if (firstLine.startsWith('{') && firstLine.endsWith('}')) {
    try {
      JSON.parse(firstLine);
      return 'application/x-ndjson';
    } catch {
      /* a JSON document spread over lines, or not JSON */
    }
  }
  if (firstLine.startsWith('{') || firstLine.startsWith('[')) return 'application/json';
  const lines = text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .slice(0, 5);
  const commas = lines.map((l) => (l.match(/,/g) ?? []).length);
  if (lines.length > 0 && commas[0]! > 0 && commas.every((c) => c === commas[0])) return 'text/csv';
  return 'text/plain';
}

type WideEncoding = 'UTF-16LE' | 'UTF-16BE' | 'UTF-32LE' | 'UTF-32BE';

/** A byte-order mark naming a wide encoding; the UTF-32 ones first (FF FE 00 00 starts with FF FE). */
function bomEncoding(h: Buffer): WideEncoding | null {
  if (h.length >= 4 && h[0] === 0xff && h[1] === 0xfe && h[2] === 0 && h[3] === 0) return 'UTF-32LE';
  if (h.length >= 4 && h[0] === 0 && h[1] === 0 && h[2] === 0xfe && h[3] === 0xff) return 'UTF-32BE';
  if (h.length >= 2 && h[0] === 0xff && h[1] === 0xfe) return 'UTF-16LE';
  if (h.length >= 2 && h[0] === 0xfe && h[1] === 0xff) return 'UTF-16BE';
  return null;
}

/**
 * Wide text without a BOM: mostly-Latin text in UTF-16 has a zero in nearly every other byte
 * (in UTF-32, three of every four), always at the same offsets. Only asked once the bytes are
 * neither a known format nor UTF-8, so a binary file that happens to hold many zeros is never
 * called text by this alone.
 */
function zeroPatternEncoding(h: Buffer): WideEncoding | null {
  const n = h.length - (h.length % 4);
  if (n < 8) return null;
  const zeros = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) if (h[i] === 0) zeros[i % 4]!++;
  const q = n / 4;
  const mostly = (z: number) => z >= q * 0.9;
  const rarely = (z: number) => z <= q * 0.1;
  const [z0, z1, z2, z3] = zeros as [number, number, number, number];
  if (rarely(z0) && mostly(z1) && mostly(z2) && mostly(z3)) return 'UTF-32LE';
  if (mostly(z0) && mostly(z1) && mostly(z2) && rarely(z3)) return 'UTF-32BE';
  if (rarely(z0) && rarely(z2) && mostly(z1) && mostly(z3)) return 'UTF-16LE';
  if (mostly(z0) && mostly(z2) && rarely(z1) && rarely(z3)) return 'UTF-16BE';
  return null;
}

/** Says what the text is and what to do, rather than misnaming it (UTF-16 often looks like MPEG audio). */
function wideTextError(encoding: WideEncoding): UnsupportedMediaError {
  return new UnsupportedMediaError(
    'TEXT_ENCODING_UNSUPPORTED',
    `content is ${encoding} text; only UTF-8 text is accepted: save the file as UTF-8 and upload it again`,
    { detected: `text (${encoding})`, encoding, required: 'UTF-8' },
  );
}

/**
 * Decides a file's type from its bytes alone. The client's name only serves to catch a
 * mismatch (a ".png" that is text): that is refused rather than silently reinterpreted.
 */
export async function sniff(head: Buffer, totalBytes: number, filename: string): Promise<AcceptedType> {
  if (totalBytes === 0) throw new UnsupportedMediaError('EMPTY_FILE', 'the file is empty');
  const bom = bomEncoding(head);
  if (bom) throw wideTextError(bom);
  const detected = await fileTypeFromBuffer(head);
  let type: AcceptedType;
  if (detected) {
    if (!(ACCEPTED_TYPES as readonly string[]).includes(detected.mime)) {
      const wide = zeroPatternEncoding(head);
      if (wide) throw wideTextError(wide);
      throw new UnsupportedMediaError(
        'UNSUPPORTED_FILE_TYPE',
        `content is ${detected.mime}; accepted: JPEG, PNG, WebP, ZIP, video (MP4, MOV, WebM, MKV) and UTF-8 text (CSV, JSON Lines)`,
        {
          detected: detected.mime,
        },
      );
    }
    type = detected.mime as AcceptedType;
  } else if (isText(head, head.length >= totalBytes)) {
    type = textType(head);
  } else {
    const wide = zeroPatternEncoding(head);
    if (wide) throw wideTextError(wide);
    throw new UnsupportedMediaError(
      'UNSUPPORTED_FILE_TYPE',
      'content is binary of an unknown type; accepted: JPEG, PNG, WebP, ZIP, video (MP4, MOV, WebM, MKV) and UTF-8 text (CSV, JSON Lines)',
      { detected: 'application/octet-stream' },
    );
  }
  const ext = /\.([a-z0-9]{1,8})$/i.exec(filename)?.[1]?.toLowerCase();
  const claimed = ext ? EXTENSION_FAMILY[ext] : undefined;
  if (claimed && claimed !== FAMILY[type]) {
    throw new UnsupportedMediaError('FILE_TYPE_MISMATCH', `the name says .${ext} but the content is ${type}`, { extension: ext, detected: type });
  }
  return type;
}
