import { constants } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

async function realRoots(roots: string[]): Promise<string[]> {
  return (await Promise.all(roots.map((r) => realpath(r).catch(() => null)))).filter((r): r is string => r !== null);
}
const inside = (file: string, roots: string[]) => roots.some((r) => file.startsWith(r + path.sep));

/**
 * A file a trainer named in an event (a checkpoint, a sample), as the worker or the launcher may
 * read it: `p` resolved against `base` with its symlinks followed must land inside one of `roots`
 * and be a regular file. The check is on the real path because a lexical one lets a trainer name
 * `ck -> /var/lib/trainyard/...`: the worker, which runs outside the sandbox, would upload what
 * the link points to as the job's checkpoint and hand it to the next attempt. Null otherwise.
 */
export async function jobFile(base: string, p: string, roots: string[]): Promise<{ file: string; bytes: number } | null> {
  return checked(base, p, await realRoots(roots));
}

async function checked(base: string, p: string, real: string[]): Promise<{ file: string; bytes: number } | null> {
  const file = await realpath(path.resolve(base, p)).catch(() => null);
  if (!file || !inside(file, real)) return null;
  const s = await stat(file).catch(() => null);
  return s?.isFile() ? { file, bytes: s.size } : null;
}

/**
 * jobFile, opened, for a reader with more rights than the trainer (the worker, as root, reading
 * a folder the trainer's uid owns). The trainer's processes may still be running while an event
 * is handled, so a folder on the checked path could be swapped for a link between the check and
 * the open: the last name is opened without following a link, and where /proc is there (Linux)
 * the opened file's own path is checked again. The caller reads from, and closes, `handle`.
 */
export async function openJobFile(base: string, p: string, roots: string[]): Promise<{ handle: FileHandle; file: string; bytes: number } | null> {
  const real = await realRoots(roots);
  const found = await checked(base, p, real);
  if (!found) return null;
  const handle = await open(found.file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null);
  if (!handle) return null;
  try {
    const opened = await realpath(`/proc/self/fd/${handle.fd}`).catch(() => found.file);
    const s = await handle.stat();
    if (s.isFile() && inside(opened, real)) return { handle, file: opened, bytes: s.size };
  } catch {
    // Closed below, and refused like any other file that is not the job's.
  }
  await handle.close();
  return null;
}
