import { REDACTED_PATH, redactServerPaths, redactServerPathsDeep } from '../../redact.js';

/**
 * What a caller sees of catalog entries: admins everything, ordinary users no server paths
 * (issue #10). Workers and the stager keep using the full entries from the service.
 */
export function trainerView<T extends { runtime?: unknown; unavailable_reason?: string | null }>(t: T, admin: boolean): T {
  if (admin) return t;
  return {
    ...t,
    ...(t.runtime === undefined ? {} : { runtime: redactServerPathsDeep(t.runtime) }),
    ...(typeof t.unavailable_reason === 'string' ? { unavailable_reason: redactServerPaths(t.unavailable_reason) } : {}),
  };
}

export function baseModelView<M extends { source: string; local_path: string | null }>(m: M, admin: boolean): M {
  if (admin) return m;
  // A file:// URI (the filesystem store) is a server path too; an s3:// one is not.
  const source = m.source.startsWith('file:') ? `file://${REDACTED_PATH}` : redactServerPaths(m.source);
  return { ...m, source, local_path: null };
}
