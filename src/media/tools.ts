import { constants } from 'node:fs';
import { access, chmod, copyFile, lstat, mkdir, rename, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AppError } from '../errors.js';

/**
 * ffprobe and ffmpeg come from npm (@ffprobe-installer/ffprobe, @ffmpeg-installer/ffmpeg): the
 * binaries ship inside their per-platform packages, so nothing is downloaded at run time and
 * no system install is needed.
 */
export type MediaTool = 'ffprobe' | 'ffmpeg';

const PACKAGES: Record<MediaTool, string> = { ffprobe: '@ffprobe-installer/ffprobe', ffmpeg: '@ffmpeg-installer/ffmpeg' };

/**
 * The tool is not installed for this platform: a setup problem of this server, not the
 * client's (503). The client sees what is missing; the log (cause) says what to do.
 */
export class MediaToolMissingError extends AppError {
  constructor(tool: MediaTool, detail: string) {
    super('MEDIA_TOOL_MISSING', `${tool} is not available on this server; an operator must install it`, { status: 503, cause: new Error(detail) });
  }
}

const resolved = new Map<MediaTool, Promise<string>>();

/** The path of an executable copy of the tool; resolved once per process. */
export function mediaTool(tool: MediaTool): Promise<string> {
  let p = resolved.get(tool);
  if (!p) {
    p = locate(tool);
    // A failure is not cached: installing the package fixes it without a restart.
    p.catch(() => resolved.delete(tool));
    resolved.set(tool, p);
  }
  return p;
}

async function locate(tool: MediaTool): Promise<string> {
  let binary: string;
  let version: string;
  try {
    // The packages are CommonJS and throw at require time on an unsupported platform.
    ({ path: binary, version } = createRequire(import.meta.url)(PACKAGES[tool]) as { path: string; version: string });
  } catch (err) {
    throw new MediaToolMissingError(tool, `${String((err as Error)?.message ?? err)}; run npm ci (${PACKAGES[tool]} ships the binary)`);
  }
  try {
    await access(binary, constants.X_OK);
    return binary;
  } catch {
    return executableCopy(tool, binary, version);
  }
}

/**
 * The platform packages make their binary executable in a postinstall script (`chmod u+x`),
 * and some ship it without the exec bit; installs that skip scripts (npm --ignore-scripts,
 * npm 11's allowScripts) leave it unrunnable. Rather than write into node_modules, the binary
 * is copied once into a private folder of this user, made executable there.
 */
async function executableCopy(tool: MediaTool, binary: string, version: string): Promise<string> {
  const uid = process.getuid?.() ?? 0;
  const dir = path.join(tmpdir(), `trainyard-bin-${uid}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // A folder someone else made (or opened up) in the shared temp dir could swap the binary.
  const info = await lstat(dir);
  if (!info.isDirectory() || (process.getuid && info.uid !== uid) || (info.mode & 0o022) !== 0)
    throw new MediaToolMissingError(tool, `${dir} is not a private folder of this user; remove it, or reinstall with npm install scripts enabled`);
  const src = await stat(binary);
  // Named by version and size: installs of the same package share one copy, an upgrade gets its own.
  const target = path.join(dir, `${tool}-${String(version).replace(/[^\w.-]/g, '_')}-${src.size}`);
  try {
    await access(target, constants.X_OK);
    if ((await stat(target)).size === src.size) return target;
  } catch {
    /* not copied yet */
  }
  // Copied under a unique name and renamed: another process never sees a half-written file.
  const part = `${target}.${process.pid}.${Date.now()}.part`;
  await copyFile(binary, part);
  await chmod(part, 0o700);
  await rename(part, target);
  return target;
}
