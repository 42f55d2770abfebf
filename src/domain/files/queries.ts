import type { Queryable } from '../../db/db.js';
import { cursorTime } from '../../ids.js';

export interface FileRow {
  id: string;
  owner_id: string;
  status: 'pending' | 'ready';
  filename: string;
  storage_key: string;
  bytes: number | null;
  sha256: string | null;
  content_type: string | null;
  expected_bytes: number | null;
  expected_sha256: string | null;
  source: 'upload' | 'presigned' | 'import';
  source_url: string | null;
  created_at: Date;
  expires_at: Date | null;
}

const COLS =
  'id, owner_id, status, filename, storage_key, bytes, sha256, content_type, expected_bytes, expected_sha256, source, source_url, created_at, expires_at';

export async function insertReadyFile(
  db: Queryable,
  f: Pick<FileRow, 'id' | 'owner_id' | 'filename' | 'storage_key' | 'bytes' | 'sha256' | 'content_type' | 'source' | 'source_url'>,
): Promise<FileRow> {
  const { rows } = await db.query<FileRow>(
    `insert into files (id, owner_id, status, filename, storage_key, bytes, sha256, content_type, source, source_url)
     values ($1, $2, 'ready', $3, $4, $5, $6, $7, $8, $9) returning ${COLS}`,
    [f.id, f.owner_id, f.filename, f.storage_key, f.bytes, f.sha256, f.content_type, f.source, f.source_url],
  );
  return rows[0]!;
}

export async function insertPendingFile(
  db: Queryable,
  f: Pick<FileRow, 'id' | 'owner_id' | 'filename' | 'storage_key' | 'expected_bytes' | 'expected_sha256' | 'expires_at'>,
): Promise<FileRow> {
  const { rows } = await db.query<FileRow>(
    `insert into files (id, owner_id, status, filename, storage_key, expected_bytes, expected_sha256, source, expires_at)
     values ($1, $2, 'pending', $3, $4, $5, $6, 'presigned', $7) returning ${COLS}`,
    [f.id, f.owner_id, f.filename, f.storage_key, f.expected_bytes, f.expected_sha256, f.expires_at],
  );
  return rows[0]!;
}

/** Completing twice is harmless: only a pending row changes. */
export async function markReady(
  db: Queryable,
  ownerId: string,
  id: string,
  f: { bytes: number; sha256: string; content_type: string },
): Promise<FileRow | null> {
  const { rows } = await db.query<FileRow>(
    `update files set status = 'ready', bytes = $3, sha256 = $4, content_type = $5, expires_at = null
      where id = $1 and owner_id = $2 and status = 'pending' returning ${COLS}`,
    [id, ownerId, f.bytes, f.sha256, f.content_type],
  );
  return rows[0] ?? null;
}

export async function fileById(db: Queryable, ownerId: string, id: string): Promise<FileRow | null> {
  const { rows } = await db.query<FileRow>(`select ${COLS} from files where id = $1 and owner_id = $2`, [id, ownerId]);
  return rows[0] ?? null;
}

/** Which upload a signed PUT URL writes to: the key is unique (files_storage_key_key). */
export async function uploadStatusByKey(db: Queryable, storageKey: string): Promise<FileRow['status'] | null> {
  const { rows } = await db.query<{ status: FileRow['status'] }>('select status from files where storage_key = $1', [storageKey]);
  return rows[0]?.status ?? null;
}

export async function readyFilesByIds(db: Queryable, ownerId: string, ids: string[]): Promise<FileRow[]> {
  const { rows } = await db.query<FileRow>(`select ${COLS} from files where owner_id = $1 and id = any($2::text[]) and status = 'ready'`, [ownerId, ids]);
  return rows;
}

export async function listFiles(db: Queryable, ownerId: string, limit: number, after: { t: string; id: string } | null): Promise<FileRow[]> {
  const { rows } = await db.query<FileRow>(
    `select ${COLS}, ${cursorTime()} from files
      where owner_id = $1 and status = 'ready'
        and ($3::timestamptz is null or (created_at, id) < ($3::timestamptz, $4::text))
      order by created_at desc, id desc limit $2`,
    [ownerId, limit + 1, after?.t ?? null, after?.id ?? null],
  );
  return rows;
}

export async function deleteFile(db: Queryable, ownerId: string, id: string): Promise<FileRow | null> {
  const { rows } = await db.query<FileRow>(`delete from files where id = $1 and owner_id = $2 returning ${COLS}`, [id, ownerId]);
  return rows[0] ?? null;
}

/** Presigned uploads never completed: their rows and blobs go. */
export async function deleteExpiredPending(db: Queryable, limit: number): Promise<FileRow[]> {
  const { rows } = await db.query<FileRow>(
    `delete from files where id in (
       select id from files where status = 'pending' and expires_at < now() order by expires_at limit $1
     ) returning ${COLS}`,
    [limit],
  );
  return rows;
}
