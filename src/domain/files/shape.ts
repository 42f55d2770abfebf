import type * as q from './queries.js';

export interface PublicFile {
  id: string;
  filename: string;
  bytes: number;
  sha256: string;
  content_type: string;
  source: string;
  source_url: string | null;
  created_at: string;
}

export function publicFile(f: q.FileRow): PublicFile {
  return {
    id: f.id,
    filename: f.filename,
    bytes: f.bytes ?? 0,
    sha256: f.sha256 ?? '',
    content_type: f.content_type ?? '',
    source: f.source,
    source_url: f.source_url,
    created_at: f.created_at.toISOString(),
  };
}

/**
 * C0 and C1 controls, and the invisible format characters that change how a name reads:
 * bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069; "invoice\u202Efdp.exe"
 * shows as "invoiceexe.pdf"), the directional marks, and line/paragraph separators.
 */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

/** Display names only: no folders, no control or bidi characters, bounded. Storage keys are ours. */
export function cleanFilename(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  const clean = base.replace(CONTROL_CHARS, '').trim().slice(0, 255);
  return clean || 'unnamed';
}

/** Where a file's bytes are stored: one object per file, under its owner. */
export const fileKey = (ownerId: string, id: string) => `files/${ownerId}/${id}`;
