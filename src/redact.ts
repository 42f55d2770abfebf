/**
 * Server file-system paths never reach ordinary users (issue #10): an ENOENT message naming a
 * file under DATA_DIR, a base model's folder or a trainer's interpreter tell an attacker how the
 * server is laid out. Client-visible text passes through here where it leaves the server's hands
 * (the error handler, a job's recorded error, catalog entries for non-admins); logs and admins
 * keep the full text.
 *
 * Any absolute POSIX path is replaced, except the API's own routes ("GET /v1/trainers lists
 * them") and URLs (their "//host/…" part is not a local path).
 */
export const REDACTED_PATH = '<server path>';

const API_ROOTS = new Set(['v1', 'blobs', 'docs', 'openapi.json', 'healthz', 'readyz', 'metrics']);
const ABSOLUTE_PATH = /(^|[\s'"`(=:,[{<])(\/(?!\/)[^\s'"`),\]}>]*)/g;

export function redactServerPaths(text: string): string {
  return text.replace(ABSOLUTE_PATH, (whole, before: string, p: string) => {
    const root = p.slice(1).split(/[/?#]/, 1)[0] ?? '';
    return API_ROOTS.has(root) || p === '/' ? whole : `${before}${REDACTED_PATH}`;
  });
}

/** The same for every string in a JSON-like value (error details, a runtime description). */
export function redactServerPathsDeep<T>(value: T): T {
  if (typeof value === 'string') return redactServerPaths(value) as T;
  if (Array.isArray(value)) return value.map(redactServerPathsDeep) as T;
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactServerPathsDeep(v)])) as T;
  return value;
}
