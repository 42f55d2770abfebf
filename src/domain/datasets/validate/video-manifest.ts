import path from 'node:path/posix';
import { Readable } from 'node:stream';
import { CsvError } from 'csv-parse';
import { parse } from 'csv-parse/sync';
import { readLines } from './jsonl.js';
import type { IssueList } from './types.js';

/** A video-set's manifest: exactly one, by this name (any case). */
export const MANIFEST_NAME = /^manifest\.(csv|jsonl)$/i;
export const VIDEO_EXTENSIONS = ['mp4', 'webm', 'mov', 'mkv'] as const;

/** A manifest lists files and short texts; one this large is not a manifest. */
export const MANIFEST_MAX_BYTES = 16 * 1024 * 1024;

export interface ManifestRow {
  /** 1-based physical line of the manifest */
  line: number;
  /** as written, relative to the manifest's folder */
  file: string;
  label?: string;
  caption?: string;
}

export interface Manifest {
  rows: ManifestRow[];
  columns: string[];
}

/** Where issues about the manifest point: the uploaded file, and the zip entry when inside one. */
export interface ManifestPlace {
  file_id: string;
  entry?: string;
}

export const extensionOf = (name: string): string => {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
};

/** The row's path, cleaned; null where it could point outside the manifest's folder. */
export function safeRelative(file: string): string | null {
  if (file.includes('\\') || file.includes('\0') || file.startsWith('/') || /^[a-zA-Z]:/.test(file)) return null;
  const norm = path.normalize(file);
  return norm === '.' || norm.startsWith('../') || norm === '..' ? null : norm;
}

type Raw = { line: number; fields: Record<string, unknown> };

function csvRows(text: string, at: ManifestPlace, issues: IssueList): { columns: string[]; raws: Raw[] } | null {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, relax_column_count: true, info: true, skip_empty_lines: false }) as unknown as typeof records;
  } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    const line = (err as CsvError & { lines?: number }).lines ?? 1;
    issues.add({ ...at, line, code: 'MANIFEST_BAD_LINE', message: `manifest line ${line}: ${err.message}` });
    return null;
  }
  const nonBlank = records.filter((r) => !(r.record.length === 1 && r.record[0]!.trim() === ''));
  const head = nonBlank.shift();
  if (!head) return { columns: [], raws: [] };
  const columns = head.record.map((c) => c.trim().toLowerCase());
  const raws = nonBlank.map((r) => ({ line: r.info.lines, fields: Object.fromEntries(columns.map((c, i) => [c, r.record[i]])) }));
  return { columns, raws };
}

async function jsonlRows(data: Buffer, at: ManifestPlace, issues: IssueList, maxLineBytes: number): Promise<{ columns: string[]; raws: Raw[] }> {
  const raws: Raw[] = [];
  const columns = new Set<string>();
  for await (const l of readLines(Readable.from([data]), maxLineBytes)) {
    if (l.text === undefined) {
      issues.add({ ...at, line: l.line, code: 'MANIFEST_BAD_LINE', message: `manifest line ${l.line}: ${l.problem}` });
      continue;
    }
    if (l.text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(l.text);
    } catch {
      issues.add({ ...at, line: l.line, code: 'MANIFEST_BAD_LINE', message: `manifest line ${l.line}: not valid JSON` });
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.add({ ...at, line: l.line, code: 'MANIFEST_BAD_LINE', message: `manifest line ${l.line}: expected a JSON object` });
      continue;
    }
    const fields = Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toLowerCase(), v]));
    Object.keys(fields).forEach((k) => columns.add(k));
    raws.push({ line: l.line, fields });
  }
  return { columns: [...columns], raws };
}

/** A cell as text: strings trimmed, numbers kept (a label 3 is the class "3"), anything else absent. */
function text(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

/**
 * Reads a manifest into rows, adding an issue (with its code and line) for each row that is
 * not usable; returns null when the manifest as a whole cannot be used.
 */
export async function parseManifest(name: string, data: Buffer, at: ManifestPlace, issues: IssueList, maxLineBytes: number): Promise<Manifest | null> {
  if (data.length > MANIFEST_MAX_BYTES) {
    issues.add({ ...at, code: 'MANIFEST_TOO_LARGE', message: `${name} is larger than ${MANIFEST_MAX_BYTES} bytes` });
    return null;
  }
  const isCsv = name.toLowerCase().endsWith('.csv');
  const parsed = isCsv ? csvRows(data.toString('utf8'), at, issues) : await jsonlRows(data, at, issues, maxLineBytes);
  if (!parsed) return null;
  const { columns, raws } = parsed;
  if (raws.length === 0) {
    issues.add({ ...at, code: 'MANIFEST_EMPTY', message: `${name} lists no videos` });
    return null;
  }
  // A JSONL manifest has no header: its "columns" are the keys its lines use.
  if (!columns.includes('file')) {
    issues.add({ ...at, ...(isCsv ? { line: 1 } : {}), code: 'MANIFEST_NO_FILE_COLUMN', message: `${name} needs a "file" ${isCsv ? 'column' : 'key'}` });
    return null;
  }
  if (!columns.includes('label') && !columns.includes('caption')) {
    issues.add({
      ...at,
      ...(isCsv ? { line: 1 } : {}),
      code: 'MANIFEST_NO_TARGET_COLUMN',
      message: `${name} needs a "label" or a "caption" ${isCsv ? 'column' : 'key'}`,
    });
    return null;
  }
  const rows: ManifestRow[] = [];
  for (const { line, fields } of raws) {
    const file = text(fields.file);
    const label = text(fields.label);
    const caption = text(fields.caption);
    if (file === undefined) {
      issues.add({ ...at, line, code: 'ROW_NO_FILE', message: `manifest line ${line}: no file` });
      continue;
    }
    if (label === undefined && caption === undefined) {
      issues.add({ ...at, line, code: 'ROW_NO_TARGET', message: `manifest line ${line}: "${file}" has neither a label nor a caption` });
      continue;
    }
    rows.push({ line, file, ...(label !== undefined ? { label } : {}), ...(caption !== undefined ? { caption } : {}) });
  }
  return { rows, columns: ['file', 'label', 'caption'].filter((c) => columns.includes(c)) };
}
