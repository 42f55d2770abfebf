import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * A file a trainer named in an event (a checkpoint, a sample), as the worker or the launcher may
 * read it: `p` resolved against `base` with its symlinks followed must land inside one of `roots`
 * and be a regular file. The check is on the real path because a lexical one lets a trainer name
 * `ck -> /var/lib/trainyard/...`: the worker, which runs outside the sandbox, would upload what
 * the link points to as the job's checkpoint and hand it to the next attempt. Null otherwise.
 */
export async function jobFile(base: string, p: string, roots: string[]): Promise<{ file: string; bytes: number } | null> {
  const real = await Promise.all(roots.map((r) => realpath(r).catch(() => null)));
  const file = await realpath(path.resolve(base, p)).catch(() => null);
  if (!file || !real.some((r) => r !== null && file.startsWith(r + path.sep))) return null;
  const s = await stat(file).catch(() => null);
  return s?.isFile() ? { file, bytes: s.size } : null;
}
